// The clock seam: a ManualClock wakes its sleepers and timed waiters when time is moved past
// their deadline (and not before), a notify is never lost, and the real clock waits about as
// long as it is asked to.
#include "core/clock.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

// Waits (by the real clock, with a deadline) until `n` threads sleep or wait on `clock`.
bool AwaitWaiters(const ManualClock& clock, int n) {
  return Eventually([&] { return clock.waiters() == n; });
}

TEST(ManualClockTest, ASleeperWakesOnlyOnceTimeIsMovedPastItsDeadline) {
  ManualClock clock;
  Event woke;
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke.Notify();
  });
  ASSERT_TRUE(AwaitWaiters(clock, 1));
  clock.Advance(absl::Seconds(9));
  EXPECT_FALSE(woke.notified());
  EXPECT_EQ(clock.waiters(), 1);  // woken by the advance, it looked and sleeps on
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(woke.Await());
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(ManualClockTest, SetWakesASleeperToo) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  std::thread sleeper([&] { clock.SleepFor(absl::Minutes(1)); });
  ASSERT_TRUE(AwaitWaiters(clock, 1));
  clock.Set(absl::FromUnixSeconds(1060));
  sleeper.join();
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1060));
}

TEST(ManualClockTest, ASleepOfNothingReturnsAtOnce) {
  ManualClock clock;
  clock.SleepFor(absl::ZeroDuration());
  clock.SleepFor(absl::Seconds(-1));
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(ManualClockTest, ATimedWaiterReturnsFalseOnceTimeReachesItsDeadline) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitFor(lock, cv, absl::Seconds(5), [] { return false; }) ? 1 : 0;
  });
  ASSERT_TRUE(AwaitWaiters(clock, 1));
  clock.Advance(absl::Seconds(5));
  waiter.join();
  EXPECT_EQ(result, 0);
}

TEST(ManualClockTest, ATimedWaiterReturnsTrueWhenItsConditionTurnsTrueWithoutTimeMoving) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitFor(lock, cv, absl::Hours(1), [&] { return ready; }) ? 1 : 0;
  });
  ASSERT_TRUE(AwaitWaiters(clock, 1));
  {
    std::lock_guard lock(mu);
    ready = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_EQ(result, 1);
}

TEST(ManualClockTest, AConditionAlreadyTrueOrADeadlinePassedReturnsWithoutWaiting) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  EXPECT_TRUE(clock.WaitUntil(lock, cv, absl::InfiniteFuture(), [] { return true; }));
  EXPECT_FALSE(clock.WaitUntil(lock, cv, clock.Now(), [] { return false; }));
  EXPECT_TRUE(lock.owns_lock());
}

// Many rounds of one advance made as soon as the waiter is registered, which is right where it
// looks at the time and starts to wait: a lost wake-up would hang the round until the deadline.
// Run under ThreadSanitizer too.
TEST(ManualClockTest, NoWakeUpIsLostBetweenTheWaitersLookAndItsWait) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  for (int round = 0; round < 300; ++round) {
    Event done;
    std::thread waiter([&] {
      std::unique_lock lock(mu);
      clock.WaitFor(lock, cv, absl::Milliseconds(1), [] { return false; });
      done.Notify();
    });
    while (clock.waiters() == 0) std::this_thread::yield();
    clock.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(done.Await()) << "round " << round;
    waiter.join();
  }
}

TEST(ManualClockTest, SeveralWaitersOnOneMutexAllWake) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::thread> waiters;
  std::atomic<int> woken{0};
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&, i] {
      std::unique_lock lock(mu);
      clock.WaitFor(lock, cv, absl::Seconds(i + 1), [] { return false; });
      ++woken;
    });
  }
  ASSERT_TRUE(AwaitWaiters(clock, 4));
  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(Eventually([&] { return woken == 2; }));
  clock.Advance(absl::Seconds(2));
  for (std::thread& t : waiters) t.join();
  EXPECT_EQ(woken, 4);
}

TEST(RealClockTest, WaitsAboutAsLongAsAsked) {
  Clock& clock = *RealClock();
  std::mutex mu;
  std::condition_variable cv;
  const absl::Time start = clock.MonotonicNow();
  {
    std::unique_lock lock(mu);
    EXPECT_FALSE(clock.WaitFor(lock, cv, absl::Milliseconds(30), [] { return false; }));
  }
  const absl::Duration waited = clock.MonotonicNow() - start;
  EXPECT_GE(waited, absl::Milliseconds(30));
  EXPECT_LT(waited, absl::Seconds(10));  // generous: a loaded CI machine
}

TEST(RealClockTest, SleepsAboutAsLongAsAskedAndItsMonotonicTimeMovesOn) {
  Clock& clock = *RealClock();
  const absl::Time start = clock.MonotonicNow();
  clock.SleepFor(absl::Milliseconds(20));
  const absl::Duration slept = clock.MonotonicNow() - start;
  EXPECT_GE(slept, absl::Milliseconds(20));
  EXPECT_LT(slept, absl::Seconds(10));
  EXPECT_LT(absl::AbsDuration(clock.Now() - absl::Now()), absl::Seconds(1));
}

TEST(RealClockTest, AWaitEndsAsSoonAsItsConditionIsNotified) {
  Clock& clock = *RealClock();
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::thread notifier([&] {
    {
      std::lock_guard lock(mu);
      ready = true;
    }
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  EXPECT_TRUE(clock.WaitFor(lock, cv, kDeadline, [&] { return ready; }));
  lock.unlock();
  notifier.join();
}

}  // namespace
}  // namespace resque::testing
