// The reserver alone, on the memory backend and a ManualClock: what "*" stands for is kept for a
// second of the timer while jobs keep coming, looked up again at once when nothing is found, and
// a reserve's tickets come back when it takes nothing; a queue the backend refuses is skipped and
// tried again every kUnusableRetry.
#include "core/reserver.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "backends/memory/memory_backend.h"
#include "core/backend_wrapper.h"
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

// Refuses every reserve that names queue "broken", as Redis refuses a key of the wrong type.
class BrokenQueueBackend : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;
  int tries_of_broken = 0;

 private:
  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override {
    for (const std::string& q : request.queues) {
      if (q != "broken") continue;
      ++tries_of_broken;
      return absl::FailedPreconditionError("queue \"broken\" holds the wrong kind of value");
    }
    return BackendWrapper::DoReserve(request, out);
  }
};

TEST_F(ReserverTest, AQueueTheBackendRefusesIsSkippedLoggedOnceAndTriedAgainLater) {
  BrokenQueueBackend broken(backend_.get());
  Tickets tickets(0);
  int logged = 0;
  Reserver reserver(broken, "host:1:broken,fine",
                    {.queues = {"broken", "fine"},
                     .clock = &clock_,
                     .timer = &clock_,
                     .log =
                         [&](LogLevel, std::string_view m) {
                           if (m.find("unusable") != std::string_view::npos) ++logged;
                         }},
                    tickets, state_, reliable_);
  Push("fine", "One");
  Push("fine", "Two");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "fine");
  const int tries = broken.tries_of_broken;
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "fine");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "");
  EXPECT_EQ(broken.tries_of_broken, tries);  // skipped, not asked again
  ASSERT_EQ(reserver.UnusableQueues().size(), 1u);
  EXPECT_EQ(reserver.UnusableQueues()[0].first, "broken");
  clock_.Advance(Reserver::kUnusableRetry);
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), "");
  EXPECT_GT(broken.tries_of_broken, tries);  // tried again, still refused
  EXPECT_EQ(logged, 1);                      // not again before kUnusableReminder
}

TEST_F(ReserverTest, NoUsableQueueIsSaidSoWithoutAskingTheBackendAgain) {
  BrokenQueueBackend broken(backend_.get());
  Tickets tickets(0);
  Reserver reserver(broken, "host:1:broken",
                    {.queues = {"broken"},
                     .clock = &clock_,
                     .timer = &clock_,
                     .log = [](LogLevel, std::string_view) {}},
                    tickets, state_, reliable_);
  absl::StatusOr<Reservation> r = reserver.Reserve(absl::ZeroDuration(), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->no_usable);
  const int tries = broken.tries_of_broken;
  r = reserver.Reserve(absl::ZeroDuration(), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->no_usable);
  EXPECT_EQ(broken.tries_of_broken, tries);
}

// Records what each reserve asked for; a waiting reserve returns at once with nothing (the
// memory backend would wait on the real clock).
class RecordingBackend : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;
  struct Asked {
    std::string first;
    size_t queues = 0;
    absl::Duration wait;
  };
  std::vector<Asked> asked;

 private:
  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override {
    asked.push_back(
        {.first = request.queues.front(), .queues = request.queues.size(), .wait = request.wait});
    if (request.wait > absl::ZeroDuration()) return 0;
    return BackendWrapper::DoReserve(request, out);
  }
};

class LongListTest : public ReserverTest {
 protected:
  static constexpr int kQueues = 350;  // three full windows and a part
  static std::string Name(int i) { return absl::StrFormat("q%03d", i); }
  Reserver MakeLong(Backend& backend, Tickets& tickets) {
    std::vector<std::string> queues;
    for (int i = 0; i < kQueues; ++i) queues.push_back(Name(i));
    return Reserver(backend, "host:1:long",
                    {.queues = std::move(queues),
                     .clock = &clock_,
                     .timer = &clock_,
                     .log = [](LogLevel, std::string_view) {}},
                    tickets, state_, reliable_);
  }
  size_t MostAsked() const {
    size_t most = 0;
    for (const RecordingBackend::Asked& a : recording_.asked) most = std::max(most, a.queues);
    return most;
  }
  RecordingBackend recording_{backend_.get()};
};

TEST_F(LongListTest, ALongListIsReservedAWindowAtATimeInPriorityOrder) {
  Tickets tickets(0);
  Reserver reserver = MakeLong(recording_, tickets);
  Push(Name(340), "Late");
  Push(Name(120), "One");
  Push(Name(120), "Two");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(120));
  ASSERT_EQ(recording_.asked.size(), 2u);  // the first window was empty
  EXPECT_EQ(recording_.asked[1].first, Name(100));
  recording_.asked.clear();
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(120));
  ASSERT_EQ(recording_.asked.size(), 1u);  // straight to the window that had jobs
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(340));
  EXPECT_EQ(MostAsked(), kReserveWindow);
  // Within the second, windows found empty are looked at after the later ones, not skipped.
  Push(Name(10), "Early");
  Push(Name(345), "Later");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(345));
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(10));
  absl::StatusOr<Reservation> none = reserver.Reserve(absl::ZeroDuration(), false);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->jobs.empty());
  EXPECT_FALSE(none->no_usable);
  // After it, priority holds again from the top.
  Push(Name(345), "Later");
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(345));
  Push(Name(10), "Early");
  Push(Name(345), "Later");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(10));
  EXPECT_EQ(MostAsked(), kReserveWindow);
}

TEST_F(LongListTest, ABlockingReserveWaitsOnTheWholeListOnlyOnceEveryWindowIsEmpty) {
  Tickets tickets(0);
  Reserver reserver = MakeLong(recording_, tickets);
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::Seconds(1), false)), "");
  ASSERT_EQ(recording_.asked.size(), 5u);  // four windows without a wait, then the wait
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(recording_.asked[i].wait, absl::ZeroDuration());
    EXPECT_EQ(recording_.asked[i].first, Name(100 * static_cast<int>(i)));
  }
  EXPECT_EQ(recording_.asked[4].queues, static_cast<size_t>(kQueues));
  EXPECT_EQ(recording_.asked[4].wait, absl::Seconds(1));
}

TEST_F(LongListTest, TheFoldedReserveAsksOneWindowAndThePlainOneGoesOnFromTheNext) {
  Tickets tickets(0);
  Reserver reserver = MakeLong(recording_, tickets);
  Push(Name(250), "Deep");
  ReserveRequest request;
  ASSERT_TRUE(reserver.PrepareFolded(request));
  EXPECT_EQ(request.queues.size(), kReserveWindow);
  EXPECT_EQ(request.queues.front(), Name(0));
  EXPECT_TRUE(reserver.FoldedResult(ReservedJobs{}).jobs.empty());
  EXPECT_EQ(QueueOf(reserver.Reserve(absl::ZeroDuration(), false)), Name(250));
  ASSERT_EQ(recording_.asked.size(), 2u);
  EXPECT_EQ(recording_.asked[0].first, Name(100));
  EXPECT_EQ(recording_.asked[1].first, Name(200));
}

}  // namespace
}  // namespace resque::testing
