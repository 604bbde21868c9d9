// The dashboard's data: what `resque web`'s pages and JSON API, its /metrics and `resque top`
// show, read from any Backend in a bounded number of round trips, and the JSON each API
// endpoint answers (docs/web.md). Values written by peers are taken as they come: a record that
// does not decode is shown raw, never the end of a page.
//
//   absl::StatusOr<resque::web::Snapshot> s = resque::web::TakeSnapshot(backend, absl::Now());
//   std::string body = resque::web::OverviewJson(*s, history);
#ifndef RESQUE_WEB_DASHBOARD_H_
#define RESQUE_WEB_DASHBOARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"

namespace resque::web {

struct QueueView {
  std::string name = {};
  int64_t size = 0;
  std::optional<double> oldest_age = {};  // seconds since the head was enqueued (its queue_time)
  std::string error = {};                 // the key holds another type
};

struct WorkerView {
  std::string id = {};
  std::string host = {};
  std::string pid = {};
  std::vector<std::string> queues = {};
  std::string started = {};
  std::string state = {};  // "busy", "idle" or "paused" (busy wins: a paused worker ends its job)
  bool paused = false;
  std::optional<std::string> job = {};       // the working-on record as stored
  std::optional<double> running_for = {};    // seconds since its run_at
  std::optional<double> heartbeat_age = {};  // seconds since its last heartbeat
  int64_t processed = 0;
  int64_t failed = 0;
};

struct Totals {
  int64_t processed = 0;
  int64_t failed = 0;
  int64_t failed_list = 0;  // records in the failure list(s) now
  int64_t pending = 0;      // jobs in every queue
  int64_t busy = 0;
  int64_t idle = 0;
  int64_t paused = 0;
  int64_t delayed = 0;
  std::optional<double> scheduler_lag = {};  // how long the earliest delayed job has been due
  bool all_paused = false;
};

// One read of everything the overview shows.
struct Snapshot {
  absl::Time now = {};
  Totals totals = {};
  std::vector<QueueView> queues = {};    // sorted by name
  std::vector<WorkerView> workers = {};  // sorted by id
};

// The totals at one moment, for the rates over time.
struct Sample {
  int64_t t = 0;  // unix seconds
  int64_t processed = 0;
  int64_t failed = 0;
};

// About twelve round trips on Redis, however many queues and workers.
absl::StatusOr<Snapshot> TakeSnapshot(Backend& backend, absl::Time now);

// The time a peer's date string means: ISO 8601 (ours, node-resque, Ruby's heartbeat), Ruby's
// Time#to_s ("2026-11-25 14:24:29 +0000"), php-resque's strftime('%a %b %d %H:%M:%S %Z %Y') in
// UTC, or unix seconds. Nullopt for anything else.
std::optional<absl::Time> ParsePeerTime(std::string_view text);

// ---- The API's answers (docs/web.md) ----

std::string TotalsJson(const Totals& totals, size_t queues, size_t workers);
std::string QueuesJson(const Snapshot& snapshot);
std::string WorkersJson(const Snapshot& snapshot);
std::string OverviewJson(const Snapshot& snapshot, const std::vector<Sample>& history);
std::string StatsJson(const Snapshot& snapshot, std::string_view backend_name);

// The largest page any list endpoint returns.
inline constexpr int64_t kMaxPage = 500;

// `GET /api/queues/<name>`.
absl::StatusOr<std::string> QueueJobsJson(Backend& backend, std::string_view queue, int64_t start,
                                          int64_t count);

struct FailedQuery {
  int64_t start = 0;
  int64_t count = 20;
  std::string queue = {};
  std::string job_class = {};
  std::string exception = {};  // a substring of the exception class
};
// `GET /api/failed`.
absl::StatusOr<std::string> FailedJson(Backend& backend, const FailedQuery& query);
// `GET /api/delayed`.
absl::StatusOr<std::string> DelayedJson(Backend& backend, int64_t start, int64_t count);
// `GET /api/schedules`.
absl::StatusOr<std::string> SchedulesJson(Backend& backend, absl::Time now);

// ---- Actions ----

// Removes the jobs of `queue` equal to `payload` in class, id and args (JobFilter).
absl::StatusOr<int64_t> RemoveQueueJob(Backend& backend, std::string_view queue,
                                       std::string_view payload);
// Retries (pushes its payload back, stamps retried_at) or removes the failure record `raw` read
// at `index` of `list`. NotFound when that record is no longer there.
absl::Status RetryFailure(Backend& backend, int64_t index, std::string_view list,
                          std::string_view raw);
absl::Status RemoveFailure(Backend& backend, int64_t index, std::string_view list,
                           std::string_view raw);
// Retries every failure of `queue` and `job_class` (either may be empty); the counts as JSON.
absl::StatusOr<std::string> RetryAllFailures(Backend& backend, std::string_view queue,
                                             std::string_view job_class);
// Clears the failures of `queue`, or all of them: with one list, a queue's records are removed
// one by one.
absl::StatusOr<int64_t> ClearFailures(Backend& backend, std::string_view queue);

}  // namespace resque::web

#endif  // RESQUE_WEB_DASHBOARD_H_
