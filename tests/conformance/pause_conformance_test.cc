// The conformance suite, continued: the fleet-wide pause flag (Ruby resque's pause-all-workers).
// A reserve that honours it takes nothing while it is set and says so; the queues keep their
// order; clearing it lets the next reserve take the jobs.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "gmock/gmock.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kPauseOwner[] = "host:300:mail";

std::string PausedJob(int n) { return absl::StrFormat(R"({"class":"J","args":[%d]})", n); }

// Reserves honouring the flag; `paused` says whether the reserve found it set.
ReservedJobs ReserveHonouring(Backend& backend, const std::vector<std::string>& queues,
                              std::string_view owner, absl::Duration wait, int max, bool& paused) {
  paused = false;
  return Value(backend.Reserve(
      {.queues = queues, .wait = wait, .owner = owner, .max = max, .paused = &paused}));
}

TEST_P(BackendConformance, PauseAllWorkersIsReadBackAndCleared) {
  EXPECT_FALSE(Value(backend().AllWorkersPaused()));
  ASSERT_OK(backend().PauseAllWorkers(true));
  EXPECT_TRUE(Value(backend().AllWorkersPaused()));
  ASSERT_OK(backend().PauseAllWorkers(false));
  EXPECT_FALSE(Value(backend().AllWorkersPaused()));
}

TEST_P(BackendConformance, PausedReservesTakeNothingAndSaySo) {
  ASSERT_OK(backend().Push("mail", PausedJob(1)));
  ASSERT_OK(backend().Push("mail", PausedJob(2)));
  ASSERT_OK(backend().PauseAllWorkers(true));
  const std::vector<std::string> queues = {"low", "mail"};
  for (const char* owner : {"", kPauseOwner}) {
    for (int max : {1, 5}) {
      if (max > 1 && *owner == '\0') continue;  // a batch needs an owner
      bool paused = false;
      EXPECT_THAT(ReserveHonouring(backend(), queues, owner, absl::ZeroDuration(), max, paused),
                  IsEmpty())
          << owner << " " << max;
      EXPECT_TRUE(paused) << owner << " " << max;
    }
  }
  // Waiting reserves too, over one queue (Redis: BLPOP / BLMOVE) and several.
  for (const std::vector<std::string>& qs : {std::vector<std::string>{"mail"}, queues}) {
    for (const char* owner : {"", kPauseOwner}) {
      bool paused = false;
      EXPECT_THAT(ReserveHonouring(backend(), qs, owner, absl::Milliseconds(50), 1, paused),
                  IsEmpty());
      EXPECT_TRUE(paused) << owner;
    }
  }
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(PausedJob(1), PausedJob(2)));
  EXPECT_THAT(Value(backend().InFlight(kPauseOwner)), IsEmpty());
}

TEST_P(BackendConformance, AReserveThatDoesNotHonourThePauseTakesJobsAsBefore) {
  ASSERT_OK(backend().Push("mail", PausedJob(1)));
  ASSERT_OK(backend().PauseAllWorkers(true));
  std::optional<ReservedJob> job = Value(backend().Reserve({"mail"}, absl::ZeroDuration()));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->payload, PausedJob(1));
}

TEST_P(BackendConformance, ClearingThePauseLetsTheNextReserveTakeTheOldestJob) {
  ASSERT_OK(backend().Push("mail", PausedJob(1)));
  ASSERT_OK(backend().Push("mail", PausedJob(2)));
  ASSERT_OK(backend().PauseAllWorkers(true));
  bool paused = false;
  ASSERT_THAT(ReserveHonouring(backend(), {"mail"}, kPauseOwner, absl::ZeroDuration(), 1, paused),
              IsEmpty());
  ASSERT_OK(backend().PauseAllWorkers(false));
  ReservedJobs jobs =
      ReserveHonouring(backend(), {"mail"}, kPauseOwner, absl::ZeroDuration(), 1, paused);
  EXPECT_FALSE(paused);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].payload, PausedJob(1));
}

// The pause comes while a reserve waits on empty queues; then a job is pushed: the reserve must
// not take it, and it stays first in line, ahead of one pushed after it.
TEST_P(BackendConformance, AJobPushedDuringAPausedWaitStaysFirstInItsQueue) {
  for (const char* owner : {"", kPauseOwner}) {
    ASSERT_OK(backend().RemoveQueue("mail"));
    ReservedJobs got;
    bool paused = false;
    std::thread reserver(
        [&] { got = ReserveHonouring(backend(), {"mail"}, owner, absl::Seconds(10), 1, paused); });
    AwaitWaitingReservers(1, absl::Seconds(5));
    ASSERT_OK(backend().PauseAllWorkers(true));
    ASSERT_OK(backend().Push("mail", PausedJob(1)));
    reserver.join();
    ASSERT_OK(backend().Push("mail", PausedJob(2)));
    EXPECT_THAT(got, IsEmpty()) << owner;
    EXPECT_TRUE(paused) << owner;
    EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(PausedJob(1), PausedJob(2)))
        << owner;
    EXPECT_THAT(Value(backend().InFlight(kPauseOwner)), IsEmpty());
    ASSERT_OK(backend().PauseAllWorkers(false));
  }
}

}  // namespace
}  // namespace resque::testing
