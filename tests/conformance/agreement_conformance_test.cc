// The conformance suite, continued: the places where the backends used to answer differently
// (each decided once in core/backend.cc now), and the one reserve and unreserve verbs with their
// request structs. Compiled into every backend's binary with the rest of the suite.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
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

constexpr char kOwner[] = "host:300:mail";

std::string Job(int n) { return absl::StrFormat(R"({"class":"J","args":[%d],"id":"j%d"})", n, n); }

// Memory accepted jobs of two workers in one finish and Redis rejected them: one worker it is.
TEST_P(BackendConformance, FinishOfJobsOfTwoWorkersIsInvalidArgumentAndAppliesNothing) {
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}"}));
  std::vector<JobFinish> finishes = {{.worker_id = kOwner}, {.worker_id = "host:301:mail"}};
  EXPECT_CODE(backend().FinishJobs(finishes), kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::optional<std::string>("{}"));
}

// Memory said OutOfRange, Redis Internal.
TEST_P(BackendConformance, IncrementStatPastSixtyFourBitsIsOutOfRangeAndChangesNothing) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  ASSERT_EQ(Value(backend().IncrementStat("big", max)), max);
  EXPECT_CODE(backend().IncrementStat("big", 1), kOutOfRange);
  EXPECT_EQ(Value(backend().GetStat("big")), max);
  const int64_t min = std::numeric_limits<int64_t>::min();
  ASSERT_EQ(Value(backend().IncrementStat("small", min)), min);
  EXPECT_CODE(backend().IncrementStat("small", -1), kOutOfRange);
  EXPECT_EQ(Value(backend().GetStat("small")), min);
}

// The NotFound messages were worded differently on each backend.
TEST_P(BackendConformance, NotFoundSaysTheSameOnEveryBackend) {
  absl::StatusOr<std::string> status = backend().GetStatus("nope");
  EXPECT_CODE(status, kNotFound);
  EXPECT_EQ(status.status().message(), "job nope: no status (untracked or expired)");
  ASSERT_OK(backend().PushFailure("{}"));
  absl::Status update = backend().UpdateFailure(1, "{}");
  EXPECT_TRUE(absl::IsNotFound(update)) << update;
  EXPECT_EQ(update.message(), "no failure record at index 1");
  absl::Status remove = backend().RemoveFailure(5);
  EXPECT_TRUE(absl::IsNotFound(remove)) << remove;
  EXPECT_EQ(remove.message(), "no failure record at index 5");
  EXPECT_EQ(Value(backend().FailureCount()), 1);
}

// Redis checked the status TTL of a job without an id (where it is unused), memory did not.
TEST_P(BackendConformance, FinishIgnoresTheStatusTtlOfAJobWithoutAnId) {
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .status_ttl = absl::ZeroDuration()}));
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_CODE(backend().FinishJob(
                  {.worker_id = kOwner, .job_id = "tracked", .status_ttl = absl::ZeroDuration()}),
              kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
}

// Redis rejected an in-flight job with an empty queue name, memory finished it (and found
// nothing to take out).
TEST_P(BackendConformance, FinishOfAnInFlightJobWithoutAQueueIsInvalidArgument) {
  EXPECT_CODE(backend().FinishJob({.worker_id = kOwner, .in_flight = ReservedJob{"", Job(1)}}),
              kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
}

TEST_P(BackendConformance, ReserveRequestTakesUpToMaxJobsOfOneQueueIntoTheOwnersList) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("low", Job(n)));
  ASSERT_OK(backend().Push("high", Job(9)));
  const std::vector<std::string> queues = {"high", "low"};
  ReservedJobs first = Value(backend().Reserve({.queues = queues, .owner = kOwner, .max = 5}));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].payload, Job(9));
  ReservedJobs rest = Value(backend().Reserve({.queues = queues, .owner = kOwner, .max = 2}));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].queue, "low");
  EXPECT_EQ(rest[0].payload, Job(1));
  EXPECT_EQ(rest[1].payload, Job(2));
  EXPECT_EQ(Value(backend().InFlight(kOwner)).size(), 3u);
  ReservedJobs unowned = Value(backend().Reserve({.queues = queues}));
  ASSERT_EQ(unowned.size(), 1u);
  EXPECT_EQ(unowned[0].payload, Job(3));
  EXPECT_EQ(Value(backend().InFlight(kOwner)).size(), 3u);
  EXPECT_THAT(Value(backend().Reserve({.queues = queues, .owner = kOwner, .max = 3})), IsEmpty());
}

TEST_P(BackendConformance, ReserveRequestOfABatchWithoutAnOwnerIsInvalidArgument) {
  ASSERT_OK(backend().Push("low", Job(1)));
  const std::vector<std::string> queues = {"low"};
  EXPECT_CODE(backend().Reserve({.queues = queues, .max = 2}), kInvalidArgument);
  EXPECT_CODE(backend().Reserve({.queues = queues, .owner = kOwner, .max = 0}), kInvalidArgument);
  EXPECT_CODE(backend().Reserve({.queues = queues, .owner = kOwner, .max = kMaxBatch + 1}),
              kInvalidArgument);
  EXPECT_CODE(backend().Reserve({.queues = queues, .wait = absl::Seconds(-1)}), kInvalidArgument);
  EXPECT_CODE(backend().Reserve({}), kInvalidArgument);
  EXPECT_EQ(Value(backend().Size("low")), 1);
}

TEST_P(BackendConformance, UnreserveRequestHandsEachJobBackWithItsOwnStatus) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("mail", Job(n)));
  ASSERT_OK(backend().Push("sms", Job(4)));
  ASSERT_OK(backend().SetStatus("j2", R"({"status":2})", absl::InfiniteDuration(), false));
  const std::vector<std::string> mail = {"mail"};
  const std::vector<std::string> sms = {"sms"};
  ReservedJobs jobs = Value(backend().Reserve({.queues = mail, .owner = kOwner, .max = 3}));
  ReservedJobs text = Value(backend().Reserve({.queues = sms, .owner = kOwner}));
  ASSERT_EQ(jobs.size(), 3u);
  ASSERT_EQ(text.size(), 1u);
  // Mixed queues: each queue gets its own jobs back, in the order given.
  const std::vector<UnreserveJob> back = {
      {.job = jobs[1], .job_id = "j2"}, {.job = text[0]}, {.job = jobs[2], .job_id = "j3"}};
  EXPECT_EQ(
      Value(backend().Unreserve({.owner = kOwner, .jobs = back, .status_json = R"({"status":1})"})),
      3);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(2), Job(3)));
  EXPECT_THAT(Value(backend().Peek("sms", 0, 10)), ElementsAre(Job(4)));
  EXPECT_EQ(Value(backend().GetStatus("j2")), R"({"status":1})");
  EXPECT_CODE(backend().GetStatus("j3"), kNotFound);  // untracked: not created
  std::vector<ReservedJob> still = Value(backend().InFlight(kOwner));
  ASSERT_EQ(still.size(), 1u);
  EXPECT_EQ(still[0].payload, Job(1));
  // Handed back already: nothing moves twice.
  EXPECT_EQ(Value(backend().Unreserve({.owner = kOwner, .jobs = back})), 0);
}

// A job reserved without an owner exists only in its reserver's memory: without an owner it goes
// back to the head of its queue whatever, with its status.
TEST_P(BackendConformance, UnreserveWithoutAnOwnerPutsTheJobsBackAtTheHead) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("mail", Job(n)));
  ASSERT_OK(backend().SetStatus("j1", R"({"status":2})", absl::InfiniteDuration(), false));
  const std::vector<std::string> mail = {"mail"};
  ReservedJobs jobs = Value(backend().Reserve({.queues = mail}));
  ASSERT_EQ(jobs.size(), 1u);
  const std::vector<UnreserveJob> back = {{.job = jobs[0], .job_id = "j1"}};
  EXPECT_EQ(Value(backend().Unreserve({.jobs = back, .status_json = R"({"status":1})"})), 1);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1), Job(2), Job(3)));
  EXPECT_EQ(Value(backend().GetStatus("j1")), R"({"status":1})");
}

// ---- FinishAndReserve: a worker's record and its next reserve in one step ----

TEST_P(BackendConformance, FinishAndReserveRecordsTheJobAndTakesTheNextIntoFlight) {
  ASSERT_OK(backend().Push("low", Job(1)));
  ASSERT_OK(backend().Push("low", Job(2)));
  ASSERT_OK(backend().Push("low", Job(3)));
  ASSERT_OK(backend().SetStatus("j1", R"({"status":2})", absl::InfiniteDuration(), false));
  const std::vector<std::string> queues = {"high", "low"};
  ReservedJobs first = Value(backend().Reserve({.queues = queues, .owner = kOwner}));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}"}));
  const JobFinish done = {
      .worker_id = kOwner, .job_id = "j1", .status_json = R"({"status":4})", .in_flight = first[0]};
  absl::StatusOr<ReservedJobs> next = Value(backend().FinishAndReserve(
      absl::MakeConstSpan(&done, 1), {.queues = queues, .owner = kOwner}));
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].queue, "low");
  EXPECT_EQ((*next)[0].payload, Job(2));
  // The finish is all there: status, counters, working-on record gone, j1 out of flight...
  EXPECT_EQ(Value(backend().GetStatus("j1")), R"({"status":4})");
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().GetStat(std::string("processed:") + kOwner)), 1);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  // ...and the next job took its place in flight.
  std::vector<ReservedJob> held = Value(backend().InFlight(kOwner));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].payload, Job(2));
  EXPECT_THAT(Value(backend().Peek("low", 0, 10)), ElementsAre(Job(3)));

  // Without an owner the next job is only the caller's; with nothing queued, nothing comes.
  const JobFinish second = {.worker_id = kOwner, .in_flight = held[0]};
  next = Value(backend().FinishAndReserve(absl::MakeConstSpan(&second, 1), {.queues = queues}));
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].payload, Job(3));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  const JobFinish third = {.worker_id = kOwner};
  next = Value(backend().FinishAndReserve(absl::MakeConstSpan(&third, 1), {.queues = queues}));
  ASSERT_OK(next);
  EXPECT_THAT(*next, IsEmpty());
  EXPECT_EQ(Value(backend().GetStat("processed")), 3);
}

TEST_P(BackendConformance, FinishAndReserveHonoursThePauseFlagAndStillFinishes) {
  ASSERT_OK(backend().Push("q", Job(1)));
  ASSERT_OK(backend().PauseAllWorkers(true));
  const std::vector<std::string> queues = {"q"};
  bool paused = false;
  const JobFinish done = {.worker_id = kOwner};
  absl::StatusOr<ReservedJobs> next = Value(backend().FinishAndReserve(
      absl::MakeConstSpan(&done, 1), {.queues = queues, .owner = kOwner, .paused = &paused}));
  ASSERT_OK(next);
  EXPECT_THAT(*next, IsEmpty());
  EXPECT_TRUE(paused);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().Size("q")), 1);
}

TEST_P(BackendConformance, FinishAndReserveRefusesAWaitAndBadArgumentsApplyingNothing) {
  ASSERT_OK(backend().Push("q", Job(1)));
  const std::vector<std::string> queues = {"q"};
  const std::vector<std::string> none;
  const JobFinish done = {.worker_id = kOwner};
  EXPECT_CODE(backend().FinishAndReserve(absl::MakeConstSpan(&done, 1),
                                         {.queues = queues, .wait = absl::Seconds(1)}),
              kInvalidArgument);
  EXPECT_CODE(backend().FinishAndReserve(absl::MakeConstSpan(&done, 1), {.queues = none}),
              kInvalidArgument);
  const JobFinish nobody = {.worker_id = ""};
  EXPECT_CODE(backend().FinishAndReserve(absl::MakeConstSpan(&nobody, 1), {.queues = queues}),
              kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
  EXPECT_EQ(Value(backend().Size("q")), 1);
}

// The start folded in: the job taken is shown started as StartJob shows it, for the finish's
// worker, with and without an owner; anything the worker would not start is left to it.
TEST_P(BackendConformance, FinishAndReserveRecordsTheStartOfTheJobItTakes) {
  const std::vector<std::string> queues = {"high", "low"};
  const JobFinish done = {.worker_id = kOwner};
  const auto fold = [&](std::string_view owner, FoldedStart& start) {
    return Value(backend().FinishAndReserve(absl::MakeConstSpan(&done, 1),
                                            {.queues = queues, .owner = owner, .start = &start}));
  };
  const auto running = [](FoldedStart& start) {
    start = {.run_at = R"("2026-12-03T08:00:00Z")",
             .worker = R"("host:300")",
             .status_json = R"({"status":2})",
             .started = true};  // the backend says; a stale value must not stand
    return &start;
  };
  FoldedStart start;
  for (const std::string_view owner : {std::string_view(kOwner), std::string_view()}) {
    SCOPED_TRACE(owner.empty() ? "no owner" : "owner");
    ASSERT_OK(backend().Push("low", Job(1)));
    ASSERT_OK(backend().SetStatus("j1", R"({"status":1})", absl::InfiniteDuration(), false));
    absl::StatusOr<ReservedJobs> next = fold(owner, *running(start));
    ASSERT_OK(next);
    ASSERT_EQ(next->size(), 1u);
    EXPECT_TRUE(start.started);
    EXPECT_EQ(Value(backend().WorkerJob(kOwner)),
              WorkingJson("low", start.run_at, Job(1), start.worker));
    EXPECT_EQ(Value(backend().WorkerJob(kOwner)),
              R"({"queue":"low","run_at":"2026-12-03T08:00:00Z","payload":)" + Job(1) +
                  R"(,"worker":"host:300"})");
    EXPECT_EQ(Value(backend().GetStatus("j1")), R"({"status":2})");
    // Its finish, with the next reserve finding nothing, leaves the worker idle again.
    const JobFinish end = {
        .worker_id = kOwner,
        .in_flight = owner.empty() ? std::nullopt : std::optional<ReservedJob>((*next)[0])};
    next = Value(backend().FinishAndReserve(absl::MakeConstSpan(&end, 1),
                                            {.queues = queues, .owner = owner, .start = &start}));
    ASSERT_OK(next);
    EXPECT_THAT(*next, IsEmpty());
    EXPECT_FALSE(start.started);
    EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  }
  // An untracked job: the worker busy, no status made up.
  ASSERT_OK(backend().Push("high", Job(7)));
  ASSERT_EQ(Value(fold(kOwner, *running(start))).size(), 1u);
  EXPECT_TRUE(start.started);
  EXPECT_TRUE(Value(backend().WorkerJob(kOwner)).has_value());
  EXPECT_CODE(backend().GetStatus("j7"), kNotFound);
  // What the worker fails without starting: not JSON, not an object, no class.
  for (const char* bad : {"not json", "[1,2]", R"({"args":[]})", R"({"class":""})"}) {
    SCOPED_TRACE(bad);
    ASSERT_OK(backend().Push("high", bad));
    absl::StatusOr<ReservedJobs> next = fold("", *running(start));
    ASSERT_OK(next);
    ASSERT_EQ(next->size(), 1u);
    EXPECT_EQ((*next)[0].payload, bad);
    EXPECT_FALSE(start.started);
    EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  }
  // Paused: nothing taken, nothing started.
  ASSERT_OK(backend().Push("high", Job(8)));
  ASSERT_OK(backend().PauseAllWorkers(true));
  bool paused = false;
  absl::StatusOr<ReservedJobs> held = Value(
      backend().FinishAndReserve(absl::MakeConstSpan(&done, 1),
                                 {.queues = queues, .paused = &paused, .start = running(start)}));
  ASSERT_OK(held);
  EXPECT_THAT(*held, IsEmpty());
  EXPECT_TRUE(paused);
  EXPECT_FALSE(start.started);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  ASSERT_OK(backend().PauseAllWorkers(false));
  // A start is for one job; without a finish there is no worker to start it under.
  EXPECT_CODE(backend().FinishAndReserve(
                  absl::MakeConstSpan(&done, 1),
                  {.queues = queues, .owner = kOwner, .max = 2, .start = running(start)}),
              kInvalidArgument);
  EXPECT_FALSE(start.started);
  EXPECT_EQ(Value(backend().Size("high")), 1);
  held = Value(backend().FinishAndReserve({}, {.queues = queues, .start = running(start)}));
  ASSERT_OK(held);
  EXPECT_EQ(held->size(), 1u);
  EXPECT_FALSE(start.started);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
}

// A worker handing back the job it had started (a folded start) is idle again in the same step.
TEST_P(BackendConformance, UnreserveMarksTheIdleWorkerIdle) {
  ASSERT_OK(backend().Push("q", Job(1)));
  const std::vector<std::string> queues = {"q"};
  ReservedJobs taken = Value(backend().Reserve({.queues = queues, .owner = kOwner}));
  ASSERT_EQ(taken.size(), 1u);
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}"}));
  const UnreserveJob back = {.job = taken[0], .job_id = "j1"};
  EXPECT_EQ(Value(backend().Unreserve({.owner = kOwner,
                                       .jobs = absl::MakeConstSpan(&back, 1),
                                       .status_json = R"({"status":1})",
                                       .idle_worker = kOwner})),
            1);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  EXPECT_THAT(Value(backend().Peek("q", 0, 10)), ElementsAre(Job(1)));
  // Without idle_worker the record stays (a batch's unstarted rest goes back so).
  taken = Value(backend().Reserve({.queues = queues, .owner = kOwner}));
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}"}));
  const UnreserveJob again = {.job = taken.at(0)};
  EXPECT_EQ(Value(backend().Unreserve({.owner = kOwner, .jobs = absl::MakeConstSpan(&again, 1)})),
            1);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::optional<std::string>("{}"));
}

// Redis computed the last index as start + count - 1, which overflows for a count near 2^63.
TEST_P(BackendConformance, ARangeWithAHugeCountReturnsEverythingFromItsStart) {
  const int64_t huge = std::numeric_limits<int64_t>::max();
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("mail", Job(n)));
  EXPECT_THAT(Value(backend().Peek("mail", 1, huge)), ElementsAre(Job(2), Job(3)));
  EXPECT_THAT(Value(backend().Peek("mail", 0, huge)), ElementsAre(Job(1), Job(2), Job(3)));
  for (int n : {1, 2}) ASSERT_OK(backend().PushFailure(Job(n)));
  EXPECT_THAT(Value(backend().Failures(1, huge)), ElementsAre(Job(2)));
  EXPECT_THAT(Value(backend().Failures(huge, huge)), IsEmpty());
}

// ---- QueuesForStar: what a worker's "*" stands for ----

TEST_P(BackendConformance, QueuesForStarListsEveryQueueUpToTheLimitThenOnlyTheBusyOnes) {
  for (const char* q : {"c", "a", "b"}) ASSERT_OK(backend().Push(q, Job(1)));
  const std::vector<std::string> b = {"b"};
  ASSERT_EQ(Value(backend().Reserve({.queues = b})).size(), 1u);  // b: known, and empty now
  Backend::StarQueues star = Value(backend().QueuesForStar(3));
  EXPECT_TRUE(star.all);
  EXPECT_THAT(star.queues, ElementsAre("a", "b", "c"));
  star = Value(backend().QueuesForStar(2));
  EXPECT_FALSE(star.all);
  EXPECT_THAT(star.queues, ElementsAre("a", "c"));
  EXPECT_THAT(Value(backend().QueuesForStar(0)).queues, ElementsAre("a", "c"));
  EXPECT_CODE(backend().QueuesForStar(-1), kInvalidArgument);
}

}  // namespace
}  // namespace resque::testing
