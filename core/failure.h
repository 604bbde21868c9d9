// Failure records: what the failure list (`resque:failed`) holds for each failed job, and the
// operations resque-web offers on them (list, retry, remove, clear).
//
//   resque::FailureStore failures(backend);
//   RESQUE_RETURN_IF_ERROR(failures.Retry(0));  // re-enqueues the oldest failure's payload
#ifndef RESQUE_CORE_FAILURE_H_
#define RESQUE_CORE_FAILURE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
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

// Which failure records an operation takes: those of job queue `queue` (in kPerQueue, the list
// of that queue; with one list, the records whose "queue" it is) and of job class `job_class`
// (the payload's "class"). An empty field takes every record.
struct FailureFilter {
  std::string queue = {};
  std::string job_class = {};
};

// One record of a failure list as read.
struct FailureEntry {
  std::string list = {};  // the queue whose list holds it (kPerQueue); "" with one list
  int64_t index = 0;      // its index in that list when the walk began: what `list` showed
  int64_t at = 0;         // its index now (records removed before it in the walk moved it up)
  std::string raw = {};   // its bytes
  absl::StatusOr<Failure> failure =
      Failure{};  // why it does not decode, naming its index, when it does not
};

// What RetryAll did with one record it looked at.
enum class RetryOutcome {
  kRetried,         // payload pushed back, record stamped (or removed, with `remove`)
  kAlreadyRetried,  // has a retried_at: left alone without `again`
  kSkipped,         // does not decode, has no payload, queue or valid payload to push, or
                    // its queue key is of the wrong type
  kGone,            // removed or changed by someone else between the read and the retry
};

struct RetryAllOptions {
  FailureFilter filter = {};
  bool remove = false;  // remove each retried record instead of stamping its retried_at
  bool again = false;   // retry records that were retried before too
};

struct RetryAllResult {
  int64_t retried = 0;
  int64_t already_retried = 0;
  int64_t skipped = 0;
  int64_t gone = 0;
};

// The failure verbs of a Backend as resque-web offers them, and the operator's: a record that
// does not decode is reported and stepped over, never the end of a walk. Each takes a `queue`: the
// job queue whose failure list is meant where the backend keeps one per queue
// (FailureLayout::kPerQueue, Ruby's redis_multi_queue), "" with one list. In kPerQueue, Count,
// RetryAll and Clear without a queue work on every queue's list; List, Retry and Remove need one.
class FailureStore {
 public:
  // Called with each record a walk reaches and what was done with it; `reason` says why a
  // record was skipped.
  using RetryReport =
      std::function<void(const FailureEntry&, RetryOutcome outcome, std::string_view reason)>;

  explicit FailureStore(Backend& backend, Clock* clock = RealClock())
      : backend_(backend), clock_(clock) {}

  FailureLayout layout() { return backend_.failure_layout(); }
  // The queues that have a failure list (kPerQueue), sorted; empty with one list.
  absl::StatusOr<std::vector<std::string>> Queues() { return backend_.FailureQueues(); }

  absl::StatusOr<int64_t> Count(std::string_view queue = {});
  // Records from `start`, oldest first; a record that does not decode is an error naming its index.
  absl::StatusOr<std::vector<Failure>> List(int64_t start, int64_t count,
                                            std::string_view queue = {});

  // Calls `visit` with each record `filter` takes and each record that does not decode (which
  // no filter can judge), oldest first, list by list (every queue's in kPerQueue without
  // filter.queue), reading a page at a time. `start` and `count` are a window of each list, by
  // index. Stops at the first error, of the backend or of `visit`.
  absl::Status ForEach(const FailureFilter& filter, int64_t start, int64_t count,
                       const std::function<absl::Status(const FailureEntry&)>& visit);

  // Pushes the payload of record `index` back on its queue and stamps the record's retried_at,
  // or removes it (`remove`), in one step (Backend::EditFailure). `filter` picks the list
  // (kPerQueue) and must take the record (FailedPrecondition if not). Returns the record as read.
  // NotFound when there is no such record or it went meanwhile; DataLoss when it does not
  // decode; FailedPrecondition when it has no payload or queue, or its payload does not decode.
  absl::StatusOr<Failure> Retry(int64_t index, const FailureFilter& filter, bool remove);
  absl::Status Retry(int64_t index, std::string_view queue = {}) {
    return Retry(index, FailureFilter{.queue = std::string(queue)}, false).status();
  }

  // Retries every record `options` take, each as Retry does, and reports each one it looked at
  // (but those the filter leaves) to `report`. Looks at as many records as each list held when
  // its walk began, so that jobs failing again meanwhile are not chased. Stops only at a backend
  // error, after reporting what it did up to there.
  absl::StatusOr<RetryAllResult> RetryAll(const RetryAllOptions& options,
                                          const RetryReport& report = {});
  // Retries every record of `queue`; returns how many were re-enqueued.
  absl::StatusOr<int64_t> RetryAll(std::string_view queue = {});

  // Removes record `index`: the record read there, even if it moved meanwhile. Works on a
  // record that does not decode (but then only without a filter to check). Returns its bytes.
  absl::StatusOr<std::string> Remove(int64_t index, const FailureFilter& filter);
  absl::Status Remove(int64_t index, std::string_view queue = {}) {
    return Remove(index, FailureFilter{.queue = std::string(queue)}).status();
  }
  absl::Status Clear(std::string_view queue = {});

  // Why `f` cannot be retried (no payload, no queue, a payload that does not decode); empty
  // when it can.
  static std::string NotRetryable(const Failure& f);
  // Why `filter` does not take `f`, given the layout (in kPerQueue the list is the queue);
  // empty when it does.
  std::string NotTaken(const FailureFilter& filter, const Failure& f);

 private:
  // The lists `filter` means: "" with one list, filter.queue, or every queue's.
  absl::StatusOr<std::vector<std::string>> ListsOf(const FailureFilter& filter);
  // Calls `visit` on records `start`.. of `list`, at most `count`; `visit` returns whether it
  // removed the record (the later ones moved up).
  absl::Status Walk(std::string_view list, int64_t start, int64_t count,
                    const std::function<absl::StatusOr<bool>(const FailureEntry&)>& visit);
  // The record at `index` of the list `filter` means.
  absl::StatusOr<FailureEntry> ReadOne(int64_t index, const FailureFilter& filter);
  // Retry's step on a read record: builds and applies the edit. False when it went meanwhile.
  absl::StatusOr<bool> RetryEntry(const FailureEntry& entry, const Failure& f, bool remove);

  Backend& backend_;
  Clock* clock_;
};

}  // namespace resque

#endif  // RESQUE_CORE_FAILURE_H_
