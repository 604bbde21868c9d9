// Failure records: what the failure list (`resque:failed`) holds for each failed job, and the
// operations resque-web offers on them (list, retry, remove, clear).
//
//   resque::FailureStore failures(backend);
//   RESQUE_RETURN_IF_ERROR(failures.Retry(0));  // re-enqueues the oldest failure's payload
#ifndef RESQUE_CORE_FAILURE_H_
#define RESQUE_CORE_FAILURE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"

namespace resque {

struct Failure {
  std::string failed_at;  // "2026/11/24 10:00:00 UTC" (Ruby's form; php's is read too)
  std::string payload;    // the payload as JSON; any JSON value when read from a peer
  std::string exception;  // the exception class, or "resque::JobError" for an error status
  std::string error;      // the message
  std::vector<std::string> backtrace;
  std::string worker;
  std::string queue;
  std::optional<std::string> retried_at;
  std::vector<std::pair<std::string, std::string>> extra;  // unknown fields, raw JSON
};

// The most a failure record keeps of what a job said, so that a runaway message (a job's 20 MB
// error) fills neither Redis nor the worker's memory nor its log: longer fields are cut and end
// in "...", lines past the last kept one are counted in a final line.
inline constexpr size_t kMaxFailureExceptionBytes = 256;
inline constexpr size_t kMaxFailureErrorBytes = 8 * 1024;
inline constexpr size_t kMaxBacktraceLines = 100;
inline constexpr size_t kMaxBacktraceLineBytes = 1024;

// The exception, error and backtrace cut to the bounds above.
void BoundFailureText(std::string& exception, std::string& error,
                      std::vector<std::string>& backtrace);

std::string EncodeFailure(const Failure& failure);

// InvalidArgument when `json` is not an object. Missing fields read as empty.
absl::StatusOr<Failure> DecodeFailure(std::string_view json);

// A job's error status that carries backtrace lines: returned from Job::Perform, it becomes a
// failure record whose `backtrace` holds `lines` (resque-web shows them under the error) and
// whose `error` is the status as usual, without the lines.
absl::Status WithBacktrace(absl::Status error, const std::vector<std::string>& lines);
// The lines WithBacktrace attached to `status`; empty when none.
std::vector<std::string> BacktraceOf(const absl::Status& status);
// `status` without the lines WithBacktrace attached, for its message.
absl::Status WithoutBacktrace(absl::Status status);

// "2026/11/24 10:00:00 UTC": the form Ruby resque writes and resque-web parses.
std::string FormatFailedAt(absl::Time t);
// ISO 8601 in UTC, "2026-11-24T10:00:00Z": for run_at and started, which every peer parses.
std::string FormatIsoTime(absl::Time t);

// The failure verbs of a Backend as resque-web offers them. Each takes a `queue`: the job queue
// whose failure list is meant where the backend keeps one per queue (FailureLayout::kPerQueue,
// Ruby's redis_multi_queue), "" with one list. In kPerQueue, Count, RetryAll and Clear without a
// queue work on every queue's list; List, Retry and Remove need one.
class FailureStore {
 public:
  explicit FailureStore(Backend& backend, Clock* clock = RealClock())
      : backend_(backend), clock_(clock) {}

  FailureLayout layout() { return backend_.failure_layout(); }
  // The queues that have a failure list (kPerQueue), sorted; empty with one list.
  absl::StatusOr<std::vector<std::string>> Queues() { return backend_.FailureQueues(); }

  absl::StatusOr<int64_t> Count(std::string_view queue = {});
  // Records from `start`, oldest first; a record that does not decode is an error naming its index.
  absl::StatusOr<std::vector<Failure>> List(int64_t start, int64_t count,
                                            std::string_view queue = {});
  // Pushes the payload of record `index` back on its queue and stamps the record's retried_at.
  // NotFound when there is no such record; FailedPrecondition when it has no payload or queue.
  absl::Status Retry(int64_t index, std::string_view queue = {});
  // Retries every record; returns how many were re-enqueued.
  absl::StatusOr<int64_t> RetryAll(std::string_view queue = {});
  absl::Status Remove(int64_t index, std::string_view queue = {});
  absl::Status Clear(std::string_view queue = {});

 private:
  Backend& backend_;
  Clock* clock_;
};

}  // namespace resque

#endif  // RESQUE_CORE_FAILURE_H_
