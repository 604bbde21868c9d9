// The reserver alone, on the memory backend and a ManualClock: what "*" stands for is kept for a
// second of the timer while jobs keep coming, looked up again at once when nothing is found, and
// a reserve's tickets come back when it takes nothing.
#include "core/reserver.h"

#include <atomic>
#include <memory>
#include <string>

#include "backends/memory/memory_backend.h"
#include "gtest/gtest.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

class ReserverTest : public ::testing::Test {
 protected:
  Reserver Make(std::vector<std::string> queues, Tickets& tickets) {
    return Reserver(*backend_, "host:1:*",
                    {.queues = std::move(queues),
                     .max_batch = 1,
                     .clock = &clock_,
                     .timer = &clock_,
                     .log = [](LogLevel, std::string_view) {}},
                    tickets, state_, reliable_);
  }
  void Push(const std::string& queue, const std::string& name) {
    ASSERT_TRUE(backend_->Push(queue, R"({"class":")" + name + R"(","args":[]})").ok());
  }
  // The queue of the one job `r` took, or "" when it took none.
  static std::string QueueOf(const absl::StatusOr<Reservation>& r) {
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->jobs.size() == 1 ? r->jobs[0].queue : "";
  }

  ManualClock clock_;
  std::unique_ptr<Backend> backend_ = memory::NewMemoryBackend({.clock = &clock_});
  RunState state_{clock_};
  std::atomic<bool> reliable_{true};
};

TEST_F(ReserverTest, StarKeepsItsListForASecondOfTheTimerWhileJobsKeepComing) {
  Tickets tickets(0);
  Reserver reserver = Make({"*"}, tickets);
  Push("b", "One");
  Push("b", "Two");
  Push("b", "Three");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "b");
  Push("a", "New");  // sorts first, but the list of "*" is a moment old
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "b");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "a");
  EXPECT_TRUE(reserver.in_flight());
}

TEST_F(ReserverTest, FindingNothingMakesTheNextReserveListTheQueuesAgain) {
  Tickets tickets(0);
  Reserver reserver = Make({"*"}, tickets);
  Push("b", "One");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "b");
  EXPECT_TRUE(reserver.listed_before());
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "");
  EXPECT_FALSE(reserver.listed_before());
  Push("c", "Two");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "c");
}

TEST_F(ReserverTest, StarWithNoQueueYetSaysSo) {
  Tickets tickets(0);
  Reserver reserver = Make({"*"}, tickets);
  absl::StatusOr<Reservation> r = reserver.Reserve(absl::ZeroDuration(), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->no_queues);
}

TEST_F(ReserverTest, AReserveThatTakesNothingGivesItsTicketBack) {
  Tickets tickets(1);
  Reserver reserver = Make({"q"}, tickets);
  ASSERT_TRUE(tickets.Take(false));
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "");
  EXPECT_TRUE(tickets.Take(false));  // the one ticket is free again
  Push("q", "One");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "q");
  EXPECT_FALSE(tickets.Take(false));  // held by the job taken
}

}  // namespace
}  // namespace resque::testing
