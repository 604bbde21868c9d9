// The scheduler's crash test: `resque scheduler` processes killed with SIGKILL at random moments
// while they move a backlog of delayed jobs, and started again. Every move is one atomic step, so
// every delayed job must reach its queue exactly once, and then be performed exactly once by a
// worker: no job lost by a kill in the middle of a move, none moved twice.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/queue.h"
#include "core/worker.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

constexpr int kJobs = 20000;
constexpr int kMinKillsMidMove = 3;

// Counts how many times each job (its one arg) is performed.
class CountingJob : public Job {
 public:
  explicit CountingJob(std::vector<int>* runs) : runs_(runs) {}
  absl::Status Perform(const JobContext& ctx) override {
    int n = -1;
    const std::string args(ctx.args());  // "[N]"
    if (args.size() < 3 || !absl::SimpleAtoi(args.substr(1, args.size() - 2), &n) || n < 0 ||
        n >= kJobs) {
      return absl::InvalidArgumentError("unexpected args " + args);
    }
    ++(*runs_)[static_cast<size_t>(n)];  // one slot: no race
    return absl::OkStatus();
  }

 private:
  std::vector<int>* runs_;
};

int64_t DelayedCount(Backend& backend) {
  absl::StatusOr<int64_t> n = backend.DelayedCount();
  EXPECT_TRUE(n.ok()) << n.status();
  return n.value_or(-1);
}

TEST(SchedulerCrashTest, EveryDelayedJobIsMovedAndPerformedOnceThoughSchedulersAreKilled) {
  RedisServer& redis = RedisServer::Shared();
  ASSERT_OK(redis.Flush());
  absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis.Options());
  ASSERT_OK(backend);
  Queue queue(**backend);
  // All due already, over 200 seconds of the past: the schedulers move them as fast as they can.
  const absl::Time now = absl::Now();
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_OK(queue.EnqueueAt(now - absl::Seconds(300 - i % 200), "crash", "Count",
                              absl::StrFormat("[%d]", i)));
  }
  ASSERT_EQ(DelayedCount(**backend), kJobs);

  // One name for every process, so that a new one takes the lock its killed predecessor held.
  const std::vector<std::string> argv = {
      RESQUE_BINARY, "--redis", absl::StrFormat("redis://127.0.0.1:%d", redis.port()),
      "scheduler",   "--batch", "5",
      "--interval",  "0.01",    "--name",
      "crash-test:1"};
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  int mid_move = 0;  // kills while the process had moved some and jobs remained
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int round = 0; round < 200 && absl::Now() < deadline; ++round) {
    const int64_t before = DelayedCount(**backend);
    if (before == 0) break;
    Subprocess scheduler(argv);
    ASSERT_OK(scheduler.status());
    // Until it has moved something (bounded), then a little longer, then kill -9.
    for (int i = 0; i < 500 && DelayedCount(**backend) == before; ++i) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 20)(random)));
    scheduler.Signal(SIGKILL);
    const RunResult r = scheduler.Wait(absl::Seconds(10));
    EXPECT_EQ(r.signal, SIGKILL) << r.err;
    ++kills;
    const int64_t after = DelayedCount(**backend);
    if (after > 0 && after < before) ++mid_move;
    if (mid_move >= 20) break;
  }
  // What is left is moved by one last turn (bounded: each moves up to 5,000).
  for (int i = 0; i < 20 && DelayedCount(**backend) > 0; ++i) {
    const RunResult r = ::resque::testing::Run({argv[0], argv[1], argv[2], "scheduler", "--once",
                                                "--name", "crash-test:1", "--batch", "1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::printf("scheduler crash test: %d kill -9, %d of them mid-move\n", kills, mid_move);
  EXPECT_GE(mid_move, kMinKillsMidMove);
  EXPECT_EQ(DelayedCount(**backend), 0);
  EXPECT_EQ(*(*backend)->Size("crash"), kJobs);
  EXPECT_EQ(*(*backend)->FailureCount(), 0);

  std::vector<int> runs(kJobs, 0);
  JobRegistry registry;
  ASSERT_OK(registry.Register("Count", [&runs] { return std::make_unique<CountingJob>(&runs); }));
  WorkerOptions options;
  options.queues = {"crash"};
  options.burst = true;
  options.interval = absl::Milliseconds(10);
  Worker worker(**backend, registry, options);
  ASSERT_OK(worker.Run());
  int never = 0, twice = 0;
  for (int n : runs) {
    never += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(never, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(*(*backend)->GetStat("processed"), kJobs);
}

}  // namespace
}  // namespace resque::testing
