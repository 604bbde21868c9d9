// The conformance suite, continued: batches (several jobs per reserve and per record), which a
// worker uses when its jobs are short. Compiled into every backend's binary with the rest.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "gmock/gmock.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kOwner[] = "host:200-1:mail";

std::string Job(int n) { return absl::StrFormat(R"({"class":"J","args":[%d],"id":"b%d"})", n, n); }

std::vector<std::string> Payloads(const std::vector<ReservedJob>& jobs) {
  std::vector<std::string> out;
  for (const ReservedJob& job : jobs) out.push_back(job.payload);
  return out;
}

std::vector<ReservedJob> ReserveMany(Backend& backend, const std::vector<std::string>& queues,
                                     int max) {
  return Value(backend.ReserveInFlightMany(queues, absl::ZeroDuration(), kOwner, max));
}

TEST_P(BackendConformance, ReserveInFlightManyTakesUpToMaxFromTheFirstNonEmptyQueue) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("high", Job(n)));
  ASSERT_OK(backend().Push("low", Job(4)));
  const std::vector<std::string> queues = {"high", "low"};
  std::vector<ReservedJob> batch = ReserveMany(backend(), queues, 2);
  EXPECT_THAT(Payloads(batch), ElementsAre(Job(1), Job(2)));
  for (const ReservedJob& job : batch) EXPECT_EQ(job.queue, "high");
  // The rest of "high" only: a batch never mixes queues, so priority holds job by job.
  EXPECT_THAT(Payloads(ReserveMany(backend(), queues, 5)), ElementsAre(Job(3)));
  batch = ReserveMany(backend(), queues, 5);
  EXPECT_THAT(Payloads(batch), ElementsAre(Job(4)));
  EXPECT_EQ(batch[0].queue, "low");
  EXPECT_THAT(ReserveMany(backend(), queues, 5), IsEmpty());
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))),
              ElementsAre(Job(1), Job(2), Job(3), Job(4)));
  EXPECT_EQ(Value(backend().Size("high")), 0);
}

TEST_P(BackendConformance, ReserveInFlightManyWaitsForAPush) {
  std::thread pusher([this] {
    // Pushed once the reserve is parked (where the backend can tell), so that the wake-up, not
    // the first look, finds the job.
    AwaitWaitingReservers(1, absl::Seconds(5));
    ASSERT_OK(backend().Push("mail", Job(7)));
  });
  std::vector<ReservedJob> batch =
      Value(backend().ReserveInFlightMany({"mail"}, absl::Seconds(10), kOwner, 8));
  pusher.join();
  EXPECT_THAT(Payloads(batch), ElementsAre(Job(7)));
  EXPECT_THAT(Payloads(Value(backend().InFlight(kOwner))), ElementsAre(Job(7)));
}

TEST_P(BackendConformance, ReserveInFlightManyRejectsBadArguments) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  EXPECT_CODE(backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), kOwner, 0),
              kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), kOwner, 1001),
              kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), "", 4),
              kInvalidArgument);
  EXPECT_CODE(backend().ReserveInFlightMany({}, absl::ZeroDuration(), kOwner, 4), kInvalidArgument);
  EXPECT_EQ(Value(backend().Size("mail")), 1);  // nothing was taken
}

TEST_P(BackendConformance, StartJobMarksEveryTrackedJobOfABatchRunning) {
  ASSERT_OK(backend().SetStatus("b1", R"({"status":1})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().SetStatus("b2", R"({"status":1})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().StartJob({.worker_id = kOwner,
                                .working_json = R"({"queue":"mail"})",
                                .job_id = "b1",
                                .status_json = R"({"status":2})",
                                .other_job_ids = {"b2", "untracked", ""}}));
  EXPECT_EQ(Value(backend().GetStatus("b1")), R"({"status":2})");
  EXPECT_EQ(Value(backend().GetStatus("b2")), R"({"status":2})");
  EXPECT_CODE(backend().GetStatus("untracked"), kNotFound);
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::optional<std::string>(R"({"queue":"mail"})"));
}

TEST_P(BackendConformance, FinishJobsRecordsAWholeBatch) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("mail", Job(n)));
  ASSERT_OK(backend().SetStatus("b2", R"({"status":2})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend().RegisterWorker(kOwner, "2026-11-25T00:00:00Z"));
  std::vector<ReservedJob> batch = ReserveMany(backend(), {"mail"}, 3);
  ASSERT_EQ(batch.size(), 3u);
  ASSERT_OK(backend().StartJob({.worker_id = kOwner, .working_json = "{}", .job_id = "b1"}));
  std::vector<JobFinish> finishes;
  for (int i = 0; i < 3; ++i) {
    finishes.push_back({.worker_id = kOwner,
                        .job_id = absl::StrFormat("b%d", i + 1),
                        .status_json = absl::StrFormat(R"({"status":%d})", i == 1 ? 3 : 4),
                        .status_ttl = absl::Hours(1),
                        .failed = i == 1,
                        .failure_json = i == 1 ? R"({"error":"second"})" : "",
                        .in_flight = batch[i]});
  }
  ASSERT_OK(backend().FinishJobs(finishes));
  EXPECT_EQ(Value(backend().GetStat("processed")), 3);
  EXPECT_EQ(Value(backend().GetStat(absl::StrFormat("processed:%s", kOwner))), 3);
  EXPECT_EQ(Value(backend().GetStat("failed")), 1);
  EXPECT_EQ(Value(backend().GetStat(absl::StrFormat("failed:%s", kOwner))), 1);
  EXPECT_THAT(Value(backend().Failures(0, 10)), ElementsAre(R"({"error":"second"})"));
  EXPECT_EQ(Value(backend().GetStatus("b2")), R"({"status":3})");
  EXPECT_CODE(backend().GetStatus("b1"), kNotFound);  // untracked stays so
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_EQ(Value(backend().WorkerJob(kOwner)), std::nullopt);
  ASSERT_OK(backend().FinishJobs({}));  // nothing to do is not an error
  EXPECT_EQ(Value(backend().GetStat("processed")), 3);
}

TEST_P(BackendConformance, FinishJobsRejectsAnEmptyWorkerIdAndAppliesNothing) {
  std::vector<JobFinish> finishes = {{.worker_id = kOwner}, {.worker_id = ""}};
  EXPECT_CODE(backend().FinishJobs(finishes), kInvalidArgument);
  EXPECT_EQ(Value(backend().GetStat("processed")), 0);
}

TEST_P(BackendConformance, UnreserveHandsJobsBackToTheHeadInTheirOrder) {
  for (int n : {1, 2, 3, 4}) ASSERT_OK(backend().Push("mail", Job(n)));
  std::vector<ReservedJob> batch = ReserveMany(backend(), {"mail"}, 3);
  ASSERT_EQ(batch.size(), 3u);
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .in_flight = batch[0]}));
  const std::vector<ReservedJob> rest(batch.begin() + 1, batch.end());
  EXPECT_EQ(Value(backend().Unreserve(kOwner, rest, {}, "")), 2);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(2), Job(3), Job(4)));
  EXPECT_THAT(Value(backend().InFlight(kOwner)), IsEmpty());
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("mail"));
  // No longer in flight: nothing goes back twice.
  EXPECT_EQ(Value(backend().Unreserve(kOwner, rest, {}, "")), 0);
  EXPECT_EQ(Value(backend().Size("mail")), 3);
  EXPECT_CODE(backend().Unreserve("", rest, {}, ""), kInvalidArgument);
}

TEST_P(BackendConformance, UnreserveSetsTheStatusOfTrackedJobsThatWentBackOnly) {
  for (int n : {1, 2, 3}) ASSERT_OK(backend().Push("mail", Job(n)));
  for (const char* id : {"b1", "b2", "b3"}) {
    ASSERT_OK(backend().SetStatus(id, R"({"status":2})", absl::InfiniteDuration(), false));
  }
  std::vector<ReservedJob> batch = ReserveMany(backend(), {"mail"}, 3);
  ASSERT_EQ(batch.size(), 3u);
  // b1 finished and b3 was recovered by someone else (no longer in flight); b2 goes back.
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner,
                                 .job_id = "b1",
                                 .status_json = R"({"status":4})",
                                 .in_flight = batch[0]}));
  ASSERT_OK(backend().FinishJob({.worker_id = kOwner, .in_flight = batch[2]}));
  const std::vector<ReservedJob> rest(batch.begin(), batch.end());
  const std::vector<std::string> ids = {"b1", "b2", "b3"};
  EXPECT_EQ(Value(backend().Unreserve(kOwner, rest, ids, R"({"status":1})")), 1);
  EXPECT_EQ(Value(backend().GetStatus("b1")), R"({"status":4})");
  EXPECT_EQ(Value(backend().GetStatus("b2")), R"({"status":1})");
  EXPECT_EQ(Value(backend().GetStatus("b3")), R"({"status":2})");
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(2)));
  const std::vector<std::string> too_few = {"b2"};
  EXPECT_CODE(backend().Unreserve(kOwner, rest, too_few, ""), kInvalidArgument);
}

TEST_P(BackendConformance, UnreserveListsAQueueRemovedMeanwhile) {
  ASSERT_OK(backend().Push("mail", Job(1)));
  std::vector<ReservedJob> batch = ReserveMany(backend(), {"mail"}, 2);
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_OK(backend().RemoveQueue("mail"));
  EXPECT_EQ(Value(backend().Unreserve(kOwner, batch, {}, "")), 1);
  EXPECT_THAT(Value(backend().Queues()), ElementsAre("mail"));
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)), ElementsAre(Job(1)));
}

}  // namespace
}  // namespace resque::testing
