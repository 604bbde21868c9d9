// Job status tracking (php-resque's Resque_Job_Status): whether tracked job <id> is waiting (1),
// running (2), failed (3) or complete (4). Statuses live in the backend as JSON
// {"status":N,"updated":T[,"started":T]} (a job waiting for a retry says when, see
// RetryStatusJson); a finished status expires after 24 hours.
//
//   resque::StatusTracker statuses(backend);
//   absl::StatusOr<resque::JobStatus> s = statuses.Get(id);  // NotFound: untracked or expired
#ifndef RESQUE_CORE_STATUS_H_
#define RESQUE_CORE_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"

namespace resque {

enum class JobState { kWaiting = 1, kRunning = 2, kFailed = 3, kComplete = 4 };

// "waiting", "running", "failed", "complete".
std::string_view JobStateName(JobState state);

// How long a failed or complete status is kept.
inline constexpr absl::Duration kFinishedStatusTtl = absl::Hours(24);

struct JobStatus {
  JobState state = JobState::kWaiting;
  int64_t updated = 0;             // unix seconds
  std::optional<int64_t> started;  // unix seconds; only in the status written at enqueue
  // A job waiting for an automatic retry (core/retry.h): when it is due, how many retries it
  // has had with this one, and the error of the try that failed.
  std::optional<int64_t> retry_at = std::nullopt;  // unix seconds
  int retry_count = 0;
  std::string error = {};
};

std::string EncodeStatus(const JobStatus& status);

// InvalidArgument when `json` is not a status object with a "status" code from 1 to 4.
absl::StatusOr<JobStatus> DecodeStatus(std::string_view json);

// The JSON a status update writes: {"status":N,"updated":now}.
std::string StatusUpdateJson(JobState state, absl::Time now);

// A failed job's status as it waits for its retry: waiting (1), with "retry_at", "retry_count"
// and "error" (peers read the status code only).
std::string RetryStatusJson(absl::Time now, int64_t retry_at, int retry_count,
                            std::string_view error);

class StatusTracker {
 public:
  explicit StatusTracker(Backend& backend, Clock* clock = RealClock())
      : backend_(backend), clock_(clock) {}

  // Marks job `id` as waiting: it is tracked from now on.
  absl::Status Create(std::string_view id);

  // NotFound when the job was never tracked or its status expired; InvalidArgument when what is
  // stored is not a status.
  absl::StatusOr<JobStatus> Get(std::string_view id);

  // Moves a tracked job to `state` (failed and complete expire after 24 h). Does nothing for an
  // untracked job.
  absl::Status Update(std::string_view id, JobState state);

 private:
  Backend& backend_;
  Clock* clock_;
};

}  // namespace resque

#endif  // RESQUE_CORE_STATUS_H_
