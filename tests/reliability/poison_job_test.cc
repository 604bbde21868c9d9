// The poison-job test: a job that takes its in-process worker down (SIGSEGV, exit()) is run by
// `resque work --burst` processes started one after the other on a real redis-server. Each
// worker that starts prunes the dead one before it (same host, pid gone) and counts the job's
// death; at --max-recoveries deaths the job is failed (resque::PoisonJob) instead of queued
// again, so the next worker goes on with the other jobs and exits 0.
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/failure.h"
#include "core/queue.h"
#include "gtest/gtest.h"
#include "tests/reliability/worker_process.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

struct PoisonCase {
  const char* name;
  const char* job_class;  // a job of reliability_jobs.cc that ends its process
  int max_recoveries;     // 0: the default (3), no flag
  int exit_code;          // how each worker it runs in ends: an exit code,
  int signal;             // or a signal
};

void PrintTo(const PoisonCase& c, std::ostream* os) { *os << c.name; }

class PoisonJobTest : public ::testing::TestWithParam<PoisonCase> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-poison-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir_).c_str());
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  // Runs worker `i` to its end (10 s at most): how it ended, and its pid.
  absl::StatusOr<ChildExit> RunWorker(int i, pid_t& pid) {
    std::vector<std::string> argv = {
        RESQUE_BINARY, "--redis", absl::StrFormat("redis://127.0.0.1:%d", redis().port()),
        "work",        "--queue", "poison",
        "--burst",     "--load",  RELIABILITY_JOBS_LIBRARY};
    if (GetParam().max_recoveries > 0) {
      argv.push_back("--max-recoveries");
      argv.push_back(absl::StrCat(GetParam().max_recoveries));
    }
    // Under AddressSanitizer a SIGSEGV would be caught and turned into exit(1): let the signal
    // kill the worker, as it does in a normal build.
    absl::StatusOr<std::unique_ptr<WorkerProcess>> p = WorkerProcess::Start(
        argv, {"RESQUE_TEST_OUT=" + dir_ + "/runs", "ASAN_OPTIONS=handle_segv=0"},
        absl::StrFormat("%s/worker%d.log", dir_, i));
    if (!p.ok()) return p.status();
    pid = (*p)->pid();
    return (*p)->Wait(absl::Seconds(10));
  }

  // How many times each job id ran (the lines of the runs file).
  absl::flat_hash_map<std::string, int> Runs() const {
    absl::flat_hash_map<std::string, int> runs;
    std::ifstream in(dir_ + "/runs");
    for (std::string line; std::getline(in, line);) ++runs[line];
    return runs;
  }

  std::string dir_;
};

TEST_P(PoisonJobTest, AJobThatKillsItsWorkerIsFailedAfterMaxRecoveriesDeathsNotRunForever) {
  const int max_recoveries = GetParam().max_recoveries > 0 ? GetParam().max_recoveries : 3;
  absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis().Options());
  ASSERT_TRUE(backend.ok()) << backend.status();
  Queue queue(**backend);
  // The poison job first in line, an innocent one behind it.
  absl::StatusOr<std::string> poison =
      queue.Enqueue("poison", GetParam().job_class, "[]", {.track = true});
  absl::StatusOr<std::string> innocent = queue.Enqueue("poison", "Tracked", "[1]", {.track = true});
  ASSERT_TRUE(poison.ok() && innocent.ok());

  // Bounded: one start more than the deaths allowed is enough; twice as many shows the loop.
  const absl::Time start = absl::Now();
  std::vector<ChildExit> exits;
  std::vector<pid_t> pids;
  for (int i = 0; i < 2 * max_recoveries + 2; ++i) {
    pid_t pid = -1;
    absl::StatusOr<ChildExit> exit = RunWorker(i, pid);
    ASSERT_TRUE(exit.ok()) << "worker " << i << ": " << exit.status() << "; logs in " << dir_;
    exits.push_back(*exit);
    pids.push_back(pid);
    if (exit->Succeeded()) break;
  }
  const absl::Duration took = absl::Now() - start;
  std::printf("poison job %s: %zu worker starts in %s\n", GetParam().job_class, exits.size(),
              absl::FormatDuration(took).c_str());

  // Each of the first max_recoveries workers died of the job; the next one failed it at start,
  // ran the innocent job and ended as a burst worker does.
  ASSERT_EQ(exits.size(), static_cast<size_t>(max_recoveries) + 1) << "logs in " << dir_;
  for (int i = 0; i < max_recoveries; ++i) {
    EXPECT_EQ(exits[i].exit_code, GetParam().exit_code) << i << ": " << exits[i].Describe();
    EXPECT_EQ(exits[i].signal, GetParam().signal) << i << ": " << exits[i].Describe();
  }
  EXPECT_EQ(exits.back().exit_code, 0) << exits.back().Describe();
  EXPECT_LT(took, absl::Seconds(15));

  // Performed once per dead worker, never again; the innocent job once.
  absl::flat_hash_map<std::string, int> runs = Runs();
  EXPECT_EQ(runs[*poison], max_recoveries);
  EXPECT_EQ(runs[*innocent], 1);
  EXPECT_EQ(*redis().Command({"LLEN", "resque:queue:poison"}), "0");
  EXPECT_EQ(*redis().Command({"GET", "resque:stat:failed"}), "1");
  EXPECT_EQ(*redis().Command({"GET", "resque:stat:processed"}), "1");
  EXPECT_EQ(*redis().Command({"EXISTS", "resque:recoveries"}), "0");  // its count forgotten
  EXPECT_EQ(*redis().Command({"KEYS", "resque:inflight:*:queue:*"}), "");
  EXPECT_EQ(*redis().Command({"SCARD", "resque:workers"}), "0");
  EXPECT_TRUE(absl::StrContains(*redis().Command({"GET", "resque:job:" + *poison + ":status"}),
                                "\"status\":3"));
  EXPECT_TRUE(absl::StrContains(*redis().Command({"GET", "resque:job:" + *innocent + ":status"}),
                                "\"status\":4"));

  // One failure record, saying why and naming the worker that died last running it.
  ASSERT_EQ(*redis().Command({"LLEN", "resque:failed"}), "1");
  absl::StatusOr<Failure> failure =
      DecodeFailure(*redis().Command({"LINDEX", "resque:failed", "0"}));
  ASSERT_TRUE(failure.ok()) << failure.status();
  EXPECT_EQ(failure->exception, "resque::PoisonJob");
  EXPECT_TRUE(absl::StrContains(failure->error, absl::StrFormat("died %d times", max_recoveries)))
      << failure->error;
  EXPECT_TRUE(absl::StrContains(failure->worker, absl::StrFormat(":%d", pids[max_recoveries - 1])))
      << failure->worker << " is not worker " << pids[max_recoveries - 1];
  EXPECT_EQ(failure->queue, "poison");
  EXPECT_TRUE(absl::StrContains(failure->payload, *poison));
}

INSTANTIATE_TEST_SUITE_P(Jobs, PoisonJobTest,
                         ::testing::Values(PoisonCase{"Segfault", "Segfault", 0, -1, 11},
                                           PoisonCase{"Exit", "ExitThree", 2, 3, 0}),
                         [](const ::testing::TestParamInfo<PoisonCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace resque::testing
