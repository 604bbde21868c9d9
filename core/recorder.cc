#include "core/recorder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/failure.h"
#include "core/json.h"
#include "core/status.h"
#include "core/worker_id.h"

namespace resque {
namespace {

// The failure's payload must be JSON: a payload that does not decode is kept as a JSON string.
std::string PayloadForRecord(std::string_view raw) {
  return json::Validate(raw).ok() ? std::string(raw) : json::Quote(raw);
}

// "<class> <id>", for the log.
std::string What(const FinishedJob& d) {
  return d.payload != nullptr ? d.payload->class_name + " " + d.payload->id : "payload";
}

}  // namespace

bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsAborted(s);
}

void Recorder::Start(Backend& backend, std::string_view worker_id, const ReservedJob& job,
                     const Payload& payload, std::vector<std::string> others) {
  const absl::Time now = options_.clock->Now();
  // "worker" is what node-resque files the record under (allWorkingOn); php-resque and Ruby
  // read the other three.
  const std::string working = WorkingJson(job.queue, json::Quote(FormatIsoTime(now)), job.payload,
                                          json::Quote(WorkerIdWithoutQueues(worker_id)));
  absl::Status started = backend.StartJob({.worker_id = std::string(worker_id),
                                           .working_json = working,
                                           .job_id = payload.id,
                                           .status_json = StatusUpdateJson(JobState::kRunning, now),
                                           .other_job_ids = std::move(others)});
  if (!started.ok()) {
    options_.log(LogLevel::kError, absl::StrFormat("worker %s: recording the start of job %s: %s",
                                                   worker_id, payload.id, started.message()));
  }
}

FoldedStart Recorder::StartToFold(std::string_view worker_id) const {
  const absl::Time now = options_.clock->Now();
  return {.run_at = json::Quote(FormatIsoTime(now)),
          .worker = json::Quote(WorkerIdWithoutQueues(worker_id)),
          .status_json = StatusUpdateJson(JobState::kRunning, now)};
}

FinishedJob Recorder::Finished(std::string_view worker_id, const ReservedJob& job,
                               const Payload* payload, const JobOutcome& outcome,
                               bool in_flight) const {
  const absl::Time now = options_.clock->Now();
  const bool failed = outcome.kind == JobOutcome::kFailed;
  // Cut once here: the record, the log and on_job_done all see the bounded text.
  JobOutcome bounded = outcome;
  BoundFailureText(bounded.exception, bounded.error, bounded.backtrace);
  FinishedJob d{.finish = {.worker_id = std::string(worker_id),
                           .job_id = payload != nullptr ? payload->id : IdOfBadPayload(job.payload),
                           .status_json = StatusUpdateJson(
                               failed ? JobState::kFailed : JobState::kComplete, now),
                           .status_ttl = kFinishedStatusTtl,
                           .failed = failed,
                           .failure_json = {},
                           .in_flight = in_flight ? std::optional<ReservedJob>(job) : std::nullopt,
                           .retry = std::nullopt},
                .job = &job,
                .payload = payload,
                .outcome = std::move(bounded)};
  std::optional<RetryPolicy> policy;
  // An unknown class is not retried: waiting does not teach this worker the class.
  if (failed && payload != nullptr && options_.retry_policy &&
      d.outcome.exception != "resque::UnknownJobClass") {
    policy = options_.retry_policy(payload->class_name);
  }
  const int retried = payload != nullptr ? RetryCountOf(*payload) : 0;
  if (policy.has_value() && retried < policy->retries) {
    // Tried again later instead of recorded: the try counts as failed, its error rides along.
    const absl::Duration wait = policy->delay ? policy->delay(retried) : DefaultRetryDelay(retried);
    // A policy's own delay is bounded too: an infinite one would park the job for ever.
    const int64_t at =
        absl::ToUnixSeconds(now + std::clamp(wait, absl::ZeroDuration(), kMaxRetryWait));
    d.finish.retry = JobFinish::Retry{.at = at,
                                      .item = RetryItem(*payload, job.queue, retried + 1,
                                                        d.outcome.exception, d.outcome.error, now)};
    d.finish.status_json = RetryStatusJson(now, at, retried + 1, d.outcome.error);
    d.finish.status_ttl = absl::InfiniteDuration();  // it waits, as a job enqueued does
    d.finish.failure_queue = job.queue;  // a failure without its queue is refused in kPerQueue
    return d;
  }
  if (failed) {
    Failure f;
    f.failed_at = FormatFailedAt(now);
    // Without the retry fields: retrying the record by hand starts the retries over.
    f.payload = policy.has_value() ? PayloadWithoutRetry(*payload) : PayloadForRecord(job.payload);
    if (policy.has_value() && policy->retries > 0) {
      f.extra.emplace_back("retry_count", absl::StrCat(retried));
      f.extra.emplace_back("retries_exhausted", "true");
    }
    f.exception = d.outcome.exception;
    f.error = d.outcome.error;
    f.backtrace = d.outcome.backtrace;
    f.worker = std::string(worker_id);
    f.queue = job.queue;
    d.finish.failure_json = EncodeFailure(f);
    d.finish.failure_queue = job.queue;
  }
  return d;
}

absl::Status Recorder::first_unrecorded_error() const {
  std::lock_guard lock(mu_);
  return first_unrecorded_error_;
}

bool Recorder::Record(Backend& backend, std::string_view worker_id,
                      std::vector<FinishedJob>& done) {
  return RecordWith(backend, worker_id, done, nullptr, nullptr);
}

bool Recorder::Record(Backend& backend, std::string_view worker_id, std::vector<FinishedJob>& done,
                      const ReserveRequest& next, absl::StatusOr<ReservedJobs>& reserved) {
  return RecordWith(backend, worker_id, done, &next, &reserved);
}

bool Recorder::RecordWith(Backend& backend, std::string_view worker_id,
                          std::vector<FinishedJob>& done, const ReserveRequest* next,
                          absl::StatusOr<ReservedJobs>* reserved) {
  if (done.empty()) return true;
  std::vector<JobFinish> finishes;
  finishes.reserve(done.size());
  for (FinishedJob& d : done) finishes.push_back(std::move(d.finish));
  const auto what = [&] {
    return done.size() == 1
               ? absl::StrFormat("%s from %s", What(done[0]), done[0].job->queue)
               : absl::StrFormat("a batch of %d jobs from %s", done.size(), done[0].job->queue);
  };
  // A job that ran is recorded, even across a Redis restart: a server that cannot be reached is
  // retried until it takes the record or an immediate stop gives up on it. Other errors would
  // not go away by retrying.
  // With the next reserve folded in, the first try is both; a retry (after a lost reply, the
  // finish may or may not have been applied, a job may or may not have been reserved: the
  // reserver hands such jobs back) is the finish alone.
  bool first = next != nullptr;
  const absl::Status s = RetryWhileUnreachable(
      state_, options_.log, worker_id, [&] { return "recording the end of " + what(); },
      [&]() -> absl::Status {
        if (!std::exchange(first, false)) return backend.Finish(finishes);
        absl::StatusOr<absl::StatusOr<ReservedJobs>> both =
            backend.FinishAndReserve(finishes, *next);
        if (!both.ok()) {
          *reserved = both.status();
          return both.status();
        }
        *reserved = *std::move(both);
        return absl::OkStatus();
      });
  const bool recorded = s.ok();
  if (!recorded) {
    options_.log(LogLevel::kError,
                 absl::StrFormat("worker %s: %s was performed but could not be recorded: %s",
                                 worker_id, what(), s.message()));
    unrecorded_.fetch_add(static_cast<int64_t>(done.size()));
    std::lock_guard lock(mu_);
    if (first_unrecorded_error_.ok()) first_unrecorded_error_ = s;
  }
  for (size_t i = 0; i < done.size(); ++i) {
    const FinishedJob& d = done[i];
    // Its end is the worker's to log (with how long it took).
    if (recorded) {
      processed_.fetch_add(1);
      if (d.outcome.kind == JobOutcome::kFailed) failed_.fetch_add(1);
    }
    if (options_.on_job_done) {
      options_.on_job_done({.worker_id = worker_id,
                            .job = *d.job,
                            .payload = d.payload,
                            .outcome = d.outcome,
                            .finish = finishes[i],
                            .recorded = recorded});
    }
  }
  return recorded;
}

}  // namespace resque
