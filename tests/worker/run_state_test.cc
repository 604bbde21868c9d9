// RunState: a stop cuts the worker's sleeps short, an immediate stop also its record retries,
// and a pause parks a slot until Resume, all timed on a ManualClock here.
#include "core/run_state.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

TEST(RunStateTest, ASleepRunsToItsEndByTheTimer) {
  ManualClock timer;
  RunState state(timer);
  std::atomic<int> slept{-1};
  std::thread sleeper([&] { slept = state.Sleep(absl::Seconds(5)) ? 1 : 0; });
  ASSERT_TRUE(Eventually([&] { return timer.waiters() == 1; }));
  timer.Advance(absl::Seconds(5));
  sleeper.join();
  EXPECT_EQ(slept, 1);
}

TEST(RunStateTest, AStopCutsASleepShort) {
  ManualClock timer;
  RunState state(timer);
  std::atomic<int> slept{-1};
  std::thread sleeper([&] { slept = state.Sleep(absl::Hours(1)) ? 1 : 0; });
  ASSERT_TRUE(Eventually([&] { return timer.waiters() == 1; }));
  state.Stop(/*immediate=*/false);
  sleeper.join();
  EXPECT_EQ(slept, 0);
  EXPECT_TRUE(state.stopping());
  EXPECT_FALSE(state.immediate());
}

TEST(RunStateTest, OnlyAnImmediateStopCutsASleepUnlessImmediateShort) {
  ManualClock timer;
  RunState state(timer);
  state.Stop(/*immediate=*/false);
  std::atomic<int> slept{-1};
  std::thread sleeper([&] { slept = state.SleepUnlessImmediate(absl::Hours(1)) ? 1 : 0; });
  ASSERT_TRUE(Eventually([&] { return timer.waiters() == 1; }));
  state.Stop(/*immediate=*/true);
  sleeper.join();
  EXPECT_EQ(slept, 0);
}

TEST(RunStateTest, APausedSlotParksUntilResume) {
  ManualClock timer;
  RunState state(timer);
  state.Pause();
  Event parked;
  std::atomic<int> runnable{-1};
  std::thread slot([&] { runnable = state.AwaitRunnable([&] { parked.Notify(); }) ? 1 : 0; });
  ASSERT_TRUE(parked.Await());
  ASSERT_TRUE(Eventually([&] { return state.paused_slots() == 1; }));
  state.Resume();
  slot.join();
  EXPECT_EQ(runnable, 1);
  EXPECT_EQ(state.paused_slots(), 0);
}

TEST(RunStateTest, AStopEndsAPause) {
  ManualClock timer;
  RunState state(timer);
  state.Pause();
  std::atomic<int> runnable{-1};
  std::thread slot([&] { runnable = state.AwaitRunnable([] {}) ? 1 : 0; });
  ASSERT_TRUE(Eventually([&] { return state.paused_slots() == 1; }));
  state.Stop(/*immediate=*/false);
  slot.join();
  EXPECT_EQ(runnable, 0);
}

TEST(RunStateTest, AwaitStopOrSlotsEndedReturnsOnTheStopOrOnTheLastSlot) {
  ManualClock timer;
  RunState ended(timer);
  std::thread slots([&] {
    ended.SlotEnded();
    ended.SlotEnded();
  });
  EXPECT_FALSE(ended.AwaitStopOrSlotsEnded(2));
  slots.join();
  EXPECT_EQ(ended.stopped_at(), absl::InfiniteFuture());

  RunState stopped(timer);
  std::thread stopper([&] { stopped.Stop(/*immediate=*/true); });
  EXPECT_TRUE(stopped.AwaitStopOrSlotsEnded(2));
  stopper.join();
  EXPECT_EQ(stopped.stopped_at(), timer.MonotonicNow());
}

}  // namespace
}  // namespace resque::testing
