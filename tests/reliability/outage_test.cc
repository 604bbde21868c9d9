// The outage test: redis-server (append-only file on) is stopped for 2 s and started again while
// 200 tracked jobs run through a `resque work` process. The worker must ride it out: every job
// completes, including those that finished while Redis was away.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/queue.h"
#include "gtest/gtest.h"
#include "tests/reliability/worker_process.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

constexpr int kJobs = 200;

int64_t Processed(const RedisServer& redis) {
  absl::StatusOr<std::string> v = redis.Command({"GET", "resque:stat:processed"});
  int64_t n = 0;
  return v.ok() && absl::SimpleAtoi(*v, &n) ? n : 0;
}

int Complete(const RedisServer& redis, const std::vector<std::string>& ids) {
  int n = 0;
  for (const std::string& id : ids) {
    absl::StatusOr<std::string> s = redis.Command({"GET", "resque:job:" + id + ":status"});
    if (s.ok() && absl::StrContains(*s, "\"status\":4")) ++n;
  }
  return n;
}

TEST(OutageTest, EveryJobCompletesThoughRedisRestartsMidway) {
  RedisServer redis;
  redis.set_appendonly(true);
  ASSERT_TRUE(redis.Start().ok());
  char dir_template[] = "/tmp/resque-outage-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;

  std::vector<std::string> ids;
  {
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis.Options());
    ASSERT_TRUE(backend.ok()) << backend.status();
    Queue queue(**backend);
    for (int i = 0; i < kJobs; ++i) {
      absl::StatusOr<std::string> id =
          queue.Enqueue("outage", "Tracked", absl::StrFormat("[%d]", i), {.track = true, .id = ""});
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
    }
  }
  absl::StatusOr<std::unique_ptr<WorkerProcess>> worker = WorkerProcess::Start(
      {RESQUE_BINARY, "--redis", absl::StrFormat("redis://127.0.0.1:%d", redis.port()), "work",
       "--queue", "outage", "--blocking", "--interval", "1", "--concurrency", "4", "--load",
       RELIABILITY_JOBS_LIBRARY},
      {"RESQUE_TEST_OUT=" + dir + "/runs", "RESQUE_TEST_JOB_MS=40"}, dir + "/worker.log");
  ASSERT_TRUE(worker.ok()) << worker.status();

  // Pull the plug once a fifth of the jobs are done, with the rest running or waiting.
  const absl::Time started = absl::Now();
  while (Processed(redis) < kJobs / 5 && absl::Now() < started + absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const int64_t before = Processed(redis);
  ASSERT_GE(before, kJobs / 5);
  ASSERT_LT(before, kJobs) << "the jobs ran too fast for the outage to fall among them";
  ASSERT_TRUE(redis.Stop().ok());
  absl::SleepFor(absl::Seconds(2));  // the outage itself
  ASSERT_TRUE(redis.Start().ok());
  std::printf("outage test: Redis down for 2 s after %d of %d jobs\n", static_cast<int>(before),
              kJobs);

  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int complete = 0;
  while ((complete = Complete(redis, ids)) < kJobs && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(complete, kJobs) << "worker log: " << dir << "/worker.log";
  EXPECT_EQ((*worker)->Stop(SIGQUIT, absl::Seconds(10)), 0) << "the worker did not survive";

  std::ifstream in(dir + "/runs");
  std::set<std::string> ran;
  int runs = 0;
  for (std::string line; std::getline(in, line); ++runs) ran.insert(line);
  EXPECT_EQ(static_cast<int>(ran.size()), kJobs);
  std::printf("outage test: %d runs of %d jobs, %d duplicate(s), stat:processed %d\n", runs, kJobs,
              runs - kJobs, static_cast<int>(Processed(redis)));
  EXPECT_EQ(*redis.Command({"LLEN", "resque:queue:outage"}), "0");
  EXPECT_EQ(*redis.Command({"KEYS", "resque:inflight:*:queue:*"}), "");
  if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir).c_str());
}

}  // namespace
}  // namespace resque::testing
