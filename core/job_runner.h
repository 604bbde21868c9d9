// JobRunner: performs one decoded job and says how it ended. It runs the perform hooks around
// the job, creates the job from the registry, runs SetUp/Perform/TearDown in this process or in
// a child (ForkRunner), turns errors and exceptions into the outcome, and applies the worker's
// cancels (timeout, USR1, TERM) to it.
//
//   resque::JobRunner runner(registry, {.hooks = &hooks, .job_timeout = absl::Seconds(30)});
//   std::optional<resque::JobOutcome> outcome = runner.Perform(worker_id, job, payload, cancel);
#ifndef RESQUE_CORE_JOB_RUNNER_H_
#define RESQUE_CORE_JOB_RUNNER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/hooks.h"
#include "core/job.h"
#include "core/job_cancel.h"
#include "core/job_outcome.h"
#include "core/job_registry.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/queue.h"

namespace resque {

class ForkRunner;

struct JobRunnerOptions {
  const Hooks* hooks = nullptr;  // not owned; may be null
  // Zero: none. Measured on `timer`.
  absl::Duration job_timeout = absl::ZeroDuration();
  Clock* timer = RealClock();
  // Non-null: each job runs in a child process. Not owned.
  ForkRunner* fork = nullptr;
  // Where follow-up enqueues of in-process jobs go (JobContext::queues()). Not owned.
  Queue* queue_api = nullptr;
  LogSink log = nullptr;  // must be callable
};

class JobRunner {
 public:
  // `registry` is not owned and must outlive the runner.
  JobRunner(const JobRegistry& registry, JobRunnerOptions options)
      : registry_(registry), options_(std::move(options)) {}

  // Hooks, then the job, then after_perform (when it completed) or on_failure (when it failed).
  // `cancel` is the slot's: Reset() by the caller before each job. Nullopt: the worker stopped
  // the job for its shutdown (CancelReason::kShutdown) before it ended; nothing is to be
  // recorded of it (no after_perform or on_failure hook ran), it goes back to its queue.
  std::optional<JobOutcome> Perform(std::string_view worker_id, const ReservedJob& job,
                                    const Payload& payload, JobCancel& cancel) const;

  // SetUp, Perform, TearDown: job code, whose errors and exceptions become the outcome. The
  // same in-process and in a forked child.
  static JobOutcome RunJob(Job& job, const JobContext& ctx);

  // What the worker's own cancel makes of a job's outcome (a failure), for every reason but
  // kShutdown, which hands the job back instead.
  JobOutcome CancelledOutcome(CancelReason reason, bool forked) const;

 private:
  // The job from the registry, run in-process or forked.
  // Nullopt as Perform's.
  std::optional<JobOutcome> PerformJob(std::string_view worker_id, const ReservedJob& job,
                                       const Payload& payload, JobCancel& cancel) const;
  std::optional<JobOutcome> PerformInProcess(std::string_view worker_id, const ReservedJob& job,
                                             const Payload& payload, Job& instance,
                                             JobCancel& cancel) const;
  std::optional<JobOutcome> PerformForked(std::string_view worker_id, const ReservedJob& job,
                                          const Payload& payload, Job& instance,
                                          JobCancel& cancel) const;

  const JobRegistry& registry_;
  const JobRunnerOptions options_;
};

}  // namespace resque

#endif  // RESQUE_CORE_JOB_RUNNER_H_
