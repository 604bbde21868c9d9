// The bad-input corpus on Redis, against a real redis-server (one per test binary, flushed before
// each test); and what only raw commands can write there: garbage and keys of the wrong type,
// met by the worker, by StatusTracker and by the `resque` command.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backends/redis/redis_backend.h"
#include "core/payload.h"
#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/bad_input.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Backend> FreshRedis() {
  RedisServer& redis = RedisServer::Shared();
  if (absl::Status s = redis.Flush(); !s.ok()) {
    ADD_FAILURE() << s;
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis.Options());
  if (!backend.ok()) {
    ADD_FAILURE() << backend.status();
    return nullptr;
  }
  return *std::move(backend);
}

BackendMaker Redis() { return {"Redis", FreshRedis}; }

INSTANTIATE_TEST_SUITE_P(Redis, BadPayload,
                         ::testing::Combine(::testing::Values(Redis()),
                                            ::testing::ValuesIn(BadPayloadCases())),
                         BadPayloadName);
INSTANTIATE_TEST_SUITE_P(Redis, BadInput, ::testing::Values(Redis()), BackendName);

class RedisBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<Backend> backend = FreshRedis();
    ASSERT_NE(backend, nullptr);
    harness_ = std::make_unique<WorkerHarness>(std::move(backend));
  }

  WorkerHarness& harness() { return *harness_; }
  Backend& backend() { return harness_->backend(); }

  // A raw command, as redis-cli would send it; its reply as text.
  static std::string Raw(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> reply = RedisServer::Shared().Command(argv);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : "";
  }

  // The `resque` command against this server.
  static RunResult Resque(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        RESQUE_BINARY, "--redis",
        absl::StrFormat("redis://127.0.0.1:%d", RedisServer::Shared().port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return ::resque::testing::Run(argv);
  }

  // Writes a string where queue "broken" should be a list, as a person with redis-cli might; the
  // queue is known (in resque:queues), as if it had been pushed to before.
  static void BreakQueue() {
    ASSERT_EQ(Raw({"SET", "resque:queue:broken", "not a list"}), "OK");
    ASSERT_EQ(Raw({"SADD", "resque:queues", "broken"}), "1");
  }

  bool Logged(std::string_view part) const {
    for (const std::string& line : harness_->Log()) {
      if (line.find(part) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::unique_ptr<WorkerHarness> harness_;
};

TEST_F(RedisBadInput, GarbageSetAtAStatusKeyIsAClearErrorFromGetAndFromTheCommand) {
  const std::string id = NewJobId();
  const std::string key = absl::StrCat("resque:job:", id, ":status");
  ASSERT_EQ(Raw({"SET", key, R"({"status":)"}), "OK");

  const absl::StatusOr<JobStatus> status = StatusTracker(backend()).Get(id);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument) << status.status();
  EXPECT_THAT(status.status().message(),
              HasSubstr(absl::StrCat("job ", id, ": status: not valid JSON")));

  const RunResult cli = Resque({"status", id});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_EQ(cli.out, "");
  EXPECT_THAT(cli.err, HasSubstr(absl::StrCat("resque: job ", id, ": status: not valid JSON")));
  EXPECT_EQ(Raw({"GET", key}), R"({"status":)");  // read, not repaired
}

TEST_F(RedisBadInput, AStatusKeyOfTheWrongTypeIsAnErrorNamingItAndTheJobStillRuns) {
  const std::string id = NewJobId();
  const std::string key = absl::StrCat("resque:job:", id, ":status");
  ASSERT_EQ(Raw({"RPUSH", key, "not a status"}), "1");

  const absl::StatusOr<JobStatus> status = StatusTracker(backend()).Get(id);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kFailedPrecondition) << status.status();
  EXPECT_THAT(status.status().message(), HasSubstr(key));
  const RunResult cli = Resque({"status", id});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_THAT(cli.err, HasSubstr(key));

  // The worker's SET replaces a value of any type: the tracked job runs and ends complete.
  ASSERT_OK(
      backend().Push("q", absl::StrFormat(R"({"class":"Good","args":["tracked"],"id":"%s"})", id)));
  ASSERT_OK(backend().Push("q", WorkerHarness::GoodJob("after")));
  harness().RunBurst({"q"});
  EXPECT_THAT(harness().Performed(), ElementsAre(R"(["tracked"])", R"(["after"])"));
  const absl::StatusOr<JobStatus> after = StatusTracker(backend()).Get(id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state, JobState::kComplete);
}

TEST_F(RedisBadInput, AQueueKeyOfTheWrongTypeIsAClearErrorFromTheCommand) {
  BreakQueue();
  ASSERT_OK(backend().Push("fine", WorkerHarness::GoodJob("kept")));
  const auto names_the_key = HasSubstr(R"(redis key "resque:queue:broken")");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"queues"}, {"queues", "--json"}, {"stats"}, {"enqueue", "broken", "Good", "[]"}}) {
    SCOPED_TRACE(args.front());
    const RunResult cli = Resque(args);
    EXPECT_EQ(cli.exit_code, 1);
    EXPECT_THAT(cli.err, names_the_key);
    EXPECT_THAT(cli.err, HasSubstr("wrong kind of value"));
  }
  // Nothing was dropped or overwritten.
  EXPECT_EQ(Raw({"GET", "resque:queue:broken"}), "not a list");
  EXPECT_EQ(Raw({"LRANGE", "resque:queue:fine", "0", "-1"}), WorkerHarness::GoodJob("kept"));
}

TEST_F(RedisBadInput, AWorkerOnAQueueKeyOfTheWrongTypeLogsTheKeyAndLeavesIt) {
  BreakQueue();
  EXPECT_TRUE(harness().RunUntil(
      {"broken"}, [&] { return Logged(R"(redis key "resque:queue:broken")"); }, absl::Seconds(10)));
  EXPECT_EQ(Raw({"GET", "resque:queue:broken"}), "not a list");
  EXPECT_THAT(Value(backend().Workers()), ::testing::IsEmpty());
}

// One broken queue must not starve the others. Today it does: the Redis backend reserves from
// all the worker's queues in one call (a script or a blocking command), which fails as a whole on
// the wrong-type key, and the worker retries that same reserve forever (a "*" worker meets
// every known queue).
// Disabled until the worker or the backend skips the broken queue: see docs/reliability.md.
// The record and the next reserve are one script: a queue of the wrong type fails the reserve
// only, after the finish was applied, and says which key.
TEST_F(RedisBadInput, FinishAndReserveOverAQueueKeyOfTheWrongTypeStillFinishes) {
  BreakQueue();
  ASSERT_OK(backend().Push("good", R"({"class":"J","args":[]})"));
  const std::vector<std::string> queues = {"broken", "good"};
  const JobFinish done = {.worker_id = "host:1:q"};
  absl::StatusOr<absl::StatusOr<ReservedJobs>> both = backend().FinishAndReserve(
      absl::MakeConstSpan(&done, 1), {.queues = queues, .owner = "host:1:q"});
  ASSERT_OK(both);
  EXPECT_CODE(*both, kFailedPrecondition);
  EXPECT_THAT(std::string(both->status().message()), HasSubstr("resque:queue:broken"));
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().Size("good")), 1);
  EXPECT_EQ(Raw({"GET", "resque:queue:broken"}), "not a list");
}

TEST_F(RedisBadInput, AQueueKeyOfTheWrongTypeDoesNotStopTheOtherQueues) {
  BreakQueue();
  for (const std::vector<std::string>& queues :
       std::vector<std::vector<std::string>>{{"broken", "fine"}, {"fine", "broken"}, {"*"}}) {
    SCOPED_TRACE(queues.front());
    const size_t before = harness().Performed().size();
    ASSERT_OK(backend().Push("fine", WorkerHarness::GoodJob("fine")));
    EXPECT_TRUE(harness().RunUntil(
        queues, [&] { return harness().Performed().size() > before; }, absl::Seconds(10)));
  }
  EXPECT_EQ(Raw({"GET", "resque:queue:broken"}), "not a list");
}

}  // namespace
}  // namespace resque::testing
