#include "core/job_runner.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/failure.h"
#include "core/fork_runner.h"

namespace resque {
namespace {

std::string Demangle(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || readable == nullptr) return name;
  std::string out(readable);
  std::free(readable);
  return out;
}

// Hooks are user code too: an exception from one is an error, never a dead slot thread.
absl::Status RunHooksCatching(const std::vector<Hooks::Hook>& hooks, const JobEvent& event) {
  try {
    return RunHooks(hooks, event);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrFormat("a hook threw %s: %s", Demangle(typeid(e).name()), e.what()));
  } catch (...) {
    return absl::InternalError("a hook threw something not a std::exception");
  }
}

}  // namespace

std::optional<JobOutcome> JobRunner::Perform(std::string_view worker_id, const ReservedJob& job,
                                             const Payload& payload, JobCancel& cancel) const {
  const JobEvent event{.queue = job.queue, .payload = payload, .worker_id = worker_id};
  const Hooks* hooks = options_.hooks;
  if (hooks != nullptr) {
    absl::Status s = RunHooksCatching(hooks->before_perform, event);
    if (IsSkipJob(s)) return JobOutcome{JobOutcome::kSkipped, "", std::string(s.message())};
    if (!s.ok()) return JobOutcome{JobOutcome::kFailed, "resque::HookError", s.ToString()};
  }
  std::optional<JobOutcome> stopped_or_outcome = PerformJob(worker_id, job, payload, cancel);
  if (!stopped_or_outcome.has_value()) return std::nullopt;  // handed back: it did not end here
  JobOutcome& outcome = *stopped_or_outcome;
  if (hooks != nullptr && outcome.kind == JobOutcome::kComplete) {
    if (absl::Status s = RunHooksCatching(hooks->after_perform, event); !s.ok()) {
      options_.log(LogLevel::kError, absl::StrFormat("after_perform hook: %s", s.message()));
    }
  }
  if (hooks != nullptr && outcome.kind == JobOutcome::kFailed) {
    const absl::Status error = absl::UnknownError(outcome.exception + ": " + outcome.error);
    for (const Hooks::FailureHook& hook : hooks->on_failure) {
      try {
        hook(event, error);
      } catch (...) {
        options_.log(LogLevel::kError, "an on_failure hook threw; ignored");
      }
    }
  }
  return stopped_or_outcome;
}

JobOutcome JobRunner::RunJob(Job& job, const JobContext& ctx) {
  JobOutcome outcome;
  try {
    absl::Status s = job.SetUp(ctx);
    if (s.ok()) {
      try {
        s = job.Perform(ctx);
      } catch (...) {
        job.TearDown(ctx);  // TearDown runs whatever Perform did, a throw included
        throw;
      }
      job.TearDown(ctx);
    }
    if (IsSkipJob(s)) {
      outcome = {JobOutcome::kSkipped, "", std::string(s.message())};
    } else if (!s.ok()) {
      outcome = {JobOutcome::kFailed, "resque::JobError", WithoutBacktrace(s).ToString(),
                 BacktraceOf(s)};
    }
  } catch (const std::exception& e) {
    outcome = {JobOutcome::kFailed, Demangle(typeid(e).name()), e.what()};
  } catch (...) {
    outcome = {JobOutcome::kFailed, "unknown exception",
               "a job threw something not a std::exception"};
  }
  return outcome;
}

JobOutcome JobRunner::CancelledOutcome(CancelReason reason, bool forked) const {
  const std::string how = forked ? "killed" : "told to stop";
  switch (reason) {
    case CancelReason::kTimeout:
      return {JobOutcome::kFailed, "resque::JobTimeout",
              absl::StrFormat("job ran longer than %s and was %s",
                              absl::FormatDuration(options_.job_timeout), how)};
    case CancelReason::kKilled:
      return {JobOutcome::kFailed, "resque::JobKilled",
              absl::StrFormat("job %s by the worker (USR1: kill running jobs)", how)};
    case CancelReason::kStopped:
    case CancelReason::kShutdown:  // not failed but handed back (Perform): named as a stop
    case CancelReason::kNone:
      break;
  }
  return {JobOutcome::kFailed, "resque::JobKilled",
          absl::StrFormat("job %s by the worker (TERM/INT: immediate shutdown)", how)};
}

std::optional<JobOutcome> JobRunner::PerformJob(std::string_view worker_id, const ReservedJob& job,
                                                const Payload& payload, JobCancel& cancel) const {
  // In fork mode the job object is made before fork(): the registry takes a lock that another
  // thread of this process could hold at the moment of the fork.
  absl::StatusOr<std::unique_ptr<Job>> instance = registry_.Create(payload.class_name);
  if (!instance.ok()) {
    return JobOutcome{JobOutcome::kFailed, "resque::UnknownJobClass",
                      std::string(instance.status().message())};
  }
  if (options_.fork != nullptr) return PerformForked(worker_id, job, payload, **instance, cancel);
  return PerformInProcess(worker_id, job, payload, **instance, cancel);
}

std::optional<JobOutcome> JobRunner::PerformInProcess(std::string_view worker_id,
                                                      const ReservedJob& job,
                                                      const Payload& payload, Job& instance,
                                                      JobCancel& cancel) const {
  if (options_.job_timeout > absl::ZeroDuration()) {
    cancel.StartDeadline(options_.timer->MonotonicNow() + options_.job_timeout);
  }
  const JobContext ctx(job.queue, payload, worker_id, options_.queue_api, cancel.flag());
  JobOutcome outcome = RunJob(instance, ctx);
  const CancelReason reason = cancel.EndDeadline(options_.timer->MonotonicNow());
  if (reason == CancelReason::kNone) return outcome;
  // Told to stop at the end of the shutdown wait, whatever it returned it did not run to its
  // end: it goes back to its queue, for the next worker to run it whole.
  if (reason == CancelReason::kShutdown) return std::nullopt;
  // A job the worker cancelled did not run to its end, whatever it returned: a failure, as a
  // killed child is in fork mode, named after the worker's reason. What the job said of its
  // own end stays in the message.
  JobOutcome stopped = CancelledOutcome(reason, /*forked=*/false);
  if (outcome.kind == JobOutcome::kFailed) {
    absl::StrAppendFormat(&stopped.error, "; the job failed with %s: %s", outcome.exception,
                          outcome.error);
  }
  return stopped;
}

std::optional<JobOutcome> JobRunner::PerformForked(std::string_view worker_id,
                                                   const ReservedJob& job, const Payload& payload,
                                                   Job& instance, JobCancel& cancel) const {
  std::optional<JobOutcome> outcome = options_.fork->Run(
      [&] {
        // Queue (ctx.queues()) is null: the backend's connections and locks belong to the parent.
        const JobContext ctx(job.queue, payload, worker_id, nullptr, nullptr);
        return RunJob(instance, ctx);
      },
      cancel);
  if (outcome.has_value()) return outcome;
  // Killed by a cancel: the first reason stays, so this is the one that killed it.
  const CancelReason reason = cancel.reason();
  if (reason == CancelReason::kShutdown) return std::nullopt;
  return CancelledOutcome(reason, /*forked=*/true);
}

}  // namespace resque
