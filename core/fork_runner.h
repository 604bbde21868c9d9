// ForkRunner: runs a job in a child process of its own (WorkerOptions::fork), so that a job that
// crashes or calls exit() is a failure record and the worker goes on. The child reports its
// outcome on a pipe; the parent reads the report, kills the child at the job timeout or on a
// cancel, and reaps it, on ChildProcess (core/child_process.h), which several slots may use at
// once.
//
//   resque::ForkRunner forks(absl::Seconds(30), *resque::RealClock());
//   std::optional<resque::JobOutcome> outcome =
//       forks.Run([&] { return resque::JobRunner::RunJob(*job, ctx); }, cancel);
#ifndef RESQUE_CORE_FORK_RUNNER_H_
#define RESQUE_CORE_FORK_RUNNER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/child_process.h"
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
  // is cancelled for kTimeout. Thread-safe: several slots may run children at once.
  std::optional<JobOutcome> Run(const std::function<JobOutcome()>& child, JobCancel& cancel);

 private:
  // Reads the child's report until it ends, killing it at the job timeout; reaps it and says
  // how it ended.
  ChildExit AwaitChild(JobCancel& cancel, ChildProcess& process);

  const absl::Duration timeout_;
  Clock& timer_;
};

}  // namespace resque

#endif  // RESQUE_CORE_FORK_RUNNER_H_
