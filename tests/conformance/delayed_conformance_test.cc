// The conformance suite, continued: delayed jobs in resque-scheduler's layout and the scheduler
// leader lock. Items move once they are due, in order, each exactly once; items that cannot move
// become failure records; the lock is held by one holder at a time.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/failure.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/scheduler.h"
#include "gmock/gmock.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Item(std::string_view queue, int n) {
  return absl::StrFormat(R"({"class":"J","args":[%d],"queue":"%s"})", n, queue);
}

MoveDueRequest DueBy(int64_t now, int max = 100) {
  MoveDueRequest request{.now = now, .max = max};
  SetBadItemRecord(request, absl::FromUnixSeconds(now), "host:1:scheduler");
  return request;
}

TEST_P(BackendConformance, DelayedItemsAreListedByTheirSecond) {
  ASSERT_OK(backend().PushDelayed(2000, Item("mail", 3)));
  ASSERT_OK(backend().PushDelayed(1000, Item("mail", 1)));
  ASSERT_OK(backend().PushDelayed(1000, Item("low", 2)));
  EXPECT_EQ(Value(backend().DelayedCount()), 3);
  std::vector<DelayedTime> times = Value(backend().DelayedTimes(0, 10));
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[0].at, 1000);
  EXPECT_EQ(times[0].size, 2);
  EXPECT_EQ(times[1].at, 2000);
  EXPECT_EQ(times[1].size, 1);
  EXPECT_EQ(Value(backend().DelayedTimes(1, 10)).size(), 1u);
  EXPECT_THAT(Value(backend().DelayedItems(1000, 0, 10)),
              ElementsAre(Item("mail", 1), Item("low", 2)));
  EXPECT_THAT(Value(backend().DelayedItems(1000, 1, 1)), ElementsAre(Item("low", 2)));
  EXPECT_THAT(Value(backend().DelayedItems(1500, 0, 10)), IsEmpty());
  // Nothing reached a queue.
  EXPECT_EQ(Value(backend().Size("mail")), 0);
}

TEST_P(BackendConformance, MoveDueMovesOnlyWhatIsDueInOrder) {
  ASSERT_OK(backend().PushDelayed(1001, Item("mail", 2)));
  ASSERT_OK(backend().PushDelayed(1000, Item("mail", 1)));
  ASSERT_OK(backend().PushDelayed(1000, Item("low", 9)));
  ASSERT_OK(backend().PushDelayed(5000, Item("mail", 3)));
  MoveDueResult r = Value(backend().MoveDue(DueBy(999)));
  EXPECT_EQ(r.moved, 0);
  EXPECT_EQ(r.next_at, 1000);
  r = Value(backend().MoveDue(DueBy(1001)));
  EXPECT_EQ(r.moved, 3);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.next_at, 5000);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Item("mail", 1), Item("mail", 2)));
  EXPECT_THAT(Value(backend().Peek("low", 0, 10)), ElementsAre(Item("low", 9)));
  EXPECT_THAT(Value(backend().Queues()), ::testing::IsSupersetOf({"mail", "low"}));
  EXPECT_EQ(Value(backend().DelayedCount()), 1);
  EXPECT_EQ(Value(backend().DelayedTimes(0, 10)).size(), 1u);
  r = Value(backend().MoveDue(DueBy(9999)));
  EXPECT_EQ(r.moved, 1);
  EXPECT_EQ(r.next_at, std::nullopt);
  EXPECT_EQ(Value(backend().DelayedCount()), 0);
  EXPECT_THAT(Value(backend().DelayedTimes(0, 10)), IsEmpty());
}

TEST_P(BackendConformance, MoveDueTakesAtMostMaxAndTheRestNextTime) {
  for (int i = 0; i < 7; ++i) ASSERT_OK(backend().PushDelayed(1000 + i % 2, Item("mail", i)));
  MoveDueResult r = Value(backend().MoveDue(DueBy(2000, 3)));
  EXPECT_EQ(r.moved, 3);
  EXPECT_EQ(r.next_at, 1000);  // second 1000 still holds one
  r = Value(backend().MoveDue(DueBy(2000, 3)));
  EXPECT_EQ(r.moved, 3);
  r = Value(backend().MoveDue(DueBy(2000, 3)));
  EXPECT_EQ(r.moved, 1);
  EXPECT_EQ(r.next_at, std::nullopt);
  // Second 1000's four (0, 2, 4, 6) first, then 1001's three.
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)),
              ElementsAre(Item("mail", 0), Item("mail", 2), Item("mail", 4), Item("mail", 6),
                          Item("mail", 1), Item("mail", 3), Item("mail", 5)));
}

TEST_P(BackendConformance, ItemsThatCannotMoveBecomeFailureRecords) {
  ASSERT_OK(backend().PushDelayed(1000, "not json"));
  ASSERT_OK(backend().PushDelayed(1000, R"({"class":"J","args":[]})"));
  ASSERT_OK(backend().PushDelayed(1000, R"({"class":"J","args":[],"queue":7})"));
  ASSERT_OK(backend().PushDelayed(1000, Item("mail", 1)));
  MoveDueResult r = Value(backend().MoveDue(DueBy(1000)));
  EXPECT_EQ(r.moved, 1);
  EXPECT_EQ(r.failed, 3);
  EXPECT_EQ(Value(backend().Size("mail")), 1);
  std::vector<std::string> records = Value(backend().Failures(0, 10));
  ASSERT_EQ(records.size(), 3u);
  Failure f = Value(DecodeFailure(records[0]));
  EXPECT_EQ(f.exception, "resque::InvalidDelayedItem");
  EXPECT_EQ(f.error, "the delayed item is not a JSON object");
  EXPECT_EQ(f.payload, R"({"class":"","args":["not json"]})");
  EXPECT_EQ(f.worker, "host:1:scheduler");
  f = Value(DecodeFailure(records[1]));
  EXPECT_EQ(f.error, "the delayed item names no queue");
  EXPECT_EQ(f.payload, R"({"class":"J","args":[]})");
  EXPECT_EQ(Value(DecodeFailure(records[2])).error, "the delayed item names no queue");
  EXPECT_EQ(Value(backend().DelayedCount()), 0);
}

TEST_P(BackendConformance, RemoveAndMoveDelayedTakeEveryCopy) {
  ASSERT_OK(backend().PushDelayed(1000, Item("mail", 1)));
  ASSERT_OK(backend().PushDelayed(3000, Item("mail", 1)));
  ASSERT_OK(backend().PushDelayed(3000, Item("mail", 1)));
  ASSERT_OK(backend().PushDelayed(3000, Item("mail", 2)));
  EXPECT_EQ(Value(backend().RemoveDelayed(Item("mail", 9))), 0);
  EXPECT_EQ(Value(backend().MoveDelayed(Item("mail", 1), "urgent")), 3);
  EXPECT_THAT(Value(backend().Peek("urgent", 0, 10)),
              ElementsAre(Item("mail", 1), Item("mail", 1), Item("mail", 1)));
  EXPECT_EQ(Value(backend().DelayedCount()), 1);
  EXPECT_EQ(Value(backend().DelayedTimes(0, 10)).size(), 1u);  // second 1000 went with its item
  EXPECT_EQ(Value(backend().MoveDelayed(Item("mail", 1), "urgent")), 0);
  EXPECT_EQ(Value(backend().RemoveDelayed(Item("mail", 2))), 1);
  EXPECT_EQ(Value(backend().DelayedCount()), 0);
  EXPECT_THAT(Value(backend().DelayedTimes(0, 10)), IsEmpty());
  // A removed item does not move later.
  EXPECT_EQ(Value(backend().MoveDue(DueBy(9999))).moved, 0);
}

TEST_P(BackendConformance, DelayedVerbsRefuseBadArguments) {
  EXPECT_EQ(backend().PushDelayed(-1, Item("mail", 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().PushDelayed(1, "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().DelayedTimes(-1, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().MoveDue({.now = 1, .max = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().MoveDue({.now = 1, .max = kMaxBatch + 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().MoveDelayed(Item("mail", 1), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().HoldSchedulerLock("a", absl::Milliseconds(1500)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().HoldSchedulerLock("", absl::Seconds(5)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BackendConformance, OneSchedulerHoldsTheLockUntilItLapsesOrIsReleased) {
  EXPECT_TRUE(Value(backend().HoldSchedulerLock("a:1", absl::Seconds(10))));
  EXPECT_FALSE(Value(backend().HoldSchedulerLock("b:2", absl::Seconds(10))));
  EXPECT_TRUE(Value(backend().HoldSchedulerLock("a:1", absl::Seconds(10))));  // renewed
  std::vector<SchedulerLock> locks = Value(backend().SchedulerLocks());
  ASSERT_EQ(locks.size(), 2u);
  for (const SchedulerLock& lock : locks) {
    EXPECT_EQ(lock.holder, "a:1") << lock.name;
    ASSERT_TRUE(lock.ttl.has_value()) << lock.name;
    EXPECT_LE(*lock.ttl, absl::Seconds(10));
  }
  ASSERT_OK(backend().ReleaseSchedulerLock("b:2"));  // not b's: stays
  EXPECT_FALSE(Value(backend().HoldSchedulerLock("b:2", absl::Seconds(10))));
  ASSERT_OK(backend().ReleaseSchedulerLock("a:1"));
  EXPECT_TRUE(Value(backend().HoldSchedulerLock("b:2", absl::Seconds(2))));
  AdvanceTime(absl::Seconds(3));
  EXPECT_TRUE(Value(backend().HoldSchedulerLock("a:1", absl::Seconds(10))));
  EXPECT_EQ(Value(backend().SchedulerLocks())[0].holder, "a:1");
}

// Two schedulers that both believe they lead (a lock that lapsed mid-turn) still move each item
// once: every MoveDue is one atomic step.
TEST_P(BackendConformance, ConcurrentMovesMoveEachItemOnce) {
  constexpr int kItems = 2000;
  for (int i = 0; i < kItems; ++i) ASSERT_OK(backend().PushDelayed(1000 + i % 50, Item("mail", i)));
  auto mover = [&] {
    for (int turn = 0; turn < kItems; ++turn) {  // bounded: each turn moves one at least
      absl::StatusOr<MoveDueResult> r = backend().MoveDue(DueBy(5000, 7));
      if (!r.ok() || r->moved == 0) return;
    }
  };
  std::thread a(mover), b(mover);
  a.join();
  b.join();
  std::vector<std::string> moved = Value(backend().Peek("mail", 0, kItems + 10));
  ASSERT_EQ(moved.size(), static_cast<size_t>(kItems));
  std::sort(moved.begin(), moved.end());
  EXPECT_EQ(std::unique(moved.begin(), moved.end()), moved.end());
  EXPECT_EQ(Value(backend().DelayedCount()), 0);
}

// ---- Recurring schedules ----

constexpr char kEveryMinute[] = R"({"class":"Tick","queue":"clock","args":[],"every":"60s"})";

TEST_P(BackendConformance, SchedulesAreStoredOnceAndCountTheirOccurrencesFromWhenTheyChanged) {
  EXPECT_TRUE(Value(backend().SetSchedule("tick", kEveryMinute, 1000)));
  EXPECT_FALSE(Value(backend().SetSchedule("tick", kEveryMinute, 5000)));  // the same: kept
  std::vector<ScheduleEntry> all = Value(backend().Schedules());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "tick");
  EXPECT_EQ(all[0].config, kEveryMinute);
  EXPECT_EQ(all[0].last_occurrence, 1000);
  EXPECT_EQ(all[0].last_enqueued_at, "");

  const ScheduleOccurrence at1060{.name = "tick",
                                  .at = 1060,
                                  .queue = "clock",
                                  .payload = R"({"class":"Tick","args":[]})",
                                  .enqueued_at = "then"};
  EXPECT_TRUE(Value(backend().EnqueueOccurrence(at1060)));
  EXPECT_FALSE(Value(backend().EnqueueOccurrence(at1060)));  // once
  ScheduleOccurrence earlier = at1060;
  earlier.at = 1030;
  EXPECT_FALSE(Value(backend().EnqueueOccurrence(earlier)));
  EXPECT_EQ(Value(backend().Size("clock")), 1);
  EXPECT_THAT(Value(backend().Queues()), ::testing::Contains("clock"));
  all = Value(backend().Schedules());
  EXPECT_EQ(all[0].last_occurrence, 1060);
  EXPECT_EQ(all[0].last_enqueued_at, "then");
  // Only counted: nothing pushed.
  EXPECT_TRUE(Value(backend().EnqueueOccurrence({.name = "tick", .at = 1100, .mark_only = true})));
  EXPECT_EQ(Value(backend().Size("clock")), 1);

  // A changed config counts from its own `since`.
  const std::string hourly = R"({"class":"Tick","queue":"clock","args":[],"every":"1h"})";
  EXPECT_TRUE(Value(backend().SetSchedule("tick", hourly, 9000)));
  EXPECT_EQ(Value(backend().Schedules())[0].last_occurrence, 9000);

  EXPECT_TRUE(Value(backend().RemoveSchedule("tick")));
  EXPECT_FALSE(Value(backend().RemoveSchedule("tick")));
  EXPECT_THAT(Value(backend().Schedules()), IsEmpty());
  ScheduleOccurrence later = at1060;
  later.at = 99999;
  EXPECT_FALSE(Value(backend().EnqueueOccurrence(later)));  // a removed schedule enqueues nothing
  EXPECT_EQ(Value(backend().Size("clock")), 1);
  EXPECT_TRUE(absl::IsInvalidArgument(backend().SetSchedule("", kEveryMinute, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(backend().SetSchedule("x", "", 1).status()));
}

// Each occurrence is enqueued once: by the leader, by a new leader after the old one died with
// occurrences pending (its lock lapsed), and not again by a scheduler that restarts.
TEST_P(BackendConformance, EachOccurrenceIsEnqueuedOnceAcrossALeaderChangeAndARestart) {
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  const int64_t start = absl::ToUnixSeconds(clock.Now());
  ASSERT_TRUE(Value(backend().SetSchedule("tick", kEveryMinute, start)));
  Scheduler a(backend(), {.name = "a:1", .clock = &clock});
  Scheduler b(backend(), {.name = "b:1", .clock = &clock});

  clock.Advance(absl::Seconds(59));
  EXPECT_EQ(Value(a.RunOnce()).enqueued, 0);
  clock.Advance(absl::Seconds(1));
  SchedulerTurn turn = Value(a.RunOnce());
  EXPECT_TRUE(turn.leader);
  EXPECT_EQ(turn.enqueued, 1);
  EXPECT_EQ(turn.next_occurrence, start + 120);
  EXPECT_EQ(Value(b.RunOnce()).enqueued, 0);  // not the leader

  // a dies before the next three occurrences; its lock lapses (released here, as a lapse).
  clock.Advance(absl::Seconds(185));
  ASSERT_OK(backend().ReleaseSchedulerLock("a:1"));
  turn = Value(b.RunOnce());
  EXPECT_TRUE(turn.leader);
  EXPECT_EQ(turn.enqueued, 3);  // start+120, +180, +240: late, once each
  EXPECT_EQ(Value(b.RunOnce()).enqueued, 0);

  // b restarts: a new Scheduler, the same store.
  ASSERT_OK(backend().ReleaseSchedulerLock("b:1"));
  Scheduler b2(backend(), {.name = "b:2", .clock = &clock});
  EXPECT_EQ(Value(b2.RunOnce()).enqueued, 0);
  std::vector<std::string> jobs = Value(backend().Peek("clock", 0, 10));
  ASSERT_EQ(jobs.size(), 4u);
  std::set<std::string> ids;
  for (const std::string& j : jobs) ids.insert(Value(DecodePayload(j)).id);
  EXPECT_EQ(ids.size(), 4u);

  // Every scheduler down for an hour: the occurrences of the last catch-up (5 min) run late,
  // the older ones are skipped.
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(Value(b2.RunOnce()).enqueued, 5);
  EXPECT_EQ(Value(backend().Schedules())[0].last_occurrence, start + 240 + 3600);
  ASSERT_OK(backend().ReleaseSchedulerLock("b:2"));
}

TEST_P(BackendConformance, ABadScheduleIsSkippedAndTheOthersRun) {
  ManualClock clock(absl::FromUnixSeconds(1800000000));
  const int64_t start = absl::ToUnixSeconds(clock.Now());
  ASSERT_TRUE(
      Value(backend().SetSchedule("bad", R"({"class":"Tick","cron":"61 * * * *"})", start)));
  ASSERT_TRUE(Value(backend().SetSchedule("tick", kEveryMinute, start)));
  std::vector<std::string> logged;
  Scheduler s(
      backend(),
      {.name = "s:1", .clock = &clock, .log = [&](LogLevel, std::string_view m, const LogFields&) {
         logged.emplace_back(m);
       }});
  clock.Advance(absl::Seconds(60));
  EXPECT_EQ(Value(s.RunOnce()).enqueued, 1);
  EXPECT_EQ(Value(s.RunOnce()).enqueued, 0);
  EXPECT_EQ(
      std::count_if(logged.begin(), logged.end(),
                    [](const std::string& m) { return m.find("\"bad\"") != std::string::npos; }),
      1);
  ASSERT_OK(backend().ReleaseSchedulerLock("s:1"));
}

}  // namespace
}  // namespace resque::testing
