// The crash test: tracked jobs through `resque work` processes that are killed with SIGKILL at
// random moments and restarted. Reliable reserve must bring every job to completion (status 4)
// at least once; how many ran twice is printed. Once one job at a time (1,000 jobs of 20 ms),
// once in batches (--batch 8; 6,000 jobs of 4 ms, so that batches grow past 10 ms and hand their
// rest back, and kills land in the middle of batches).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/queue.h"
#include "gtest/gtest.h"
#include "tests/reliability/worker_process.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

constexpr int kProcesses = 2;
constexpr int kMinKills = 5;

struct CrashCase {
  const char* name;
  int batch;
  int job_ms;
  int jobs;
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.name; }

class CrashTest : public ::testing::TestWithParam<CrashCase> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-crash-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    workers_.clear();  // killed and reaped
    if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir_).c_str());
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  // Worker process i: two of them, one blocking on the one queue (BLMOVE), the other on two
  // queues (the reserve script, polled), so that both reserve paths are killed mid-way.
  std::unique_ptr<WorkerProcess> StartWorker(int i) {
    std::vector<std::string> argv = {RESQUE_BINARY,
                                     "--redis",
                                     absl::StrFormat("redis://127.0.0.1:%d", redis().port()),
                                     "work",
                                     "--queue",
                                     i % 2 == 0 ? "crash" : "other,crash",
                                     "--blocking",
                                     "--interval",
                                     "1",
                                     "--concurrency",
                                     "3",
                                     "--batch",
                                     absl::StrFormat("%d", GetParam().batch),
                                     "--load",
                                     RELIABILITY_JOBS_LIBRARY};
    absl::StatusOr<std::unique_ptr<WorkerProcess>> p =
        WorkerProcess::Start(argv,
                             {"RESQUE_TEST_OUT=" + dir_ + "/runs",
                              absl::StrFormat("RESQUE_TEST_JOB_MS=%d", GetParam().job_ms)},
                             absl::StrFormat("%s/worker%d.log", dir_, i));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  // How many of `ids` have status 4 (complete).
  int Complete(const std::vector<std::string>& ids) {
    int n = 0;
    for (const std::string& id : ids) {
      absl::StatusOr<std::string> s = redis().Command({"GET", "resque:job:" + id + ":status"});
      if (s.ok() && absl::StrContains(*s, "\"status\":4")) ++n;
    }
    return n;
  }

  std::string dir_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST_P(CrashTest, EveryJobCompletesThoughWorkersAreKilledAtRandom) {
  const int kJobs = GetParam().jobs;
  absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis().Options());
  ASSERT_TRUE(backend.ok()) << backend.status();
  Queue queue(**backend);
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) {
    absl::StatusOr<std::string> id =
        queue.Enqueue("crash", "Tracked", absl::StrFormat("[%d]", i), {.track = true, .id = ""});
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  for (int i = 0; i < kProcesses; ++i) workers_.push_back(StartWorker(i));
  ASSERT_NE(workers_[0], nullptr);

  // Kill a random worker every 100-300 ms while jobs remain, at least kMinKills times; each is
  // reaped (its pid gone) and replaced at once, and its replacement recovers its jobs at start.
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  const absl::Time kill_deadline = absl::Now() + absl::Seconds(30);
  while (kills < kMinKills && absl::Now() < kill_deadline) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(100, 300)(random)));
    const int victim = std::uniform_int_distribution<int>(0, kProcesses - 1)(random);
    workers_[victim]->Kill();
    ++kills;
    workers_[victim] = StartWorker(victim);
    ASSERT_NE(workers_[victim], nullptr);
  }
  // One LLEN, at once: counting complete statuses here (a GET per job, thousands) took long
  // enough on a loaded machine for the last jobs to finish meanwhile, and the test to say its
  // kills came too late.
  absl::StatusOr<std::string> queued = redis().Command({"LLEN", "resque:queue:crash"});
  ASSERT_TRUE(queued.ok()) << queued.status();
  std::printf("crash test: %d kill -9, %s of %d jobs still queued after the last one\n", kills,
              queued->c_str(), kJobs);
  EXPECT_GE(kills, kMinKills);
  EXPECT_NE(*queued, "0") << "the kills came too late to test anything";

  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int complete = Complete(ids);
  while (complete < kJobs && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    complete = Complete(ids);
  }
  for (auto& w : workers_) EXPECT_EQ(w->Stop(SIGQUIT, absl::Seconds(10)), 0);
  EXPECT_EQ(complete, kJobs) << "lost jobs; worker logs in " << dir_;

  // Every job ran at least once; some more than once (killed after the job, before its record).
  absl::flat_hash_map<std::string, int> runs;
  std::ifstream in(dir_ + "/runs");
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++runs[line];
    ++lines;
  }
  int never = 0;
  for (const std::string& id : ids) never += runs.contains(id) ? 0 : 1;
  EXPECT_EQ(never, 0);
  EXPECT_EQ(static_cast<int>(runs.size()), kJobs);
  std::printf("crash test: %d runs of %d jobs: %d duplicate run(s)\n", lines, kJobs, lines - kJobs);
  RecordProperty("duplicate_runs", lines - kJobs);

  EXPECT_EQ(*redis().Command({"LLEN", "resque:queue:crash"}), "0");
  EXPECT_EQ(*redis().Command({"KEYS", "resque:inflight:*:queue:*"}), "");
  EXPECT_EQ(*redis().Command({"SCARD", "resque:workers"}), "0");
}

INSTANTIATE_TEST_SUITE_P(Modes, CrashTest,
                         ::testing::Values(CrashCase{"OneAtATime", 1, 20, 1000},
                                           CrashCase{"Batches", 8, 4, 6000}),
                         [](const ::testing::TestParamInfo<CrashCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace resque::testing
