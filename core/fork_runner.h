// ForkRunner: runs a job in a child process of its own (WorkerOptions::fork), so that a job that
// crashes or calls exit() is a failure record and the worker goes on. The child reports its
// outcome on a pipe; the parent reads the report, kills the child at the job timeout or on a
// cancel, and reaps it. All of the worker's fork, pipe and waitid code is here.
//
//   resque::ForkRunner forks(absl::Seconds(30), *resque::RealClock());
//   std::optional<resque::JobOutcome> outcome =
//       forks.Run([&] { return resque::JobRunner::RunJob(*job, ctx); }, cancel);
#ifndef RESQUE_CORE_FORK_RUNNER_H_
#define RESQUE_CORE_FORK_RUNNER_H_

#include <sys/types.h>

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/job_cancel.h"
#include "core/job_runner.h"

namespace resque {

class ForkRunner {
 public:
  // `job_timeout`: zero for none; measured on `timer`.
  ForkRunner(absl::Duration job_timeout, Clock& timer) : timeout_(job_timeout), timer_(timer) {}

  // Runs `child` in a forked child process and returns the outcome it reported. A child that
  // ends without a report failed by its signal or exit code, or was cancelled: then nullopt, and
  // cancel.reason() says why. While the child runs, `cancel` kills it; past the job timeout it
  // is cancelled for kTimeout. Thread-safe: slots fork one at a time.
  std::optional<JobOutcome> Run(const std::function<JobOutcome()>& child, JobCancel& cancel);

 private:
  // Reads the child's report until it ends, killing it at the job timeout; reaps it and returns
  // its wait status.
  int AwaitChild(JobCancel& cancel, pid_t pid, int report_fd, std::string* report);

  const absl::Duration timeout_;
  Clock& timer_;
  // Serializes pipe+fork among slots: a child forked by one slot must not inherit the write end
  // of another slot's report pipe, or that slot would not see EOF when its own child is done.
  std::mutex fork_mu_;
};

}  // namespace resque

#endif  // RESQUE_CORE_FORK_RUNNER_H_
