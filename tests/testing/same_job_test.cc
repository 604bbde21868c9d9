// The same job code, unchanged (billing_jobs.cc), performed by the testing kit and by
// `resque work --load` against a real Redis: both leave the same statuses, failure records,
// stats and queues, so what a unit test on the kit asserts holds in production.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "backends/redis/redis_backend.h"
#include "backends/testing/testing.h"
#include "core/failure.h"
#include "core/payload.h"
#include "core/queue.h"
#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing_kit {
namespace {

using ::testing::ElementsAre;

// What the billing jobs left in a backend, in a form both backends can be compared by.
struct Left {
  std::vector<std::string> charge_states;  // of the charges enqueued, in order
  std::vector<std::string> failures;       // "<queue> <class> <exception>: <error>"
  std::vector<std::string> failed_receipt_states;
  int64_t processed = 0;
  int64_t failed = 0;
  int64_t billing_left = -1;
  int64_t mail_left = -1;
  bool operator==(const Left&) const = default;
};

void PrintTo(const Left& left, std::ostream* os) {
  *os << ::testing::PrintToString(left.charge_states) << " "
      << ::testing::PrintToString(left.failures) << " processed " << left.processed << " failed "
      << left.failed;
}

std::string State(Backend& backend, const std::string& id) {
  absl::StatusOr<JobStatus> s = StatusTracker(backend).Get(id);
  return s.ok() ? std::string(JobStateName(s->state)) : s.status().ToString();
}

// Enqueues three tracked charges: one that completes, one with nothing to charge (fails), and
// one whose receipt throws.
std::vector<std::string> EnqueueCharges(Queue& queue) {
  EnqueueOptions tracked;
  tracked.track = true;
  std::vector<std::string> ids;
  for (const char* args :
       {R"({"order":1,"cents":500})", R"({"order":2,"cents":0})", R"({"order":13,"cents":700})"}) {
    absl::StatusOr<std::string> id = queue.Enqueue("billing", "Charge", args, tracked);
    EXPECT_THAT(id, IsOk());
    ids.push_back(id.value_or(""));
  }
  return ids;
}

Left Observe(Backend& backend, const std::vector<std::string>& charge_ids) {
  Left left;
  for (const std::string& id : charge_ids) left.charge_states.push_back(State(backend, id));
  FailureStore store(backend);
  absl::StatusOr<std::vector<Failure>> failures = store.List(0, 100);
  EXPECT_THAT(failures, IsOk());
  for (const Failure& f : failures.value_or(std::vector<Failure>())) {
    absl::StatusOr<Payload> payload = DecodePayload(f.payload);
    EXPECT_THAT(payload, IsOk());
    if (!payload.ok()) continue;
    left.failures.push_back(
        absl::StrFormat("%s %s %s: %s", f.queue, payload->class_name, f.exception, f.error));
    if (payload->class_name == "Receipt") {
      left.failed_receipt_states.push_back(State(backend, payload->id));
    }
  }
  left.processed = backend.GetStat("processed").value_or(-1);
  left.failed = backend.GetStat("failed").value_or(-1);
  left.billing_left = backend.Size("billing").value_or(-1);
  left.mail_left = backend.Size("mail").value_or(-1);
  return left;
}

TEST(TestingSameJob, BillingJobsLeaveTheSameRecordsUnderTheKitAndUnderResqueWorkOnRedis) {
  // Under the kit: the jobs come from JobRegistry::Global(), as with --load.
  Harness harness;
  const std::vector<std::string> kit_ids = EnqueueCharges(harness.queue());
  ASSERT_THAT(harness.Drain(),
              IsOkAndHolds(ElementsAre(Completed(), Failed(), Completed(), Completed(), Failed())));
  const Left kit = Observe(harness.backend(), kit_ids);

  // Under `resque work`, the same source built as a module, against a real redis-server.
  ::resque::testing::RedisServer& redis = ::resque::testing::RedisServer::Shared();
  ASSERT_THAT(redis.Flush(), IsOk());
  absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis.Options());
  ASSERT_THAT(backend, IsOk());
  Queue queue(**backend);
  const std::vector<std::string> redis_ids = EnqueueCharges(queue);
  ::resque::testing::RunResult work = ::resque::testing::Run(
      {RESQUE_BINARY, "--redis", absl::StrFormat("redis://127.0.0.1:%d", redis.port()), "work",
       "--queue", "billing,mail", "--burst", "--load", BILLING_JOBS_MODULE});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  const Left on_redis = Observe(**backend, redis_ids);

  Left expected;
  expected.charge_states = {"complete", "failed", "complete"};
  expected.failures = {
      "billing Charge resque::JobError: INVALID_ARGUMENT: order 2: nothing to charge",
      "mail Receipt std::runtime_error: mailer: unlucky order 13"};
  expected.failed_receipt_states = {"failed"};
  expected.processed = 5;
  expected.failed = 2;
  expected.billing_left = 0;
  expected.mail_left = 0;
  EXPECT_EQ(kit, expected);
  EXPECT_EQ(on_redis, expected);
}

}  // namespace
}  // namespace resque::testing_kit
