// Tickets (WorkerOptions::max_jobs): never more taken than the limit, a waiter parks until one
// comes back, a stop wakes it, and the last recorded job is told apart.
#include "core/tickets.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

TEST(TicketsTest, WithoutALimitEverythingIsGrantedAndNothingEnds) {
  Tickets tickets(0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(tickets.Take(/*wait=*/false));
  EXPECT_EQ(tickets.TakeMore(50), 50);
  EXPECT_FALSE(tickets.Done());
}

TEST(TicketsTest, NoMoreThanTheLimitAreTakenAndReturnedOnesCanBeTakenAgain) {
  Tickets tickets(3);
  EXPECT_TRUE(tickets.Take(false));
  EXPECT_EQ(tickets.TakeMore(5), 2);
  EXPECT_FALSE(tickets.Take(false));
  EXPECT_EQ(tickets.TakeMore(1), 0);
  tickets.Return(2);
  EXPECT_EQ(tickets.TakeMore(5), 2);
}

TEST(TicketsTest, DoneIsTrueOnceTheLimitIsRecorded) {
  Tickets tickets(2);
  EXPECT_FALSE(tickets.Done());
  EXPECT_TRUE(tickets.Done());
}

TEST(TicketsTest, AWaiterParksUntilATicketComesBack) {
  Tickets tickets(1);
  ASSERT_TRUE(tickets.Take(false));
  std::atomic<int> got{-1};
  std::thread waiter([&] { got = tickets.Take(/*wait=*/true) ? 1 : 0; });
  tickets.Return(1);
  waiter.join();
  EXPECT_EQ(got, 1);
}

TEST(TicketsTest, StopWakesAWaiterEmptyHanded) {
  Tickets tickets(1);
  ASSERT_TRUE(tickets.Take(false));
  std::atomic<int> got{-1};
  std::thread waiter([&] { got = tickets.Take(/*wait=*/true) ? 1 : 0; });
  tickets.Stop();
  waiter.join();
  EXPECT_EQ(got, 0);
  tickets.Return(1);
  EXPECT_FALSE(tickets.Take(/*wait=*/true));
}

}  // namespace
}  // namespace resque::testing
