// The conformance suite, continued: reliable reserve (in-flight lists), heartbeats and the
// recovery of dead workers. Compiled into every backend's binary with the rest of the suite.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/scheduler.h"
#include "gmock/gmock.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using SteadyClock = std::chrono::steady_clock;

constexpr char kOwner[] = "host:100:mail";

std::string Job(int n) { return absl::StrFormat(R"({"class":"J","args":[%d],"id":"%d"})", n, n); }

std::vector<std::string> Queues(std::initializer_list<const char*> names) {
  return std::vector<std::string>(names.begin(), names.end());
}

std::vector<std::string> Payloads(const std::vector<ReservedJob>& jobs) {
  std::vector<std::string> out;
  for (const ReservedJob& job : jobs) out.push_back(job.payload);
  return out;
}

std::optional<ReservedJob> ReserveNow(Backend& backend, const std::vector<std::string>& queues,
                                      std::string_view owner = kOwner) {
  return Value(backend.ReserveInFlight(queues, absl::ZeroDuration(), owner));
}

TEST_P(BackendConformance, ReserveInFlightMovesThePayloadIntoItsOwnersInFlightList) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", Job(2)));
  std::optional<ReservedJob> job = ReserveNow(backend(), Queues({"mail"}));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "mail");
  EXPECT_EQ(job->payload, Job(1));
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(2)));
  std::vector<ReservedJob> in_flight = Value(backend().InFlight(kOwner));
  ASSERT_EQ(in_flight.size(), 1u);
  EXPECT_EQ(in_flight[0].queue, "mail");
  EXPECT_EQ(in_flight[0].payload, Job(1));
  EXPECT_THAT(Value(backend().InFlight("someone-else")), IsEmpty());
}

TEST_P(BackendConformance, ReserveInFlightTakesQueuesInPriorityOrder) {
  ASSERT_OK(backend().Push("low", Job(1)));
  ASSERT_OK(backend().Push("high", Job(2)));
  std::optional<ReservedJob> job = ReserveNow(backend(), Queues({"high", "low"}));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "high");
  job = ReserveNow(backend(), Queues({"high", "low"}));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "low");
  EXPECT_FALSE(ReserveNow(backend(), Queues({"high", "low"})).has_value());
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(2), Job(1)));
}

TEST_P(BackendConformance, FinishJobTakesTheFinishedPayloadOutOfTheInFlightList) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", Job(2)));
  std::optional<ReservedJob> first = ReserveNow(backend(), Queues({"mail"}));
  std::optional<ReservedJob> second = ReserveNow(backend(), Queues({"mail"}));
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .in_flight = first}));
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(2)));
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .in_flight = second}));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
}

// An automatic retry (core/retry.h): the failed job leaves its in-flight list and goes to the
// delayed jobs in the same step, counted as failed, with no failure record and its status
// waiting.
TEST_P(BackendConformance, FinishWithARetryDelaysTheJobInsteadOfRecordingAFailure) {
  ASSERT_TRUE(backend().SupportsRetry());
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().SetStatus("1", R"({"status":2,"updated":1})", absl::InfiniteDuration(),
                                /*only_if_exists=*/false));
  std::optional<ReservedJob> job = ReserveNow(backend(), Queues({"mail"}));
  ASSERT_TRUE(job.has_value());
  const std::string item = R"({"class":"J","args":[1],"id":"1","queue":"mail","retry_count":1})";
  const std::string waiting = R"({"status":1,"updated":5,"retry_at":4000,"retry_count":1})";
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner,
                                 .job_id = "1",
                                 .status_json = waiting,
                                 .status_ttl = absl::InfiniteDuration(),
                                 .failed = true,
                                 .in_flight = job,
                                 .retry = JobFinish::Retry{.at = 4000, .item = item}}));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_THAT(Value(backend().DelayedItems(4000, 0, 10)), ElementsAre(item));
  EXPECT_EQ(Value(backend().FailureCount()), 0);
  EXPECT_EQ(Value(backend().GetStat("failed")), 1);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().GetStatus("1")), waiting);
  // Due, it moves back to its queue as any delayed item, fields and all.
  MoveDueRequest due{.now = 4000, .max = 10};
  SetBadItemRecord(due, absl::FromUnixSeconds(4000), "host:1:scheduler");
  EXPECT_EQ(Value(backend().MoveDue(due)).moved, 1);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(item));
  // A finish sent again (its reply was lost) delays the retry no second time.
  ASSERT_OK(backend().Push("mail", Job(2)));
  std::optional<ReservedJob> again = ReserveNow(backend(), Queues({"mail"}));
  ASSERT_TRUE(again.has_value());
  const JobFinish twice{.worker_id = kOwner,
                        .failed = true,
                        .in_flight = again,
                        .retry = JobFinish::Retry{.at = 5000, .item = item}};
  ASSERT_OK(backend().FinishJob(twice));
  ASSERT_OK(backend().FinishJob(twice));
  EXPECT_THAT(Value(backend().DelayedItems(5000, 0, 10)), ElementsAre(item));
  // A retry of a job that did not fail is refused.
  EXPECT_TRUE(absl::IsInvalidArgument(backend().FinishJob(
      {.worker_id = kOwner, .retry = JobFinish::Retry{.at = 1, .item = item}})));
}

TEST_P(BackendConformance, FinishJobRemovesOneCopyOfAPayloadReservedTwice) {
  // Two identical payloads (a job enqueued twice): finishing one leaves the other in flight.
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", Job(1)));
  std::optional<ReservedJob> job = ReserveNow(backend(), Queues({"mail"}));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .in_flight = job}));
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, ReserveInFlightWaitsForAPushToItsOneQueue) {
  std::optional<ReservedJob> got;
  std::thread reserver([this, &got] {
    got = Value(backend().ReserveInFlight(Queues({"mail"}), absl::Seconds(10), kOwner));
  });
  AwaitWaitingReservers(1, absl::Seconds(5));
  const SteadyClock::time_point pushed = SteadyClock::now();
  ASSERT_OK(backend().Push("mail", Job(7)));
  reserver.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, Job(7));
  EXPECT_LT(absl::FromChrono(SteadyClock::now() - pushed), absl::Seconds(5));
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(7)));
}

TEST_P(BackendConformance, ReserveInFlightWaitsForAPushToAnyOfSeveralQueues) {
  std::optional<ReservedJob> got;
  std::thread reserver([this, &got] {
    got = Value(backend().ReserveInFlight(Queues({"high", "low"}), absl::Seconds(10), kOwner));
  });
  const SteadyClock::time_point pushed = SteadyClock::now();
  ASSERT_OK(backend().Push("low", Job(8)));
  reserver.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->queue, "low");
  EXPECT_LT(absl::FromChrono(SteadyClock::now() - pushed), absl::Seconds(5));
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(8)));
}

TEST_P(BackendConformance, ReserveInFlightReturnsNothingOnceTheWaitIsOver) {
  for (const std::vector<std::string>& queues : {Queues({"a"}), Queues({"a", "b"})}) {
    const SteadyClock::time_point start = SteadyClock::now();
    EXPECT_FALSE(
        Value(backend().ReserveInFlight(queues, absl::Milliseconds(200), kOwner)).has_value());
    const absl::Duration took = absl::FromChrono(SteadyClock::now() - start);
    EXPECT_GE(took, absl::Milliseconds(150));
    EXPECT_LT(took, absl::Seconds(5));
  }
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
}

TEST_P(BackendConformance, ReserveInFlightRejectsBadArguments) {
  EXPECT_CODE(backend().ReserveInFlight(Queues({"a"}), absl::ZeroDuration(), ""), kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlight({}, absl::ZeroDuration(), kOwner), kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlight(Queues({""}), absl::ZeroDuration(), kOwner),
              kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlight(Queues({"a"}), absl::Seconds(-1), kOwner),
              kInvalidArgument);
  EXPECT_CODE(backend().InFlight(""), kInvalidArgument);
  EXPECT_CODE(backend().RecoverWorker("", std::nullopt), kInvalidArgument);
}

TEST_P(BackendConformance, APlainReserveNeverSeesAJobInFlight) {
  // A peer that LPOPs the same queue (php-resque, node-resque) cannot take a job in flight.
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  EXPECT_FALSE(Value(backend().Reserve(Queues({"mail"}), absl::ZeroDuration())).has_value());
}

TEST_P(BackendConformance, HeartbeatsListEveryWorkersLastBeatSorted) {
  ASSERT_OK(backend().Heartbeat({"w2", "w1"}, "2026-11-25T10:00:00Z"));
  ASSERT_OK(backend().Heartbeat({"w2"}, "2026-11-25T10:00:05Z"));
  EXPECT_THAT(Value(backend().Heartbeats()),
              ElementsAre(std::pair<std::string, std::string>("w1", "2026-11-25T10:00:00Z"),
                          std::pair<std::string, std::string>("w2", "2026-11-25T10:00:05Z")));
}

TEST_P(BackendConformance, UnregisterWorkerForgetsItsHeartbeatButNotItsJobsInFlight) {
  ASSERT_OK(backend().RegisterWorker(kOwner, "now"));
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:00Z"));
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_OK(backend().UnregisterWorker(kOwner));
  EXPECT_THAT(Value(backend().Heartbeats()), IsEmpty());
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, RecoverWorkerPutsItsJobsBackAtTheHeadOldestFirst) {
  for (int i = 1; i <= 4; ++i) ASSERT_OK(backend().Push("mail", Job(i)));
  ASSERT_OK(backend().Push("other", Job(9)));
  ASSERT_OK(backend().RegisterWorker(kOwner, "now"));
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:00Z"));
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}"}));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_TRUE(ReserveNow(backend(), Queues({"other"})).has_value());

  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, std::nullopt)), std::optional<int64_t>(3));
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1), Job(2), Job(3), Job(4)));
  EXPECT_THAT(Value(backend().Peek("other", 0, 10)), ElementsAre(Job(9)));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  EXPECT_THAT(Value(backend().Heartbeats()), IsEmpty());
  // The next reserve, by anyone, takes the recovered job first.
  std::optional<ReservedJob> next =
      Value(backend().Reserve(Queues({"mail"}), absl::ZeroDuration()));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->payload, Job(1));
}

TEST_P(BackendConformance, RecoverWorkerListsAQueueThatWasRemovedMeanwhile) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_OK(backend().RemoveQueue("mail"));
  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, std::nullopt)), std::optional<int64_t>(1));
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("mail"));
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, RecoverWorkerActsOnlyWhileTheHeartbeatIsTheOneSeen) {
  ASSERT_OK(backend().RegisterWorker(kOwner, "now"));
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:05Z"));
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());

  // It beat again since the recoverer looked: it is alive, nothing happens.
  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, "2026-11-25T10:00:00Z")), std::nullopt);
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(1)));
  EXPECT_THAT(Value(backend().Workers()), ElementsAre(kOwner));

  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, "2026-11-25T10:00:05Z")),
            std::optional<int64_t>(1));
  // A second recoverer that saw the same heartbeat finds nothing to do.
  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, "2026-11-25T10:00:05Z")), std::nullopt);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, RacingRecoverersHandBackEachJobExactlyOnce) {
  constexpr int kJobs = 20;
  constexpr int kRecoverers = 4;
  for (int i = 0; i < kJobs; ++i) ASSERT_OK(backend().Push("mail", Job(i)));
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:00Z"));
  std::atomic<int> winners{0};
  std::atomic<int64_t> moved{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRecoverers; ++t) {
    threads.emplace_back([this, &winners, &moved] {
      absl::StatusOr<std::optional<int64_t>> r =
          backend().RecoverWorker(kOwner, std::string("2026-11-25T10:00:00Z"));
      if (r.ok() && r->has_value()) {
        winners.fetch_add(1);
        moved.fetch_add(**r);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(moved.load(), kJobs);
  EXPECT_EQ(Value(backend().Size("mail")), kJobs);
}

TEST_P(BackendConformance, RecoverAWorkerWithNothingInFlightUnregistersIt) {
  ASSERT_OK(backend().RegisterWorker(kOwner, "now"));
  EXPECT_EQ(Value(backend().RecoverWorker(kOwner, std::nullopt)), std::optional<int64_t>(0));
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

// ---- Mixed fleets: declared rules, peers' dirty exits, orphans ----

constexpr char kPeer[] = "ruby-host:777:mail";

// A working-on record as Ruby writes it (worker.rb#working_on), for `payload`.
std::string Working(const std::string& payload) {
  return absl::StrFormat(R"({"queue":"mail","run_at":"2026-11-25T10:00:00Z","payload":%s})",
                         payload);
}

// A failure record as Ruby's pruning of `worker` writes it (Resque::Failure::Redis#save).
std::string RubyDirtyExit(const std::string& worker, const std::string& payload) {
  return absl::StrFormat(
      R"({"failed_at":"2026/11/25 10:05:00 UTC","payload":%s,"exception":"Resque::PruneDeadWorkerDirtyExit","error":"Worker %s did not gracefully exit while processing J","backtrace":[],"worker":"%s","queue":"mail"})",
      payload, worker, worker);
}

DirtyExit ADirtyExit(const std::string& payload, const std::string& job_id) {
  return {.working_json = Working(payload),
          .failure_json = RubyDirtyExit(kPeer, payload),
          .job_id = job_id,
          .status_json = R"({"status":3,"updated":1764064800})"};
}

TEST_P(BackendConformance, ReadLivenessGivesEachHeartbeatTheDeadAfterItsWorkerDeclared) {
  ASSERT_OK(backend().RegisterWorker(kOwner, "now", {.dead_after = absl::Seconds(45)}));
  ASSERT_OK(backend().RegisterWorker(kPeer, "now"));
  ASSERT_OK(backend().Heartbeat({kOwner, kPeer}, "2026-11-25T10:00:00Z"));
  const LivenessView view = Value(backend().ReadLiveness());
  ASSERT_EQ(view.beats.size(), 2u);
  EXPECT_EQ(view.beats[0].worker_id, kOwner);
  EXPECT_EQ(view.beats[0].dead_after, std::optional<absl::Duration>(absl::Seconds(45)));
  EXPECT_EQ(view.beats[1].worker_id, kPeer);
  EXPECT_EQ(view.beats[1].dead_after, std::nullopt);  // a peer's: no declaration
  EXPECT_THAT(view.orphans, IsEmpty());
  // Unregistered, it declares nothing any more.
  ASSERT_OK(backend().UnregisterWorker(kOwner));
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:05Z"));
  EXPECT_EQ(Value(backend().ReadLiveness()).beats[0].dead_after, std::nullopt);
  EXPECT_CODE(backend().RegisterWorker(kOwner, "now", {.dead_after = absl::ZeroDuration()}),
              kInvalidArgument);
}

TEST_P(BackendConformance, AnInFlightOwnerUnregisteredBySomeoneElseIsAnOrphanRecoveredOnce) {
  ASSERT_OK(backend().RegisterWorker(kOwner, "now",
                                     {.dead_after = absl::Seconds(60), .in_flight = true}));
  ASSERT_OK(backend().Heartbeat({kOwner}, "2026-11-25T10:00:00Z"));
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  EXPECT_THAT(Value(backend().ReadLiveness()).orphans, IsEmpty());
  // Registered or beating, it is no orphan: the condition is checked again.
  EXPECT_EQ(Value(backend().RecoverWorker({.worker_id = kOwner, .if_orphaned = true})),
            std::nullopt);

  ASSERT_OK(backend().UnregisterWorker(kOwner));  // as a peer's pruning does
  EXPECT_THAT(Value(backend().ReadLiveness()).orphans, ElementsAre(kOwner));
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker({.worker_id = kOwner, .if_orphaned = true}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->handed_back, 1);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
  EXPECT_THAT(Value(backend().ReadLiveness()).orphans, IsEmpty());
  EXPECT_EQ(Value(backend().RecoverWorker({.worker_id = kOwner, .if_orphaned = true})),
            std::nullopt);
  EXPECT_EQ(Value(backend().Size("mail")), 1);
}

TEST_P(BackendConformance, ARecoveryLeavesOutTheJobsAPeerRecordedAsDirtyExits) {
  const std::string untracked = R"({"class":"J","args":[{"b":1,"a":[2]}]})";
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", untracked));
  ASSERT_OK(backend().Push("mail", Job(3)));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  // The peer's records: job 1 by id, the untracked one by class and args (keys in another
  // order), a record of another worker for job 3 and one that is no DirtyExit.
  ASSERT_OK(backend().PushFailure(RubyDirtyExit(kOwner, Job(1))));
  ASSERT_OK(
      backend().PushFailure(RubyDirtyExit(kOwner, R"({"class":"J","args":[{"a":[2],"b":1}]})")));
  ASSERT_OK(backend().PushFailure(RubyDirtyExit("other:1:mail", Job(3))));
  ASSERT_OK(backend().PushFailure(absl::StrFormat(
      R"({"payload":%s,"exception":"RuntimeError","error":"x","worker":"%s","queue":"mail"})",
      Job(3), kOwner)));
  const std::optional<RecoverResult> r = Value(backend().RecoverWorker({.worker_id = kOwner}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->handed_back, 1);
  EXPECT_EQ(r->already_failed, 2);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(3)));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_EQ(Value(backend().FailureCount()), 4);
}

TEST_P(BackendConformance, RecoverWorkerRecordsTheDirtyExitOfAJobThatWasNotInFlight) {
  const std::string payload = Job(7);
  ASSERT_OK(backend().SetStatus("7", R"({"status":2})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().RegisterWorker(kPeer, "now"));
  ASSERT_OK(backend().StartJob({.worker_id = kPeer, .working_json = Working(payload)}));
  ASSERT_OK(backend().IncrementStat("failed", 2));
  // The record changed since it was read: nothing happens.
  DirtyExit stale = ADirtyExit(payload, "7");
  stale.working_json = Working(Job(8));
  EXPECT_EQ(Value(backend().RecoverWorker({.worker_id = kPeer, .dirty_exit = stale})),
            std::nullopt);
  EXPECT_THAT(Value(backend().Workers()), ElementsAre(kPeer));
  EXPECT_EQ(Value(backend().FailureCount()), 0);

  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker({.worker_id = kPeer, .dirty_exit = ADirtyExit(payload, "7")}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->dirty_exits, 1);
  EXPECT_EQ(r->handed_back, 0);
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(RubyDirtyExit(kPeer, payload)));
  EXPECT_EQ(Value(backend().GetStat("failed")), 3);
  EXPECT_EQ(Value(backend().GetStatus("7")), R"({"status":3,"updated":1764064800})");
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  EXPECT_EQ(Value(backend().WorkerJob(kPeer)), std::nullopt);
  // A finished status expires after a day, as Finish's does.
  AdvanceTime(absl::Hours(24) + absl::Seconds(1));
  EXPECT_CODE(backend().GetStatus("7"), kNotFound);
}

TEST_P(BackendConformance, AJobInFlightGoesBackInsteadOfBeingRecordedAsADirtyExit) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  std::optional<ReservedJob> job = ReserveNow(backend(), Queues({"mail"}), kPeer);
  ASSERT_TRUE(job.has_value());
  ASSERT_OK(backend().StartJob({.worker_id = kPeer, .working_json = Working(Job(1))}));
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker({.worker_id = kPeer, .dirty_exit = ADirtyExit(Job(1), "1")}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->handed_back, 1);
  EXPECT_EQ(r->dirty_exits, 0);
  EXPECT_EQ(Value(backend().FailureCount()), 0);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, ConcurrentReliableWorkersTakeEveryJobExactlyOnce) {
  constexpr int kJobs = 300;
  constexpr int kConsumers = 3;
  std::vector<std::thread> consumers;
  std::vector<std::vector<std::string>> taken(kConsumers);
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([this, c, &taken] {
      const std::string owner = absl::StrFormat("host:1-%d:a,b", c);
      for (int i = 0; i < kJobs; ++i) {
        absl::StatusOr<std::optional<ReservedJob>> job =
            backend().ReserveInFlight(Queues({"a", "b"}), absl::Seconds(2), owner);
        if (!job.ok() || !job->has_value()) break;
        taken[c].push_back((*job)->payload);
        EXPECT_OK(backend().FinishJob({.worker_id = owner, .in_flight = *job}));
      }
    });
  }
  for (int i = 0; i < kJobs; ++i) EXPECT_OK(backend().Push(i % 2 == 0 ? "a" : "b", Job(i)));
  for (std::thread& t : consumers) t.join();
  std::vector<std::string> all;
  for (const auto& mine : taken) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected;
  for (int i = 0; i < kJobs; ++i) expected.push_back(Job(i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
  for (int c = 0; c < kConsumers; ++c) {
    EXPECT_THAT(Value(backend().InFlight(absl::StrFormat("host:1-%d:a,b", c))), IsEmpty());
  }
}

// ---- Poison jobs: a job whose run took its worker down, counted by the recoveries ----

constexpr char kWaiting[] = R"({"status":1,"updated":1764064800})";
constexpr char kRunning[] = R"({"status":2,"updated":1764064800})";

// The recovery of our worker kOwner, found dead while it ran `running` (its working-on record).
RecoverRequest DeathWhileRunning(const DirtyExit& exit, int64_t max_recoveries) {
  return {.worker_id = kOwner,
          .dirty_exit = exit,
          .max_recoveries = max_recoveries,
          .waiting_status_json = kWaiting};
}

DirtyExit PoisonExit(const std::string& payload, const std::string& job_id) {
  DirtyExit exit = ADirtyExit(payload, job_id);
  exit.payload_json = payload;
  exit.poison_failure_json = absl::StrFormat(
      R"({"payload":%s,"exception":"resque::PoisonJob","worker":"%s","queue":"mail"})", payload,
      kOwner);
  return exit;
}

// kOwner takes the head of "mail" in flight and starts it, as a worker does.
void TakeAndStart(Backend& backend) {
  ASSERT_OK(backend.RegisterWorker(kOwner, "now", {.in_flight = true}));
  std::optional<ReservedJob> job = ReserveNow(backend, Queues({"mail"}));
  ASSERT_TRUE(job.has_value());
  ASSERT_OK(backend.StartJob({.worker_id = kOwner,
                              .working_json = Working(job->payload),
                              .job_id = "1",
                              .status_json = kRunning}));
}

TEST_P(BackendConformance, AJobThatTookItsWorkerDownMaxRecoveriesTimesIsFailedNotQueued) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", Job(2)));
  ASSERT_OK(backend().SetStatus("1", kWaiting, absl::InfiniteDuration(), false));
  for (int death = 1; death <= 2; ++death) {
    TakeAndStart(backend());
    EXPECT_EQ(Value(backend().GetStatus("1")), kRunning);
    const std::optional<RecoverResult> r =
        Value(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(1), "1"), 3)));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->handed_back, 1);
    EXPECT_EQ(r->recoveries, death);
    EXPECT_EQ(r->poisoned, 0);
    EXPECT_EQ(r->dirty_exits, 0);
    // Back at the head, waiting again.
    EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1), Job(2)));
    EXPECT_EQ(Value(backend().GetStatus("1")), kWaiting);
  }
  TakeAndStart(backend());
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(1), "1"), 3)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->handed_back, 0);
  EXPECT_EQ(r->recoveries, 3);
  EXPECT_EQ(r->poisoned, 1);
  EXPECT_EQ(r->dirty_exits, 0);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(2)));
  EXPECT_THAT(Value(backend().Failures(0, 10)),
              ElementsAre(PoisonExit(Job(1), "1").poison_failure_json));
  EXPECT_EQ(Value(backend().GetStat("failed")), 1);
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
  EXPECT_EQ(Value(backend().GetStatus("1")), R"({"status":3,"updated":1764064800})");
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  // Its count was forgotten: the same payload queued again starts afresh.
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"}), "host:200:mail").has_value());  // Job(2)
  TakeAndStart(backend());
  EXPECT_EQ(
      Value(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(1), "1"), 3)))->recoveries, 1);
}

TEST_P(BackendConformance, OnlyTheJobTheWorkerWasRunningIsCountedAgainstItsMaxRecoveries) {
  for (int n = 1; n <= 3; ++n) ASSERT_OK(backend().Push("mail", Job(n)));
  ASSERT_OK(backend().RegisterWorker(kOwner, "now", {.in_flight = true}));
  ASSERT_EQ(Value(backend().ReserveInFlightMany(Queues({"mail"}), absl::ZeroDuration(), kOwner, 3))
                .size(),
            3u);
  // The batch's second job was running: it alone is failed, the others go back in order.
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = Working(Job(2))}));
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(2), "2"), 1)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->poisoned, 1);
  EXPECT_EQ(r->handed_back, 2);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1), Job(3)));
  EXPECT_EQ(Value(backend().FailureCount()), 1);
}

TEST_P(BackendConformance, ARecoveryWithoutMaxRecoveriesOrWithoutARunningJobCountsNothing) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  for (int i = 0; i < 3; ++i) {
    TakeAndStart(backend());
    RecoverRequest request = DeathWhileRunning(PoisonExit(Job(1), "1"), 1);
    if (i == 0) request.max_recoveries = 0;  // not counted
    if (i == 1) request.dirty_exit.reset();  // no running job known (an orphan, a clean stop)
    if (i == 2) request.dirty_exit->payload_json = Job(9);  // it ran a job not in flight
    if (i == 2) request.dirty_exit->working_json = Working(Job(1));
    const std::optional<RecoverResult> r = Value(backend().RecoverWorker(request));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->handed_back, 1);
    EXPECT_EQ(r->recoveries, 0);
    EXPECT_EQ(r->poisoned, 0);
  }
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
  EXPECT_EQ(Value(backend().FailureCount()), 0);
}

TEST_P(BackendConformance, RecoveryCountsAreForgottenADayAfterTheLastOne) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  for (int death = 1; death <= 2; ++death) {
    TakeAndStart(backend());
    ASSERT_OK(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(1), "1"), 3)).status());
    AdvanceTime(kRecoveryCountTtl - absl::Minutes(1));
  }
  AdvanceTime(absl::Minutes(2));
  TakeAndStart(backend());
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker(DeathWhileRunning(PoisonExit(Job(1), "1"), 3)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->recoveries, 1);
  EXPECT_EQ(r->poisoned, 0);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
}

TEST_P(BackendConformance, EveryTrackedJobARecoveryHandsBackIsWaitingAgain) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  ASSERT_OK(backend().Push("mail", R"({"class":"J","args":[],"id":"untracked"})"));
  ASSERT_OK(backend().SetStatus("1", kRunning, absl::InfiniteDuration(), false));
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  ASSERT_TRUE(ReserveNow(backend(), Queues({"mail"})).has_value());
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker({.worker_id = kOwner, .waiting_status_json = kWaiting}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->handed_back, 2);
  EXPECT_EQ(Value(backend().GetStatus("1")), kWaiting);
  EXPECT_CODE(backend().GetStatus("untracked"), kNotFound);  // only if it exists
}

}  // namespace
}  // namespace resque::testing
