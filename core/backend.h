// Backend: where queues, statuses, workers, stats and failures live. The one interface between
// resque-cpp's core and its storage; the Redis backend and the in-memory backend implement it.
//
// It speaks job-queue verbs, not Redis primitives, so that one step of the worker (start a job,
// finish a job) is one call, which the Redis backend makes in one round trip. Values are the raw
// JSON strings of docs/wire-format.md; encoding and decoding them is core's job (payload.h,
// status.h, failure.h). No Redis type, key name or error appears here.
//
//   std::unique_ptr<resque::Backend> backend = ...;  // see backends/backend_factory.h
//   RESQUE_RETURN_IF_ERROR(backend->Push("mail", payload_json));
//   absl::StatusOr<std::optional<resque::ReservedJob>> job =
//       backend->Reserve({"high", "mail"}, absl::Seconds(5));
//
// Every method is thread-safe. Every method that talks to a server returns Unavailable when the
// server cannot be reached, and never blocks much longer than its wait or the backend's timeout.
// A key of the wrong type (written by someone else) is FailedPrecondition. Bad arguments (an
// empty queue name, a negative index) are InvalidArgument.
#ifndef RESQUE_CORE_BACKEND_H_
#define RESQUE_CORE_BACKEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/status_macros.h"

namespace resque {

// A payload taken off a queue by Reserve.
struct ReservedJob {
  std::string queue;
  std::string payload;  // the raw JSON item, exactly as it was stored
};

// (Every member of these structs has an initializer so that designated initializers may leave
// any of them out under -Wextra.)

// Which jobs RemoveJobs removes: php-resque's Resque::dequeue. A job matches when its class is
// `class_name` and, when given, its id is `id` and its args are `args` (JSON, compared as
// values: whitespace and object key order do not matter).
struct JobFilter {
  std::string class_name;
  std::optional<std::string> id = std::nullopt;
  std::optional<std::string> args = std::nullopt;
};

// What a worker records as it begins a job: one call, one round trip.
struct JobStart {
  std::string worker_id = {};
  std::string working_json = {};  // {"queue":..,"run_at":..,"payload":{..}}
  std::string job_id = {};        // empty when the job has no id: then no status is touched
  std::string status_json = {};   // written only if the job's status key exists (a tracked job)
  // The other jobs of a batch (ReserveInFlightMany), marked running with status_json as well.
  std::vector<std::string> other_job_ids = {};
};

// What a worker records as it ends a job: one call, one round trip.
struct JobFinish {
  std::string worker_id = {};
  std::string job_id = {};       // empty when the job has no id: then no status is touched
  std::string status_json = {};  // written only if the status key exists, then expires after...
  absl::Duration status_ttl = absl::Hours(24);
  bool failed = false;
  std::string failure_json = {};  // appended to the failure list when `failed`
  // The job as ReserveInFlight returned it: its payload leaves the worker's in-flight list in
  // the same step. nullopt for a job taken by Reserve.
  std::optional<ReservedJob> in_flight = std::nullopt;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- Queues ----

  // Appends `payload` to the tail of `queue` and adds the queue to the set of known queues.
  virtual absl::Status Push(std::string_view queue, std::string_view payload) = 0;

  // Appends every payload, in order, as one operation (one round trip on Redis).
  virtual absl::Status PushMany(std::string_view queue, absl::Span<const std::string> payloads) = 0;

  // Takes the oldest payload of the first non-empty queue of `queues` (priority order). With a
  // zero `wait` it returns at once; otherwise it parks until a payload is pushed to any of the
  // queues or `wait` passes. Returns nullopt when nothing was found in time. An empty `queues`
  // is InvalidArgument.
  virtual absl::StatusOr<std::optional<ReservedJob>> Reserve(absl::Span<const std::string> queues,
                                                             absl::Duration wait) = 0;

  // Number of payloads in `queue`; 0 for a queue that does not exist.
  virtual absl::StatusOr<int64_t> Size(std::string_view queue) = 0;

  // Up to `count` payloads from position `start` (0 = the head, the next to be reserved).
  // Empty past the end or for an unknown queue. Negative `start` or `count` is InvalidArgument.
  virtual absl::StatusOr<std::vector<std::string>> Peek(std::string_view queue, int64_t start,
                                                        int64_t count) = 0;

  // Names of every queue ever pushed to and not removed, sorted.
  virtual absl::StatusOr<std::vector<std::string>> Queues() = 0;

  // Deletes `queue` with its payloads and forgets its name. Removing an unknown queue is OK.
  virtual absl::Status RemoveQueue(std::string_view queue) = 0;

  // Removes every payload of `queue` that matches `filter`, wherever it stands in the queue;
  // keeps the order of the rest. Returns how many were removed. Payloads that do not decode
  // never match.
  virtual absl::StatusOr<int64_t> RemoveJobs(std::string_view queue, const JobFilter& filter) = 0;

  // ---- Statuses ----

  // The status JSON of job `id`; NotFound when it was never tracked or has expired.
  virtual absl::StatusOr<std::string> GetStatus(std::string_view id) = 0;

  // Writes the status JSON of job `id`. With `only_if_exists`, does nothing (and returns OK)
  // when there is no status for `id`. A finite `ttl` makes it expire; InfiniteDuration keeps it.
  virtual absl::Status SetStatus(std::string_view id, std::string_view status_json,
                                 absl::Duration ttl, bool only_if_exists) = 0;

  // ---- Workers ----

  // Adds `worker_id` to the set of workers and records when it started (a date string).
  virtual absl::Status RegisterWorker(std::string_view worker_id, std::string_view started) = 0;

  // Removes the worker with its current job, its start date, its own stats and its heartbeat.
  // Its in-flight jobs stay (RecoverWorker hands them back). Removing an unknown worker is OK.
  virtual absl::Status UnregisterWorker(std::string_view worker_id) = 0;

  // Every registered worker id, sorted.
  virtual absl::StatusOr<std::vector<std::string>> Workers() = 0;

  // The worker's current job JSON (JobStart::working_json); nullopt when it is idle or unknown.
  virtual absl::StatusOr<std::optional<std::string>> WorkerJob(std::string_view worker_id) = 0;

  // When the worker started, as registered; nullopt when unknown.
  virtual absl::StatusOr<std::optional<std::string>> WorkerStarted(std::string_view worker_id) = 0;

  // Marks the worker busy with a job and, for a tracked job, sets its status. A backend may apply
  // it after returning (Redis does not wait for the reply), but always before any later call made
  // from the same thread; a failure to apply it then goes unreported.
  virtual absl::Status StartJob(const JobStart& start) = 0;

  // Ends a job: sets its status (tracked jobs only) with a TTL, counts it in "processed" (and
  // "failed" when it failed) both in total and for the worker, appends the failure record when
  // it failed, and marks the worker idle. All of it or none of it is applied.
  virtual absl::Status FinishJob(const JobFinish& finish) = 0;

  // ---- Reliable reserve and liveness ----
  //
  // A job taken by Reserve exists only in its worker's memory until FinishJob records it: a
  // worker killed in between loses it. ReserveInFlight moves the payload instead into an
  // in-flight list of its owner (a worker slot id) in the same atomic step, FinishJob takes it
  // out, and RecoverWorker hands the jobs of a worker found dead back to their queues. Each
  // worker refreshes a heartbeat so that others can tell it is dead. Backends written before
  // these verbs return Unimplemented; the worker then reserves as before.

  // As Reserve, but the payload also goes, atomically, to the tail of `owner`'s in-flight list,
  // where it stays until FinishJob (with `in_flight` set) or RecoverWorker takes it out. An empty
  // `owner` is InvalidArgument.
  virtual absl::StatusOr<std::optional<ReservedJob>> ReserveInFlight(
      absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner);

  // ---- Batches: several jobs per round trip, for workers whose jobs are short ----

  // As ReserveInFlight, but takes up to `max` jobs (max >= 1), all from the first non-empty
  // queue in `queues`' order, oldest first, into `owner`'s in-flight list. Waits, when it waits,
  // for one job. The default reserves one.
  virtual absl::StatusOr<std::vector<ReservedJob>> ReserveInFlightMany(
      absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner, int max);

  // Ends several jobs of one worker as FinishJob ends each; on Redis in one round trip, all of it
  // or none of it. The default calls FinishJob for each in turn.
  virtual absl::Status FinishJobs(absl::Span<const JobFinish> finishes);

  // Hands jobs that `owner` reserved in flight but will not perform back to the head of their
  // queues, in `jobs`' order (the first first in line), out of the in-flight list, and gives the
  // tracked ones `status_json` (`job_ids`: empty, or one id per job, "" for none; the status is
  // written only if it exists, with no TTL), all in one step. A job no longer in flight
  // (recovered by someone else meanwhile) is left alone, its status too, so nothing is queued
  // twice and no later status is overwritten. Returns how many went back.
  virtual absl::StatusOr<int64_t> Unreserve(std::string_view owner,
                                            absl::Span<const ReservedJob> jobs,
                                            absl::Span<const std::string> job_ids,
                                            std::string_view status_json);

  // The payloads of `owner`'s in-flight list with their queues, oldest first; empty for an
  // unknown owner. Within one queue the order is exact; across queues it is not kept.
  virtual absl::StatusOr<std::vector<ReservedJob>> InFlight(std::string_view owner);

  // Records `beat` (a time, as core/heartbeat.h writes it) as the last sign of life of each of
  // `worker_ids`, in one step.
  virtual absl::Status Heartbeat(absl::Span<const std::string> worker_ids, std::string_view beat);

  // Every worker's last heartbeat, as stored, sorted by worker id.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Heartbeats();

  // Declares `worker_id` dead, in one atomic step: unregisters it as UnregisterWorker does,
  // forgets its heartbeat, and pushes its in-flight payloads back to the head of their queues
  // (the oldest first in line). With `if_heartbeat`, does all that only when the worker's stored
  // heartbeat is still exactly that value: of two workers racing to recover the same dead
  // worker, one does it and the other finds nothing to do, and a worker that beat again
  // meanwhile is left alone. Returns how many payloads went back, or nullopt when the heartbeat
  // did not match.
  virtual absl::StatusOr<std::optional<int64_t>> RecoverWorker(
      std::string_view worker_id, std::optional<std::string> if_heartbeat);

  // ---- Stats ----

  // Adds `by` to counter `name` ("processed", "failed", "processed:<worker id>", ...) and
  // returns the new value.
  virtual absl::StatusOr<int64_t> IncrementStat(std::string_view name, int64_t by) = 0;

  // The counter's value; 0 when it does not exist.
  virtual absl::StatusOr<int64_t> GetStat(std::string_view name) = 0;

  // Deletes the counter.
  virtual absl::Status ClearStat(std::string_view name) = 0;

  // ---- Failures ----

  // Appends a failure record (JSON) to the failure list, the newest last.
  virtual absl::Status PushFailure(std::string_view failure_json) = 0;

  virtual absl::StatusOr<int64_t> FailureCount() = 0;

  // Up to `count` failure records from index `start` (0 = the oldest). Negative arguments are
  // InvalidArgument.
  virtual absl::StatusOr<std::vector<std::string>> Failures(int64_t start, int64_t count) = 0;

  // Replaces the record at `index` (after a retry, with its retried_at set). NotFound when
  // there is no record at `index`.
  virtual absl::Status UpdateFailure(int64_t index, std::string_view failure_json) = 0;

  // Removes the record at `index`; the later ones move up by one. NotFound when there is none.
  virtual absl::Status RemoveFailure(int64_t index) = 0;

  // Removes every failure record.
  virtual absl::Status ClearFailures() = 0;
};

inline absl::StatusOr<std::optional<ReservedJob>> Backend::ReserveInFlight(
    absl::Span<const std::string>, absl::Duration, std::string_view) {
  return absl::UnimplementedError("this backend has no in-flight lists");
}

inline absl::StatusOr<std::vector<ReservedJob>> Backend::ReserveInFlightMany(
    absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner, int max) {
  if (max < 1) return absl::InvalidArgumentError(absl::StrFormat("reserve: max %d < 1", max));
  absl::StatusOr<std::optional<ReservedJob>> job = ReserveInFlight(queues, wait, owner);
  if (!job.ok()) return job.status();
  std::vector<ReservedJob> out;
  if (job->has_value()) out.push_back(**std::move(job));
  return out;
}

inline absl::Status Backend::FinishJobs(absl::Span<const JobFinish> finishes) {
  for (const JobFinish& finish : finishes) {
    RESQUE_RETURN_IF_ERROR(FinishJob(finish));
  }
  return absl::OkStatus();
}

inline absl::StatusOr<int64_t> Backend::Unreserve(std::string_view, absl::Span<const ReservedJob>,
                                                  absl::Span<const std::string>, std::string_view) {
  return absl::UnimplementedError("this backend has no in-flight lists");
}

inline absl::StatusOr<std::vector<ReservedJob>> Backend::InFlight(std::string_view) {
  return absl::UnimplementedError("this backend has no in-flight lists");
}

inline absl::Status Backend::Heartbeat(absl::Span<const std::string>, std::string_view) {
  return absl::UnimplementedError("this backend keeps no heartbeats");
}

inline absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Backend::Heartbeats() {
  return absl::UnimplementedError("this backend keeps no heartbeats");
}

inline absl::StatusOr<std::optional<int64_t>> Backend::RecoverWorker(std::string_view,
                                                                     std::optional<std::string>) {
  return absl::UnimplementedError("this backend cannot recover workers");
}

}  // namespace resque

#endif  // RESQUE_CORE_BACKEND_H_
