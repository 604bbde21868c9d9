// The conformance suite: what every Backend must do, written once against the interface. It is
// compiled into each backend's test binary (see CMakeLists.txt), which instantiates it. Nothing
// here may assume a particular backend: time moves only through AdvanceTime, and waits are
// measured with generous upper bounds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
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
using SteadyClock = std::chrono::steady_clock;

// A payload as php-resque writes it.
std::string Job(std::string_view class_name, std::string_view id = "",
                std::string_view args = "[]") {
  if (id.empty()) return absl::StrFormat(R"({"class":"%s","args":%s})", class_name, args);
  return absl::StrFormat(R"({"class":"%s","args":%s,"id":"%s"})", class_name, args, id);
}

std::vector<std::string> Queues(std::initializer_list<const char*> names) {
  return std::vector<std::string>(names.begin(), names.end());
}

absl::Duration Since(SteadyClock::time_point start) {
  return absl::FromChrono(SteadyClock::now() - start);
}

// Reserves without waiting; nullopt when nothing is there.
std::optional<ReservedJob> ReserveNow(Backend& backend, const std::vector<std::string>& queues) {
  return Value(backend.Reserve(queues, absl::ZeroDuration()));
}

// Reserves from `queue` until it is empty (at most 1000 payloads); the payloads in order.
std::vector<std::string> Drain(Backend& backend, const std::string& queue) {
  std::vector<std::string> out;
  for (int i = 0; i < 1000; ++i) {
    std::optional<ReservedJob> job = ReserveNow(backend, {queue});
    if (!job.has_value()) break;
    out.push_back(job->payload);
  }
  return out;
}

// ---- Push and Reserve ----

TEST_P(BackendConformance, ReserveReturnsThePushedPayloadUnchangedWithItsQueue) {
  const std::string payload = R"({"class":"PHP_Job","args":[{"a" : 1}],"id":"x","extra":[true]})";
  ASSERT_OK(backend().Push("mail", payload));
  std::optional<ReservedJob> job = ReserveNow(backend(), {"mail"});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "mail");
  EXPECT_EQ(job->payload, payload);
  EXPECT_EQ(Value(backend().Size("mail")), 0);
}

TEST_P(BackendConformance, ReserveKeepsPayloadsThatAreNotJobs) {
  // A queue is a list of strings; decoding is the worker's business.
  ASSERT_OK(backend().Push("q", "not json at all"));
  std::optional<ReservedJob> job = ReserveNow(backend(), {"q"});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->payload, "not json at all");
}

TEST_P(BackendConformance, ReserveReturnsJobsInPushOrder) {
  for (int i = 0; i < 20; ++i) ASSERT_OK(backend().Push("q", Job("J", absl::StrFormat("%d", i))));
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(Job("J", absl::StrFormat("%d", i)));
  EXPECT_EQ(Drain(backend(), "q"), expected);
}

TEST_P(BackendConformance, ReserveReturnsJobsInQueuePriorityOrder) {
  ASSERT_OK(backend().Push("low", Job("Low1")));
  ASSERT_OK(backend().Push("high", Job("High1")));
  ASSERT_OK(backend().Push("low", Job("Low2")));
  ASSERT_OK(backend().Push("high", Job("High2")));
  const std::vector<std::string> order = Queues({"high", "empty", "low"});
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    std::optional<ReservedJob> job = ReserveNow(backend(), order);
    ASSERT_TRUE(job.has_value());
    got.push_back(job->queue + " " + job->payload);
  }
  EXPECT_THAT(got, ElementsAre("high " + Job("High1"), "high " + Job("High2"), "low " + Job("Low1"),
                               "low " + Job("Low2")));
  EXPECT_FALSE(ReserveNow(backend(), order).has_value());
}

TEST_P(BackendConformance, ReserveOnAnEmptyQueueReturnsNothingAtOnce) {
  ASSERT_OK(backend().Push("q", Job("J")));
  ASSERT_TRUE(ReserveNow(backend(), {"q"}).has_value());
  const SteadyClock::time_point start = SteadyClock::now();
  EXPECT_FALSE(ReserveNow(backend(), {"q"}).has_value());
  EXPECT_LT(Since(start), absl::Seconds(5));
}

TEST_P(BackendConformance, ReserveOnAnUnknownQueueReturnsNothing) {
  EXPECT_FALSE(ReserveNow(backend(), {"never-pushed"}).has_value());
  EXPECT_EQ(Value(backend().Size("never-pushed")), 0);
}

TEST_P(BackendConformance, ReserveWithAWaitReturnsNothingOnceTheWaitHasPassed) {
  const absl::Duration wait = absl::Milliseconds(300);
  const SteadyClock::time_point start = SteadyClock::now();
  absl::StatusOr<std::optional<ReservedJob>> job = backend().Reserve(Queues({"a", "b"}), wait);
  const absl::Duration elapsed = Since(start);
  ASSERT_OK(job);
  EXPECT_FALSE(job->has_value());
  EXPECT_GE(elapsed, wait);
  EXPECT_LT(elapsed, wait + absl::Seconds(10));
}

TEST_P(BackendConformance, ReserveWithAWaitReturnsAJobAlreadyThereAtOnce) {
  ASSERT_OK(backend().Push("b", Job("J")));
  const SteadyClock::time_point start = SteadyClock::now();
  std::optional<ReservedJob> job = Value(backend().Reserve(Queues({"a", "b"}), absl::Seconds(30)));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "b");
  EXPECT_LT(Since(start), absl::Seconds(10));
}

// Calls Reserve(queues, wait) in another thread and, once it waits (when the backend can tell;
// else perhaps before), pushes `payload` to `push_to`. Returns what Reserve returned.
// `backend` is called in each thread for the Backend it is to use (a session is for one thread).
absl::StatusOr<std::optional<ReservedJob>> ReserveThenPush(
    const std::function<Backend&()>& backend,
    const std::function<bool(int, absl::Duration)>& await_waiting,
    const std::vector<std::string>& queues, absl::Duration wait, const std::string& push_to,
    const std::string& payload) {
  absl::StatusOr<std::optional<ReservedJob>> result = absl::UnknownError("Reserve did not return");
  std::thread reserver([&] { result = backend().Reserve(queues, wait); });
  await_waiting(1, absl::Seconds(10));
  EXPECT_OK(backend().Push(push_to, payload));
  reserver.join();
  return result;
}

TEST_P(BackendConformance, ReserveWithAWaitWakesOnAPushToTheSecondQueue) {
  const absl::Duration wait = absl::Seconds(30);
  const SteadyClock::time_point start = SteadyClock::now();
  std::optional<ReservedJob> job =
      Value(ReserveThenPush([this]() -> Backend& { return backend(); },
                            [this](int n, absl::Duration t) { return AwaitWaitingReservers(n, t); },
                            Queues({"first", "second"}), wait, "second", Job("Wake")));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "second");
  EXPECT_EQ(job->payload, Job("Wake"));
  EXPECT_LT(Since(start), wait - absl::Seconds(10));
}

TEST_P(BackendConformance, ReserveWithAWaitIgnoresPushesToOtherQueues) {
  const absl::Duration wait = absl::Milliseconds(500);
  const SteadyClock::time_point start = SteadyClock::now();
  std::optional<ReservedJob> job =
      Value(ReserveThenPush([this]() -> Backend& { return backend(); },
                            [this](int n, absl::Duration t) { return AwaitWaitingReservers(n, t); },
                            Queues({"mine"}), wait, "other", Job("NotForMe")));
  EXPECT_FALSE(job.has_value());
  EXPECT_GE(Since(start), wait);
  EXPECT_EQ(Value(backend().Size("other")), 1);
}

TEST_P(BackendConformance, ReserveRejectsAnEmptyListANegativeWaitAndEmptyNames) {
  EXPECT_CODE(backend().Reserve({}, absl::ZeroDuration()), kInvalidArgument);
  EXPECT_CODE(backend().Reserve({}, absl::Seconds(1)), kInvalidArgument);
  EXPECT_CODE(backend().Reserve(Queues({"q", ""}), absl::ZeroDuration()), kInvalidArgument);
  EXPECT_CODE(backend().Reserve(Queues({"q"}), absl::Seconds(-1)), kInvalidArgument);
}

TEST_P(BackendConformance, PushManyAppendsEveryPayloadInOrder) {
  ASSERT_OK(backend().Push("q", Job("First")));
  const std::vector<std::string> more = {Job("A"), Job("B"), Job("C")};
  ASSERT_OK(backend().PushMany("q", more));
  EXPECT_EQ(Value(backend().Size("q")), 4);
  EXPECT_THAT(Drain(backend(), "q"), ElementsAre(Job("First"), Job("A"), Job("B"), Job("C")));
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("q"));
}

TEST_P(BackendConformance, PushManyOfNothingAddsNothing) {
  ASSERT_OK(backend().PushMany("q", {}));
  EXPECT_EQ(Value(backend().Size("q")), 0);
  EXPECT_FALSE(ReserveNow(backend(), {"q"}).has_value());
}

TEST_P(BackendConformance, EveryQueueVerbRejectsAnEmptyQueueName) {
  EXPECT_CODE(backend().Push("", Job("J")), kInvalidArgument);
  EXPECT_CODE(backend().PushMany("", std::vector<std::string>{Job("J")}), kInvalidArgument);
  EXPECT_CODE(backend().Size(""), kInvalidArgument);
  EXPECT_CODE(backend().Peek("", 0, 1), kInvalidArgument);
  EXPECT_CODE(backend().RemoveQueue(""), kInvalidArgument);
  EXPECT_CODE(backend().RemoveJobs("", {.class_name = "J"}), kInvalidArgument);
  EXPECT_THAT(Value(backend().Queues()), IsEmpty());
}

// ---- Size, Peek, Queues ----

TEST_P(BackendConformance, SizeCountsWhatIsQueued) {
  EXPECT_EQ(Value(backend().Size("q")), 0);
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().Push("q", Job("J")));
  EXPECT_EQ(Value(backend().Size("q")), 3);
  ASSERT_TRUE(ReserveNow(backend(), {"q"}).has_value());
  EXPECT_EQ(Value(backend().Size("q")), 2);
  EXPECT_EQ(Value(backend().Size("other")), 0);
}

TEST_P(BackendConformance, PeekReturnsARangeFromTheHeadWithoutTakingIt) {
  for (const char* c : {"A", "B", "C", "D"}) ASSERT_OK(backend().Push("q", Job(c)));
  EXPECT_THAT(Value(backend().Peek("q", 0, 1)), ElementsAre(Job("A")));
  EXPECT_THAT(Value(backend().Peek("q", 1, 2)), ElementsAre(Job("B"), Job("C")));
  EXPECT_THAT(Value(backend().Peek("q", 2, 100)), ElementsAre(Job("C"), Job("D")));
  EXPECT_THAT(Value(backend().Peek("q", 0, 4)),
              ElementsAre(Job("A"), Job("B"), Job("C"), Job("D")));
  EXPECT_EQ(Value(backend().Size("q")), 4);
  ASSERT_TRUE(ReserveNow(backend(), {"q"}).has_value());
  EXPECT_THAT(Value(backend().Peek("q", 0, 1)), ElementsAre(Job("B")));
}

TEST_P(BackendConformance, PeekPastTheEndOfZeroOrOnAnUnknownQueueIsEmpty) {
  ASSERT_OK(backend().Push("q", Job("A")));
  EXPECT_THAT(Value(backend().Peek("q", 1, 10)), IsEmpty());
  EXPECT_THAT(Value(backend().Peek("q", 1000000, 1)), IsEmpty());
  EXPECT_THAT(Value(backend().Peek("q", 0, 0)), IsEmpty());
  EXPECT_THAT(Value(backend().Peek("unknown", 0, 10)), IsEmpty());
}

TEST_P(BackendConformance, PeekRejectsNegativeRanges) {
  ASSERT_OK(backend().Push("q", Job("A")));
  EXPECT_CODE(backend().Peek("q", -1, 1), kInvalidArgument);
  EXPECT_CODE(backend().Peek("q", 0, -1), kInvalidArgument);
}

TEST_P(BackendConformance, QueuesListsEveryPushedQueueSorted) {
  EXPECT_THAT(Value(backend().Queues()), IsEmpty());
  ASSERT_OK(backend().Push("mail", Job("J")));
  ASSERT_OK(backend().Push("critical", Job("J")));
  ASSERT_OK(backend().PushMany("low", std::vector<std::string>{Job("J")}));
  ASSERT_OK(backend().Push("mail", Job("J")));
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("critical", "low", "mail"));
}

TEST_P(BackendConformance, QueuesKeepsAQueueThatReserveEmptied) {
  ASSERT_OK(backend().Push("q", Job("J")));
  ASSERT_TRUE(ReserveNow(backend(), {"q"}).has_value());
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("q"));
}

TEST_P(BackendConformance, QueuesDoesNotListAQueueOnlyReservedFrom) {
  EXPECT_OK(backend().Reserve(Queues({"waited"}), absl::Milliseconds(1)));
  EXPECT_THAT(Value(backend().Queues()), IsEmpty());
}

TEST_P(BackendConformance, RemoveQueueDeletesItsPayloadsAndForgetsItsName) {
  ASSERT_OK(backend().Push("doomed", Job("A")));
  ASSERT_OK(backend().Push("doomed", Job("B")));
  ASSERT_OK(backend().Push("kept", Job("C")));
  ASSERT_OK(backend().RemoveQueue("doomed"));
  EXPECT_EQ(Value(backend().Size("doomed")), 0);
  EXPECT_THAT(Value(backend().Peek("doomed", 0, 10)), IsEmpty());
  EXPECT_FALSE(ReserveNow(backend(), {"doomed"}).has_value());
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("kept"));
  EXPECT_EQ(Value(backend().Size("kept")), 1);
}

TEST_P(BackendConformance, RemoveQueueOfAnUnknownQueueIsOk) {
  EXPECT_OK(backend().RemoveQueue("unknown"));
  EXPECT_THAT(Value(backend().Queues()), IsEmpty());
}

TEST_P(BackendConformance, PushAfterRemoveQueueStartsItAfresh) {
  ASSERT_OK(backend().Push("q", Job("Old")));
  ASSERT_OK(backend().RemoveQueue("q"));
  ASSERT_OK(backend().Push("q", Job("New")));
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("q"));
  EXPECT_THAT(Drain(backend(), "q"), ElementsAre(Job("New")));
}

// ---- RemoveJobs ----

TEST_P(BackendConformance, RemoveJobsByClassRemovesFromTheMiddleAndKeepsTheOrderOfTheRest) {
  for (const char* c : {"Keep", "Drop", "Keep", "Drop", "Drop", "Keep"}) {
    ASSERT_OK(backend().Push("q", Job(c, c == std::string_view("Keep") ? "k" : "d")));
  }
  ASSERT_OK(backend().Push("q", Job("Keep", "last")));
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "Drop"})), 3);
  EXPECT_EQ(Value(backend().Size("q")), 4);
  EXPECT_THAT(
      Value(backend().Peek("q", 0, 10)),
      ElementsAre(Job("Keep", "k"), Job("Keep", "k"), Job("Keep", "k"), Job("Keep", "last")));
  EXPECT_THAT(Drain(backend(), "q"), ElementsAre(Job("Keep", "k"), Job("Keep", "k"),
                                                 Job("Keep", "k"), Job("Keep", "last")));
}

TEST_P(BackendConformance, RemoveJobsByClassAndIdRemovesOnlyThatJob) {
  ASSERT_OK(backend().Push("q", Job("J", "1")));
  ASSERT_OK(backend().Push("q", Job("J", "2")));
  ASSERT_OK(backend().Push("q", Job("Other", "2")));
  ASSERT_OK(backend().Push("q", Job("J")));
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "J", .id = "2"})), 1);
  EXPECT_THAT(Value(backend().Peek("q", 0, 10)),
              ElementsAre(Job("J", "1"), Job("Other", "2"), Job("J")));
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "J", .id = "404"})), 0);
}

TEST_P(BackendConformance, RemoveJobsComparesArgsAsJsonValues) {
  ASSERT_OK(backend().Push("q", Job("J", "1", R"([{"b":[1,2],"a":"x"}])")));
  ASSERT_OK(backend().Push("q", Job("J", "2", R"([{"a":"x","b":[2,1]}])")));
  ASSERT_OK(backend().Push("q", Job("J", "3", R"([ { "a" : "x" , "b" : [ 1 , 2 ] } ])")));
  ASSERT_OK(backend().Push("q", Job("J", "4")));
  const JobFilter filter{.class_name = "J", .args = "[{\"a\": \"x\",\n \"b\": [1, 2.0]}]"};
  EXPECT_EQ(Value(backend().RemoveJobs("q", filter)), 2);
  EXPECT_THAT(Value(backend().Peek("q", 0, 10)),
              ElementsAre(Job("J", "2", R"([{"a":"x","b":[2,1]}])"), Job("J", "4")));
}

TEST_P(BackendConformance, RemoveJobsNeedsClassIdAndArgsToMatchWhenAllAreGiven) {
  ASSERT_OK(backend().Push("q", Job("J", "1", "[1]")));
  ASSERT_OK(backend().Push("q", Job("J", "2", "[1]")));
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "J", .id = "1", .args = "[2]"})), 0);
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "J", .id = "1", .args = "[1]"})), 1);
  EXPECT_THAT(Value(backend().Peek("q", 0, 10)), ElementsAre(Job("J", "2", "[1]")));
}

TEST_P(BackendConformance, RemoveJobsNeverRemovesPayloadsThatDoNotDecode) {
  ASSERT_OK(backend().Push("q", "J"));
  ASSERT_OK(backend().Push("q", R"({"class":"J","args":"not an array"})"));
  ASSERT_OK(backend().Push("q", R"({"class":"J")"));
  ASSERT_OK(backend().Push("q", Job("J")));
  EXPECT_EQ(Value(backend().RemoveJobs("q", {.class_name = "J"})), 1);
  EXPECT_EQ(Value(backend().Size("q")), 3);
}

TEST_P(BackendConformance, RemoveJobsOnAnUnknownQueueRemovesNothing) {
  EXPECT_EQ(Value(backend().RemoveJobs("unknown", {.class_name = "J"})), 0);
  EXPECT_THAT(Value(backend().Queues()), IsEmpty());
}

TEST_P(BackendConformance, RemoveJobsRejectsFiltersWithoutClassOrWithBadArgs) {
  ASSERT_OK(backend().Push("q", Job("J")));
  EXPECT_CODE(backend().RemoveJobs("q", {.class_name = ""}), kInvalidArgument);
  EXPECT_CODE(backend().RemoveJobs("q", {.class_name = "J", .args = "[1,"}), kInvalidArgument);
  EXPECT_EQ(Value(backend().Size("q")), 1);
}

// ---- Statuses ----

TEST_P(BackendConformance, GetStatusOfAnUntrackedJobIsNotFound) {
  EXPECT_CODE(backend().GetStatus("never-tracked"), kNotFound);
}

TEST_P(BackendConformance, SetStatusStoresAndReplacesTheStatus) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":1})");
  ASSERT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), false));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
  EXPECT_CODE(backend().GetStatus("id2"), kNotFound);
}

TEST_P(BackendConformance, SetStatusOnlyIfExistsLeavesAnUntrackedJobUntracked) {
  EXPECT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), true));
  EXPECT_CODE(backend().GetStatus("id1"), kNotFound);
}

TEST_P(BackendConformance, SetStatusOnlyIfExistsUpdatesATrackedJob) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), true));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
}

TEST_P(BackendConformance, StatusWithATtlExpiresAfterItAndNotBefore) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":4})", absl::Hours(24), false));
  AdvanceTime(absl::Hours(23));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":4})");
  AdvanceTime(absl::Hours(2));
  EXPECT_CODE(backend().GetStatus("id1"), kNotFound);
}

TEST_P(BackendConformance, StatusWithoutTtlNeverExpires) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  AdvanceTime(absl::Hours(24 * 400));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":1})");
}

TEST_P(BackendConformance, SetStatusWithoutTtlDropsAnEarlierTtl) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":4})", absl::Hours(1), false));
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  AdvanceTime(absl::Hours(2));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":1})");
}

TEST_P(BackendConformance, SetStatusOnlyIfExistsDoesNotReviveAnExpiredStatus) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":4})", absl::Hours(1), false));
  AdvanceTime(absl::Hours(2));
  ASSERT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), true));
  EXPECT_CODE(backend().GetStatus("id1"), kNotFound);
}

TEST_P(BackendConformance, StatusVerbsRejectAnEmptyIdAndANonPositiveTtl) {
  EXPECT_CODE(backend().GetStatus(""), kInvalidArgument);
  EXPECT_CODE(backend().SetStatus("", "{}", absl::InfiniteDuration(), false), kInvalidArgument);
  EXPECT_CODE(backend().SetStatus("id1", "{}", absl::Seconds(-5), false), kInvalidArgument);
  EXPECT_CODE(backend().SetStatus("id1", "{}", absl::ZeroDuration(), false), kInvalidArgument);
  EXPECT_CODE(backend().GetStatus("id1"), kNotFound);
}

// ---- Workers ----

TEST_P(BackendConformance, RegisterWorkerListsItAndRecordsWhenItStarted) {
  ASSERT_OK(backend().RegisterWorker("host:1:mail", "Sat Nov 25 10:00:00 UTC 2026"));
  EXPECT_THAT(Value(backend().Workers()), ElementsAre("host:1:mail"));
  EXPECT_EQ(Value(backend().WorkerStarted("host:1:mail")), "Sat Nov 25 10:00:00 UTC 2026");
  EXPECT_EQ(Value(backend().WorkerJob("host:1:mail")), std::nullopt);
}

TEST_P(BackendConformance, WorkersAreListedSorted) {
  for (const char* w : {"host:3:q", "host:1:q", "other:2:*", "host:10:q"}) {
    ASSERT_OK(backend().RegisterWorker(w, "now"));
  }
  EXPECT_THAT(Value(backend().Workers()),
              ElementsAre("host:10:q", "host:1:q", "host:3:q", "other:2:*"));
}

TEST_P(BackendConformance, AnUnknownWorkerHasNoJobAndNoStartDate) {
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  EXPECT_EQ(Value(backend().WorkerJob("ghost")), std::nullopt);
  EXPECT_EQ(Value(backend().WorkerStarted("ghost")), std::nullopt);
}

TEST_P(BackendConformance, UnregisterWorkerForgetsItItsJobItsStartAndItsOwnStats) {
  ASSERT_OK(backend().RegisterWorker("w1", "then"));
  ASSERT_OK(backend().RegisterWorker("w2", "then"));
  ASSERT_OK(backend().StartJob({.worker_id = "w1", .working_json = R"({"queue":"q"})"}));
  ASSERT_OK(backend().FinishJob({.worker_id = "w1", .failed = true, .failure_json = "{}"}));
  ASSERT_OK(backend().FinishJob({.worker_id = "w2"}));
  ASSERT_OK(backend().StartJob({.worker_id = "w1", .working_json = R"({"queue":"q"})"}));
  ASSERT_OK(backend().UnregisterWorker("w1"));
  EXPECT_THAT(Value(backend().Workers()), ElementsAre("w2"));
  EXPECT_EQ(Value(backend().WorkerJob("w1")), std::nullopt);
  EXPECT_EQ(Value(backend().WorkerStarted("w1")), std::nullopt);
  EXPECT_EQ(Value(backend().GetStat("processed:w1")), 0);
  EXPECT_EQ(Value(backend().GetStat("failed:w1")), 0);
  // The totals and the other worker's stats stay.
  EXPECT_EQ(Value(backend().GetStat("processed")), 2);
  EXPECT_EQ(Value(backend().GetStat("failed")), 1);
  EXPECT_EQ(Value(backend().GetStat("processed:w2")), 1);
  EXPECT_EQ(Value(backend().WorkerStarted("w2")), "then");
}

// A worker's own pause (USR2), for `resque workers`: marked and cleared, and gone with its
// registration.
TEST_P(BackendConformance, APauseMarkIsSetClearedAndForgottenAtUnregister) {
  ASSERT_OK(backend().RegisterWorker("w1", "then"));
  ASSERT_OK(backend().RegisterWorker("w2", "then"));
  EXPECT_THAT(Value(backend().PausedWorkers()), IsEmpty());
  ASSERT_OK(backend().SetWorkerPaused("w2", true));
  ASSERT_OK(backend().SetWorkerPaused("w1", true));
  EXPECT_THAT(Value(backend().PausedWorkers()), ElementsAre("w1", "w2"));
  ASSERT_OK(backend().SetWorkerPaused("w1", false));
  EXPECT_THAT(Value(backend().PausedWorkers()), ElementsAre("w2"));
  ASSERT_OK(backend().UnregisterWorker("w2"));
  EXPECT_THAT(Value(backend().PausedWorkers()), IsEmpty());
  // A registration starts unpaused, whatever a worker of the same id left.
  ASSERT_OK(backend().SetWorkerPaused("w3", true));
  ASSERT_OK(backend().RegisterWorker("w3", "now"));
  EXPECT_THAT(Value(backend().PausedWorkers()), IsEmpty());
  EXPECT_CODE(backend().SetWorkerPaused("", true), kInvalidArgument);
}

TEST_P(BackendConformance, UnregisterAnUnknownWorkerIsOk) {
  EXPECT_OK(backend().UnregisterWorker("ghost"));
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(BackendConformance, WorkerVerbsRejectAnEmptyWorkerId) {
  EXPECT_CODE(backend().RegisterWorker("", "now"), kInvalidArgument);
  EXPECT_CODE(backend().UnregisterWorker(""), kInvalidArgument);
  EXPECT_CODE(backend().WorkerJob(""), kInvalidArgument);
  EXPECT_CODE(backend().WorkerStarted(""), kInvalidArgument);
  EXPECT_CODE(backend().StartJob({.worker_id = ""}), kInvalidArgument);
  EXPECT_CODE(backend().FinishJob({.worker_id = ""}), kInvalidArgument);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
}

// ---- StartJob and FinishJob ----

TEST_P(BackendConformance, StartJobMarksTheWorkerBusyAndATrackedJobRunning) {
  ASSERT_OK(backend().RegisterWorker("w", "now"));
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  const std::string working = R"({"queue":"q","run_at":"now","payload":{"class":"J"}})";
  ASSERT_OK(backend().StartJob({.worker_id = "w",
                                .working_json = working,
                                .job_id = "id1",
                                .status_json = R"({"status":2})"}));
  EXPECT_EQ(Value(backend().WorkerJob("w")), working);
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
}

TEST_P(BackendConformance, StartJobGivesAnUntrackedJobNoStatus) {
  ASSERT_OK(backend().RegisterWorker("w", "now"));
  ASSERT_OK(backend().StartJob({.worker_id = "w",
                                .working_json = R"({"queue":"q"})",
                                .job_id = "untracked",
                                .status_json = R"({"status":2})"}));
  EXPECT_CODE(backend().GetStatus("untracked"), kNotFound);
  EXPECT_EQ(Value(backend().WorkerJob("w")), R"({"queue":"q"})");
}

TEST_P(BackendConformance, FinishJobCountsItInTotalAndForTheWorkerAndIdlesTheWorker) {
  ASSERT_OK(backend().RegisterWorker("w", "now"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(backend().StartJob({.worker_id = "w", .working_json = R"({"queue":"q"})"}));
    ASSERT_OK(backend().FinishJob({.worker_id = "w"}));
  }
  EXPECT_EQ(Value(backend().WorkerJob("w")), std::nullopt);
  EXPECT_EQ(Value(backend().GetStat("processed")), 3);
  EXPECT_EQ(Value(backend().GetStat("processed:w")), 3);
  EXPECT_EQ(Value(backend().GetStat("failed")), 0);
  EXPECT_EQ(Value(backend().GetStat("failed:w")), 0);
  EXPECT_EQ(Value(backend().FailureCount()), 0);
}

TEST_P(BackendConformance, FinishJobOfAFailedJobCountsTheFailureAndRecordsIt) {
  ASSERT_OK(backend().RegisterWorker("w", "now"));
  ASSERT_OK(backend().PushFailure(R"({"n":0})"));
  ASSERT_OK(backend().StartJob({.worker_id = "w", .working_json = R"({"queue":"q"})"}));
  const std::string failure = R"({"exception":"RuntimeError","error":"boom","worker":"w"})";
  ASSERT_OK(backend().FinishJob({.worker_id = "w", .failed = true, .failure_json = failure}));
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().GetStat("processed:w")), 1);
  EXPECT_EQ(Value(backend().GetStat("failed")), 1);
  EXPECT_EQ(Value(backend().GetStat("failed:w")), 1);
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":0})", failure));
  EXPECT_EQ(Value(backend().WorkerJob("w")), std::nullopt);
}

TEST_P(BackendConformance, StatusExpiresOneDayAfterCompletion) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":1})", absl::InfiniteDuration(), false));
  ASSERT_OK(
      backend().StartJob({.worker_id = "w", .job_id = "id1", .status_json = R"({"status":2})"}));
  AdvanceTime(absl::Hours(48));  // a running job's status does not expire
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
  ASSERT_OK(backend().FinishJob({.worker_id = "w",
                                 .job_id = "id1",
                                 .status_json = R"({"status":4})",
                                 .status_ttl = absl::Hours(24)}));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":4})");
  AdvanceTime(absl::Hours(23) + absl::Minutes(59));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":4})");
  AdvanceTime(absl::Minutes(2));
  EXPECT_CODE(backend().GetStatus("id1"), kNotFound);
}

TEST_P(BackendConformance, FinishJobGivesAnUntrackedJobNoStatus) {
  ASSERT_OK(backend().FinishJob({.worker_id = "w",
                                 .job_id = "untracked",
                                 .status_json = R"({"status":4})",
                                 .status_ttl = absl::Hours(24)}));
  EXPECT_CODE(backend().GetStatus("untracked"), kNotFound);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
}

TEST_P(BackendConformance, FinishJobWithoutAJobIdTouchesNoStatus) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().FinishJob({.worker_id = "w", .status_json = R"({"status":4})"}));
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
}

TEST_P(BackendConformance, FinishJobThatIsRejectedAppliesNothing) {
  ASSERT_OK(backend().SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().StartJob({.worker_id = "w", .working_json = R"({"queue":"q"})"}));
  EXPECT_CODE(backend().FinishJob({.worker_id = "w",
                                   .job_id = "id1",
                                   .status_json = R"({"status":3})",
                                   .status_ttl = absl::Seconds(-1),
                                   .failed = true,
                                   .failure_json = "{}"}),
              kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStatus("id1")), R"({"status":2})");
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
  EXPECT_EQ(Value(backend().GetStat("failed:w")), 0);
  EXPECT_EQ(Value(backend().FailureCount()), 0);
  EXPECT_EQ(Value(backend().WorkerJob("w")), R"({"queue":"q"})");
}

// ---- Stats ----

TEST_P(BackendConformance, IncrementStatReturnsTheNewValue) {
  EXPECT_EQ(Value(backend().IncrementStat("processed", 1)), 1);
  EXPECT_EQ(Value(backend().IncrementStat("processed", 5)), 6);
  EXPECT_EQ(Value(backend().IncrementStat("processed", -2)), 4);
  EXPECT_EQ(Value(backend().GetStat("processed")), 4);
  EXPECT_EQ(Value(backend().GetStat("failed")), 0);
}

TEST_P(BackendConformance, ClearStatDeletesTheCounter) {
  ASSERT_OK(backend().IncrementStat("processed:w", 3));
  ASSERT_OK(backend().ClearStat("processed:w"));
  EXPECT_EQ(Value(backend().GetStat("processed:w")), 0);
  EXPECT_OK(backend().ClearStat("never-counted"));
  EXPECT_EQ(Value(backend().IncrementStat("processed:w", 1)), 1);
}

TEST_P(BackendConformance, StatVerbsRejectAnEmptyName) {
  EXPECT_CODE(backend().IncrementStat("", 1), kInvalidArgument);
  EXPECT_CODE(backend().GetStat(""), kInvalidArgument);
  EXPECT_CODE(backend().ClearStat(""), kInvalidArgument);
}

// ---- Failures ----

TEST_P(BackendConformance, PushFailureAppendsTheNewestLast) {
  EXPECT_EQ(Value(backend().FailureCount()), 0);
  EXPECT_THAT(Value(backend().Failures(0, 10)), IsEmpty());
  for (const char* f : {R"({"n":0})", R"({"n":1})", R"({"n":2})"})
    ASSERT_OK(backend().PushFailure(f));
  EXPECT_EQ(Value(backend().FailureCount()), 3);
  EXPECT_THAT(Value(backend().Failures(0, 10)),
              ElementsAre(R"({"n":0})", R"({"n":1})", R"({"n":2})"));
}

TEST_P(BackendConformance, FailuresReturnsARangeAndNothingPastTheEnd) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  EXPECT_THAT(Value(backend().Failures(1, 2)), ElementsAre(R"({"n":1})", R"({"n":2})"));
  EXPECT_THAT(Value(backend().Failures(4, 100)), ElementsAre(R"({"n":4})"));
  EXPECT_THAT(Value(backend().Failures(5, 1)), IsEmpty());
  EXPECT_THAT(Value(backend().Failures(0, 0)), IsEmpty());
  EXPECT_CODE(backend().Failures(-1, 1), kInvalidArgument);
  EXPECT_CODE(backend().Failures(0, -1), kInvalidArgument);
}

TEST_P(BackendConformance, UpdateFailureReplacesTheRecordAtItsIndex) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  ASSERT_OK(backend().UpdateFailure(1, R"({"n":1,"retried_at":"now"})"));
  EXPECT_THAT(Value(backend().Failures(0, 10)),
              ElementsAre(R"({"n":0})", R"({"n":1,"retried_at":"now"})", R"({"n":2})"));
  EXPECT_CODE(backend().UpdateFailure(3, "{}"), kNotFound);
  EXPECT_CODE(backend().UpdateFailure(-1, "{}"), kInvalidArgument);
  EXPECT_EQ(Value(backend().FailureCount()), 3);
}

TEST_P(BackendConformance, RemoveFailureMovesTheLaterRecordsUp) {
  for (int i = 0; i < 4; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  ASSERT_OK(backend().RemoveFailure(1));
  EXPECT_THAT(Value(backend().Failures(0, 10)),
              ElementsAre(R"({"n":0})", R"({"n":2})", R"({"n":3})"));
  ASSERT_OK(backend().RemoveFailure(2));
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":0})", R"({"n":2})"));
  EXPECT_CODE(backend().RemoveFailure(2), kNotFound);
  EXPECT_CODE(backend().RemoveFailure(-1), kInvalidArgument);
  EXPECT_EQ(Value(backend().FailureCount()), 2);
}

TEST_P(BackendConformance, RemoveFailureKeepsIdenticalRecordsElsewhere) {
  // A backend that removes by value (Redis LREM) must still remove only the one at the index.
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure(R"({"same":true})"));
  ASSERT_OK(backend().RemoveFailure(1));
  EXPECT_EQ(Value(backend().FailureCount()), 2);
}

TEST_P(BackendConformance, EditFailureReplacesTheRecordAndPushesThePayloadTogether) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  EXPECT_TRUE(Value(backend().EditFailure({.index = 1,
                                           .record = R"({"n":1})",
                                           .replacement = R"({"n":1,"retried_at":"now"})",
                                           .push_queue = "mail",
                                           .push_payload = Job("Again")})));
  EXPECT_THAT(Value(backend().Failures(0, 10)),
              ElementsAre(R"({"n":0})", R"({"n":1,"retried_at":"now"})", R"({"n":2})"));
  EXPECT_THAT(Drain(backend(), "mail"), ElementsAre(Job("Again")));
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("mail"));
}

TEST_P(BackendConformance, EditFailureRemovesTheRecordAndPushesThePayloadTogether) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  EXPECT_TRUE(Value(backend().EditFailure(
      {.index = 0, .record = R"({"n":0})", .push_queue = "mail", .push_payload = Job("A")})));
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":1})", R"({"n":2})"));
  EXPECT_EQ(Value(backend().Size("mail")), 1);
  // Without a push_queue nothing is pushed: a plain removal.
  EXPECT_TRUE(Value(backend().EditFailure({.index = 1, .record = R"({"n":2})"})));
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":1})"));
  EXPECT_EQ(Value(backend().Size("mail")), 1);
}

TEST_P(BackendConformance, EditFailureFindsTheRecordReadWhereverItMoved) {
  // Read at 2; then record 0 went (another operator): the record read is now at 1, and the one
  // at 2 is someone else's, which must stay.
  for (int i = 0; i < 4; ++i) ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  ASSERT_OK(backend().RemoveFailure(0));
  EXPECT_TRUE(Value(backend().EditFailure({.index = 2, .record = R"({"n":2})"})));
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":1})", R"({"n":3})"));
  EXPECT_TRUE(
      Value(backend().EditFailure({.index = 5, .record = R"({"n":3})", .replacement = "x"})));
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":1})", "x"));
}

TEST_P(BackendConformance, EditFailureOfARecordThatIsGoneDoesNothing) {
  ASSERT_OK(backend().PushFailure(R"({"n":0})"));
  EXPECT_FALSE(Value(backend().EditFailure(
      {.index = 0, .record = R"({"n":9})", .push_queue = "mail", .push_payload = Job("A")})));
  EXPECT_FALSE(Value(backend().EditFailure({.index = 3, .record = R"({"n":9})"})));
  EXPECT_EQ(Value(backend().Size("mail")), 0);
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"n":0})"));
  EXPECT_CODE(backend().EditFailure({.index = -1, .record = R"({"n":0})"}), kInvalidArgument);
}

TEST_P(BackendConformance, EditFailureRemovesOneOfIdenticalRecords) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure(R"({"same":true})"));
  EXPECT_TRUE(Value(backend().EditFailure({.index = 1, .record = R"({"same":true})"})));
  EXPECT_EQ(Value(backend().FailureCount()), 2);
}

TEST_P(BackendConformance, EditFailureOfOneRecordAtATimeFromThreadsPushesEachOnce) {
  // Two operators retrying-and-removing the same records at once: each record's job is queued
  // once, whoever wins it.
  constexpr int kRecords = 200;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_OK(backend().PushFailure(absl::StrFormat(R"({"n":%d})", i)));
  }
  std::atomic<int> won{0};
  auto retry_all = [&] {
    for (int i = 0; i < kRecords; ++i) {
      const std::string record = absl::StrFormat(R"({"n":%d})", i);
      absl::StatusOr<bool> done = backend().EditFailure(
          {.index = 0, .record = record, .push_queue = "q", .push_payload = record});
      if (done.ok() && *done) ++won;
    }
  };
  std::thread a(retry_all);
  std::thread b(retry_all);
  a.join();
  b.join();
  EXPECT_EQ(won.load(), kRecords);
  EXPECT_EQ(Value(backend().Size("q")), kRecords);
  EXPECT_EQ(Value(backend().FailureCount()), 0);
}

TEST_P(BackendConformance, ClearFailuresRemovesEveryRecord) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(backend().PushFailure("{}"));
  ASSERT_OK(backend().ClearFailures());
  EXPECT_EQ(Value(backend().FailureCount()), 0);
  EXPECT_THAT(Value(backend().Failures(0, 10)), IsEmpty());
  EXPECT_CODE(backend().RemoveFailure(0), kNotFound);
}

// ---- Threads ----

TEST_P(BackendConformance, ConcurrentWorkersReserveEveryJobExactlyOnce) {
  constexpr int kJobs = 400;
  constexpr int kConsumers = 4;
  // Consumers stop once every job is taken; the deadline only bounds a broken backend.
  const SteadyClock::time_point deadline = SteadyClock::now() + std::chrono::seconds(60);
  std::atomic<int> taken_total{0};
  std::vector<std::vector<std::string>> taken(kConsumers);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([this, c, &taken, &taken_total, deadline] {
      while (taken_total.load() < kJobs && SteadyClock::now() < deadline) {
        absl::StatusOr<std::optional<ReservedJob>> job =
            backend().Reserve(Queues({"a", "b"}), absl::Milliseconds(100));
        EXPECT_OK(job);
        if (!job.ok() || !job->has_value()) continue;
        taken[c].push_back((*job)->payload);
        taken_total.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_OK(backend().Push(i % 2 == 0 ? "a" : "b", Job("J", absl::StrFormat("%d", i))));
  }
  for (std::thread& t : consumers) t.join();
  std::vector<std::string> all;
  for (const auto& mine : taken) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected;
  for (int i = 0; i < kJobs; ++i) expected.push_back(Job("J", absl::StrFormat("%d", i)));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace resque::testing
