// Backoff and RetryWithBackoff: capped doubling delays, slept through the given function (a
// ManualClock's here, so that nothing sleeps for real), and the retry loop over a Status.
#include "core/backoff.h"

#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;

TEST(BackoffTest, DelaysDoubleUpToTheCapAndResetStartsOver) {
  std::vector<absl::Duration> slept;
  Backoff backoff(absl::Milliseconds(50), absl::Milliseconds(300), [&](absl::Duration d) {
    slept.push_back(d);
    return true;
  });
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(backoff.Wait());
  backoff.Reset();
  EXPECT_EQ(backoff.delay(), absl::Milliseconds(50));
  EXPECT_TRUE(backoff.Wait());
  EXPECT_THAT(
      slept, ElementsAre(absl::Milliseconds(50), absl::Milliseconds(100), absl::Milliseconds(200),
                         absl::Milliseconds(300), absl::Milliseconds(300), absl::Milliseconds(50)));
}

TEST(BackoffTest, WaitSaysWhenTheSleepWasCutShort) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(1), [](absl::Duration) { return false; });
  EXPECT_FALSE(backoff.Wait());
}

TEST(BackoffTest, ABackoffOnAManualClockWaitsUntilTheClockHasMovedItsDelay) {
  ManualClock clock;
  Backoff backoff(absl::Milliseconds(50), absl::Seconds(1), SleepOn(clock));
  Event done;
  std::thread waiter([&] {
    backoff.Wait();
    done.Notify();
  });
  ASSERT_TRUE(Eventually([&] { return clock.waiters() == 1; }));
  clock.Advance(absl::Milliseconds(49));
  EXPECT_FALSE(done.notified());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(done.Await());
  waiter.join();
  EXPECT_EQ(backoff.delay(), absl::Milliseconds(100));
}

TEST(RetryWithBackoffTest, RetriesWhileTheErrorIsWorthItAndReturnsTheSuccess) {
  std::vector<absl::Duration> slept;
  Backoff backoff(absl::Milliseconds(10), absl::Seconds(1), [&](absl::Duration d) {
    slept.push_back(d);
    return true;
  });
  int calls = 0;
  absl::StatusOr<int> result = RetryWithBackoff(
      backoff,
      [&]() -> absl::StatusOr<int> {
        if (++calls < 3) return absl::UnavailableError("down");
        return 7;
      },
      [](const absl::Status& s) { return absl::IsUnavailable(s); });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 7);
  EXPECT_EQ(calls, 3);
  EXPECT_THAT(slept, ElementsAre(absl::Milliseconds(10), absl::Milliseconds(20)));
}

TEST(RetryWithBackoffTest, AnErrorNotWorthRetryingIsReturnedAtOnce) {
  Backoff backoff(absl::Milliseconds(10), absl::Seconds(1), [](absl::Duration) {
    ADD_FAILURE() << "slept";
    return true;
  });
  int calls = 0;
  absl::Status s = RetryWithBackoff(
      backoff,
      [&] {
        ++calls;
        return absl::InvalidArgumentError("bad");
      },
      [](const absl::Status& error) { return absl::IsUnavailable(error); });
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace resque::testing
