#include "core/clock.h"

#include <chrono>
#include <vector>

#include "absl/time/clock.h"

namespace resque {
namespace {

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time MonotonicNow() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }

 protected:
  bool WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                     absl::Time deadline, absl::FunctionRef<bool()> pred) override {
    if (deadline == absl::InfiniteFuture()) {
      cv.wait(lock, pred);
      return true;
    }
    const std::chrono::steady_clock::time_point at(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            absl::ToChronoNanoseconds(deadline - absl::UnixEpoch())));
    return cv.wait_until(lock, at, pred);
  }
};

}  // namespace

void Clock::SleepFor(absl::Duration d) { absl::SleepFor(d); }

bool Clock::WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          absl::Time deadline, absl::FunctionRef<bool()> pred) {
  while (!pred()) {
    if (deadline == absl::InfiniteFuture()) {
      cv.wait(lock);
      continue;
    }
    const absl::Duration left = deadline - MonotonicNow();
    if (left <= absl::ZeroDuration()) return false;
    cv.wait_for(lock, absl::ToChronoNanoseconds(left));
  }
  return true;
}

Clock* RealClock() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

void ManualClock::SleepFor(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return;
  std::unique_lock lock(sleep_mu_);
  WaitFor(lock, sleep_cv_, d, [] { return false; });
}

void ManualClock::Advance(absl::Duration d) {
  nanos_.fetch_add(absl::ToInt64Nanoseconds(d));
  WakeWaiters();
}

void ManualClock::Set(absl::Time t) {
  nanos_.store(absl::ToUnixNanos(t));
  WakeWaiters();
}

int ManualClock::waiters() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiters_.size());
}

bool ManualClock::WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                                absl::Time deadline, absl::FunctionRef<bool()> pred) {
  Waiter self{.mu = lock.mutex(), .cv = &cv};
  {
    std::lock_guard list_lock(mu_);
    waiters_.push_back(&self);
  }
  // The time is read under the waiter's mutex, and WakeWaiters notifies under it after moving
  // the time: either this read sees the new time or the notify finds this thread waiting.
  while (!pred() && Now() < deadline) cv.wait(lock);
  // Leaving the list takes mu_, which must not be taken while holding the waiter's mutex if a
  // WakeWaiters that holds a use of this entry is blocked on that mutex: let go of it first.
  lock.unlock();
  {
    std::unique_lock list_lock(mu_);
    released_.wait(list_lock, [&] { return self.users == 0; });
    waiters_.remove(&self);
  }
  lock.lock();
  return pred();
}

void ManualClock::WakeWaiters() {
  std::vector<Waiter*> woken;
  {
    std::lock_guard list_lock(mu_);
    woken.assign(waiters_.begin(), waiters_.end());
    for (Waiter* w : woken) ++w->users;
  }
  for (Waiter* w : woken) {
    std::lock_guard waiter_lock(*w->mu);
    w->cv->notify_all();
  }
  {
    std::lock_guard list_lock(mu_);
    for (Waiter* w : woken) --w->users;
  }
  released_.notify_all();
}

}  // namespace resque
