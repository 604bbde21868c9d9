// Clock: where time comes from when a TTL, an interval, a budget or a timeout is decided, and how
// a thread waits for time to pass.
//
// Production code uses RealClock(); tests use ManualClock to move time forward without sleeping:
// a thread that sleeps or waits on a ManualClock wakes when Advance() or Set() moves time past its
// deadline.
//
//   resque::ManualClock clock(absl::FromUnixSeconds(1700000000));
//   auto backend = resque::memory::NewMemoryBackend({.clock = &clock});
//   clock.Advance(absl::Hours(25));  // statuses written with a 24 h TTL are now gone
//
//   std::unique_lock lock(mu);  // a wait on a condition, with a deadline by the clock
//   bool stopped = clock.WaitFor(lock, cv, absl::Seconds(5), [&] { return stopping; });
#ifndef RESQUE_CORE_CLOCK_H_
#define RESQUE_CORE_CLOCK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace resque {

class Clock {
 public:
  virtual ~Clock() = default;

  // Wall time: what records are dated with and what TTLs expire by.
  virtual absl::Time Now() const = 0;
  // Time for measuring how long something takes: never goes back on a real clock. Its epoch
  // means nothing; only differences and deadlines made from it do. Default: Now().
  virtual absl::Time MonotonicNow() const { return Now(); }
  // Returns once `d` has passed by MonotonicNow(). Default: the real sleep.
  virtual void SleepFor(absl::Duration d);

  // With `lock` held on the mutex that guards what `pred` reads, waits on `cv` until `pred()`
  // holds or MonotonicNow() reaches `deadline` (InfiniteFuture: no deadline). Returns `pred()` as
  // it is on return, with `lock` held. A notify of `cv` made under the mutex is never lost.
  template <typename Pred>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 absl::Time deadline, Pred pred) {
    return WaitUntilImpl(lock, cv, deadline, absl::FunctionRef<bool()>(pred));
  }
  template <typename Pred>
  bool WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
               absl::Duration timeout, Pred pred) {
    const absl::Time deadline =
        timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : MonotonicNow() + timeout;
    return WaitUntil(lock, cv, deadline, pred);
  }

 protected:
  // Default: waits on the real clock for what is left until `deadline` by MonotonicNow().
  virtual bool WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                             absl::Time deadline, absl::FunctionRef<bool()> pred);
};

// The system clock: absl::Now() for wall time, std::chrono::steady_clock for MonotonicNow(),
// SleepFor and waits. Thread-safe; never destroyed.
Clock* RealClock();

// A clock that only moves when told to. Thread-safe. Its MonotonicNow() is Now().
//
// Do not call Advance() or Set() while holding a mutex that a thread waits with on this clock:
// they take each waiter's mutex to wake it.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : nanos_(absl::ToUnixNanos(start)) {}
  ~ManualClock() override = default;
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  // Sleeps until Advance() or Set() moves time `d` on; returns at once when `d` <= 0.
  void SleepFor(absl::Duration d) override;

  // Move time, and wake every sleeper and waiter so that it looks at its deadline.
  void Advance(absl::Duration d);
  void Set(absl::Time t);

  // How many threads sleep or wait on this clock right now: a test advances the clock once the
  // thread it means to wake waits.
  int waiters() const;

 protected:
  bool WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                     absl::Time deadline, absl::FunctionRef<bool()> pred) override;

 private:
  // A thread in WaitUntilImpl. `users` counts the Advance() calls about to notify it: the waiter
  // leaves the list only when none is, so that none touches its mutex after it has returned.
  struct Waiter {
    std::mutex* mu;
    std::condition_variable* cv;
    int users = 0;  // guarded by mu_
  };
  void WakeWaiters();

  std::atomic<int64_t> nanos_;
  mutable std::mutex mu_;  // taken after a waiter's mutex, never before one
  std::condition_variable released_;
  std::list<Waiter*> waiters_;  // guarded by mu_
  // What SleepFor waits with.
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
};

}  // namespace resque

#endif  // RESQUE_CORE_CLOCK_H_
