#include "core/job_cancel.h"

#include <algorithm>
#include <utility>

namespace resque {

void JobCancel::Reset() {
  std::lock_guard lock(mu_);
  reason_ = CancelReason::kNone;
  cancelled_.store(false);
}

void JobCancel::Cancel(CancelReason reason) {
  std::lock_guard lock(mu_);
  if (reason_ == CancelReason::kNone) reason_ = reason;
  cancelled_.store(true);
  if (child_ != nullptr) (void)child_->Kill();  // its group: the commands the job started too
}

CancelReason JobCancel::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

void JobCancel::StartDeadline(absl::Time deadline) {
  std::lock_guard lock(mu_);
  deadline_ = deadline;
}

CancelReason JobCancel::EndDeadline(absl::Time now) {
  std::lock_guard lock(mu_);
  if (reason_ == CancelReason::kNone && now >= deadline_) reason_ = CancelReason::kTimeout;
  deadline_ = absl::InfiniteFuture();
  return reason_;
}

void JobCancel::CancelIfPast(absl::Time now) {
  // Checked and cancelled under one lock, so that the cancel cannot land on the next job.
  std::lock_guard lock(mu_);
  if (now < deadline_) return;
  if (reason_ == CancelReason::kNone) reason_ = CancelReason::kTimeout;
  cancelled_.store(true);
}

void JobCancel::AttachChild(ChildProcess* child) {
  std::lock_guard lock(mu_);
  child_ = child;
  if (cancelled_.load()) (void)child->Kill();
}

void JobCancel::DetachChild() {
  std::lock_guard lock(mu_);
  child_ = nullptr;
}

Watchdog::Watchdog(Clock& timer, absl::Duration timeout, std::vector<JobCancel*> jobs)
    : timer_(timer),
      jobs_(std::move(jobs)),
      checks_(timer, std::clamp(timeout / 10, absl::Milliseconds(1), absl::Milliseconds(100)),
              [this] {
                const absl::Time now = timer_.MonotonicNow();
                for (JobCancel* job : jobs_) job->CancelIfPast(now);
              }) {}

}  // namespace resque
