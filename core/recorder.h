// Recorder: what the worker writes of a job it took. Its start: the slot's working-on record and
// the running status (one StartJob). Its finish: the status with its 24 h TTL, the processed and
// failed stats, the failure record, the job out of the in-flight list (one Finish, for one job
// or a batch), retried while the backend is unreachable. It counts what it recorded.
//
//   resque::FinishedJob done = recorder.Finished(slot_id, job, &payload, outcome, in_flight);
//   std::vector<resque::FinishedJob> batch = {std::move(done)};
//   recorder.Record(*slot_session, slot_id, batch);
#ifndef RESQUE_CORE_RECORDER_H_
#define RESQUE_CORE_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_format.h"
#include "core/backend.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/job_outcome.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/retry.h"
#include "core/run_state.h"

namespace resque {

// One job's end, ready to write. `job` and `payload` are borrowed until it is recorded.
struct FinishedJob {
  JobFinish finish;
  const ReservedJob* job = nullptr;
  const Payload* payload = nullptr;  // null when the payload did not decode
  JobOutcome outcome;
};

struct RecorderOptions {
  Clock* clock = RealClock();  // dates statuses, failures and working-on records
  LogSink log = nullptr;       // must be callable
  std::function<void(const JobReport&)> on_job_done = nullptr;  // may be empty
  // The retry policy of a job class, nullopt for none. Empty: no job is retried (the backend
  // keeps no delayed jobs).
  std::function<std::optional<RetryPolicy>(std::string_view class_name)> retry_policy = nullptr;
};

class Recorder {
 public:
  // `state`: an immediate stop ends the retries of a record.
  Recorder(RunState& state, RecorderOptions options)
      : state_(state), options_(std::move(options)) {}

  // Start and Record write on `backend`, the slot's session (Backend::OpenSession): a start may
  // be applied after it returns, and the same session's next call (the record) comes after it.

  // Marks `worker_id` busy with `job` (its working-on record) and the job's status running, and
  // every id of `others` (the rest of a batch) running too. An error is logged: the job is taken
  // already, and performing it is better than losing it.
  void Start(Backend& backend, std::string_view worker_id, const ReservedJob& job,
             const Payload& payload, std::vector<std::string> others);

  // The start of the job a folded reserve takes (ReserveRequest::start), stamped now: what
  // Start would write, for the backend to write in the record's step.
  FoldedStart StartToFold(std::string_view worker_id) const;

  // What the finish of `job` writes. `in_flight`: the job leaves the slot's in-flight list.
  FinishedJob Finished(std::string_view worker_id, const ReservedJob& job, const Payload* payload,
                       const JobOutcome& outcome, bool in_flight) const;

  // Writes the finishes of `done` in one step (retrying while the backend is unreachable, until
  // an immediate stop), then counts, logs and reports them (on_job_done). Returns whether they
  // were written.
  bool Record(Backend& backend, std::string_view worker_id, std::vector<FinishedJob>& done);
  // The same, with the reserve `next` (no wait) in the first try's step (Backend::
  // FinishAndReserve): `reserved` gets what it took, or why it took nothing (the try failed, and
  // the record was retried alone).
  bool Record(Backend& backend, std::string_view worker_id, std::vector<FinishedJob>& done,
              const ReserveRequest& next, absl::StatusOr<ReservedJobs>& reserved);

  int64_t processed() const { return processed_.load(); }
  int64_t failed() const { return failed_.load(); }
  // Jobs performed whose end Record could not write, and the first error that kept one out.
  int64_t unrecorded() const { return unrecorded_.load(); }
  absl::Status first_unrecorded_error() const;

 private:
  // Record's body; `next` and `reserved` are both null or both not.
  bool RecordWith(Backend& backend, std::string_view worker_id, std::vector<FinishedJob>& done,
                  const ReserveRequest* next, absl::StatusOr<ReservedJobs>* reserved);

  RunState& state_;
  const RecorderOptions options_;
  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> unrecorded_{0};
  mutable std::mutex mu_;
  absl::Status first_unrecorded_error_;  // guarded by mu_
};

// An error that retrying may cure: the backend could not be reached, or not in time.
bool IsTransient(const absl::Status& s);

// For the writes a worker must not lose (a record, a hand-back): calls `attempt` again while
// the backend is unreachable, 50 ms apart doubling to 2 s, until an immediate stop. Logs each
// retry as "worker <worker_id>: <what()>: <error>; retrying" (`what` is called only then: the
// hot path formats nothing). Returns the last result.
template <typename Attempt>
auto RetryWhileUnreachable(RunState& state, const LogSink& log, std::string_view worker_id,
                           absl::FunctionRef<std::string()> what, Attempt attempt)
    -> decltype(attempt()) {
  Backoff backoff(absl::Milliseconds(50), absl::Seconds(2),
                  [&state](absl::Duration d) { return state.SleepUnlessImmediate(d); });
  return RetryWithBackoff(backoff, attempt, [&](const absl::Status& error) {
    if (!IsTransient(error) || state.immediate()) return false;
    log(LogLevel::kError,
        absl::StrFormat("worker %s: %s: %s; retrying", worker_id, what(), error.message()));
    return true;
  });
}

}  // namespace resque

#endif  // RESQUE_CORE_RECORDER_H_
