// Cancelling a slot's running job: why the worker cancelled it (a timeout, USR1, TERM, the end
// of a shutdown wait), the flag JobContext::Cancelled() reads, the in-process deadline, the child
// process a cancel kills, and the Watchdog thread that cancels in-process jobs past their
// deadline.
//
// One lock for the reason, the deadline and the child, so that a timeout or a kill meant for one
// job never lands on the next one, and a kill never reaches a reaped (recyclable) pid.
#ifndef RESQUE_CORE_JOB_CANCEL_H_
#define RESQUE_CORE_JOB_CANCEL_H_

#include <atomic>
#include <mutex>
#include <vector>

#include "absl/time/time.h"
#include "core/child_process.h"
#include "core/clock.h"
#include "core/periodic.h"

namespace resque {

// Why the worker cancelled a running job; the first reason wins. kStopped (TERM/INT) fails the
// job; kShutdown (the end of WorkerOptions::shutdown_timeout) hands it back to its queue.
enum class CancelReason : int { kNone = 0, kTimeout, kKilled, kStopped, kShutdown };

class JobCancel {
 public:
  // Before each job: a cancel that reached the slot between jobs was not meant for the next one.
  void Reset();
  // Sets `reason` unless one is set already, raises the flag, kills the child if there is one.
  void Cancel(CancelReason reason);
  CancelReason reason() const;
  // What JobContext::Cancelled() reads, without a lock.
  const std::atomic<bool>* flag() const { return &cancelled_; }
  bool cancelled() const { return cancelled_.load(); }

  // The in-process timeout: from StartDeadline to EndDeadline the Watchdog may cancel the job.
  void StartDeadline(absl::Time deadline);
  // Ends the deadline; a job that returns past it timed out, whether or not the watchdog got to
  // it. Returns the reason the job was cancelled for (kNone: it was not).
  CancelReason EndDeadline(absl::Time now);
  // Cancels for kTimeout when `now` is past the deadline.
  void CancelIfPast(absl::Time now);

  // The job's child process (fork mode): a cancel kills its process group (through
  // ChildProcess::Signal, which never reaches a reaped pid). A cancel that came before the child
  // was attached kills it at once. Detach before the ChildProcess is destroyed.
  void AttachChild(ChildProcess* child);
  void DetachChild();

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  CancelReason reason_ = CancelReason::kNone;     // guarded by mu_
  absl::Time deadline_ = absl::InfiniteFuture();  // guarded by mu_
  ChildProcess* child_ = nullptr;                 // guarded by mu_
};

// A thread that cancels in-process jobs past their deadline (a busy slot cannot notice its own),
// checking a tenth of `timeout` apart on `timer`: a job is told to stop at most 10% late.
class Watchdog {
 public:
  Watchdog(Clock& timer, absl::Duration timeout, std::vector<JobCancel*> jobs);

  void Start() { checks_.Start(); }  // no-op when it runs already
  void Stop() { checks_.Stop(); }    // no-op when it does not run

 private:
  Clock& timer_;
  const std::vector<JobCancel*> jobs_;
  Periodic checks_;
};

}  // namespace resque

#endif  // RESQUE_CORE_JOB_CANCEL_H_
