// JobOutcome and JobReport: how a job the worker took ended, and what WorkerOptions::on_job_done
// is told of it once its record is written (or given up on).
//
//   options.on_job_done = [&](const resque::JobReport& r) {
//     if (r.outcome.kind == resque::JobOutcome::kFailed) failed.push_back(r.job.queue);
//   };
#ifndef RESQUE_CORE_JOB_OUTCOME_H_
#define RESQUE_CORE_JOB_OUTCOME_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/backend.h"
#include "core/payload.h"

namespace resque {

// Complete, failed (with the exception class, message and backtrace of its failure record) or
// skipped (SkipJob, with its reason in `error`).
struct JobOutcome {
  enum Kind { kComplete, kFailed, kSkipped } kind = kComplete;
  std::string exception = {};
  std::string error = {};
  std::vector<std::string> backtrace = {};  // see WithBacktrace (core/failure.h)
};

// Everything here is borrowed for the call only.
struct JobReport {
  std::string_view worker_id;
  const ReservedJob& job;  // its queue, and its payload as it was stored
  const Payload* payload;  // null when the payload did not decode
  const JobOutcome& outcome;
  const JobFinish& finish;  // what the worker wrote (finish.failure_json when it failed)
  bool recorded;            // false when the backend did not take the record
};

}  // namespace resque

#endif  // RESQUE_CORE_JOB_OUTCOME_H_
