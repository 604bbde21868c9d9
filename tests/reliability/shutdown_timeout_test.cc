// The shutdown timeout: `resque work --shutdown-timeout S` sent TERM gives its running jobs S
// seconds to finish, then stops them and hands them back to the head of their queues; without
// the flag TERM fails them (resque::JobKilled) as before. Real `resque work` processes with
// --exec jobs (shell commands) on a real redis-server, in-process and with --fork.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

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

constexpr char kQueue[] = "shutdown";
// What a worker sent TERM (at the latest the last one) must have exited within.
constexpr absl::Duration kExitBound = absl::Seconds(3);

class ShutdownTimeoutTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-shutdown-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis().Options());
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }
  void TearDown() override {
    workers_.clear();  // killed and reaped
    if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir_).c_str());
  }

  static RedisServer& redis() { return RedisServer::Shared(); }
  bool fork() const { return GetParam(); }
  std::string runs_file() const { return dir_ + "/runs"; }

  // A `resque work` on kQueue whose jobs of class Job run `command`, with `flags` added.
  WorkerProcess* StartWorker(const std::string& command, const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {
        RESQUE_BINARY, "--redis",       absl::StrFormat("redis://127.0.0.1:%d", redis().port()),
        "-v",          "work",          "--queue",
        kQueue,        "--interval",    "0.1",
        "--exec",      "Job=" + command};
    if (fork()) argv.push_back("--fork");
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<WorkerProcess>> p =
        WorkerProcess::Start(argv, {}, absl::StrFormat("%s/worker%d.log", dir_, workers_.size()));
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    workers_.push_back(*std::move(p));
    return workers_.back().get();
  }

  // Enqueues a tracked Job; returns its id.
  std::string Enqueue() {
    Queue queue(*backend_);
    absl::StatusOr<std::string> id = queue.Enqueue(kQueue, "Job", "[]", {.track = true, .id = ""});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  std::string Redis(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> r = redis().Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }
  std::string Status(const std::string& id) {
    return Redis({"GET", "resque:job:" + id + ":status"});
  }

  // Waits (10 s at most) until `condition` holds.
  static bool Eventually(const std::function<bool()>& condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Starts a worker (as StartWorker) whose jobs log a line to runs_file() and then run
  // `command`, and waits until `jobs` of them do: until the commands run, in their own process
  // groups (a TERM to the worker's group before would reach them too). Null if they do not.
  WorkerProcess* StartRunning(int jobs, const std::string& command,
                              const std::vector<std::string>& flags) {
    WorkerProcess* w =
        StartWorker(absl::StrFormat("echo run >> %s; %s", runs_file(), command), flags);
    if (w != nullptr && Eventually([&] { return Runs() >= jobs; })) return w;
    ADD_FAILURE() << jobs << " job(s) did not start: " << Log(workers_.size() - 1);
    return nullptr;
  }

  // Sends TERM to `w`: it must exit 0 within kExitBound.
  void TermAndExpectExitInTime(WorkerProcess* w) {
    const absl::Time start = absl::Now();
    EXPECT_EQ(w->Stop(SIGTERM, absl::Seconds(40)), 0);
    EXPECT_LT(absl::Now() - start, kExitBound);
  }

  std::string Log(size_t i) const {
    std::ifstream in(absl::StrFormat("%s/worker%d.log", dir_, i));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  int Runs() const {
    std::ifstream in(runs_file());
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  std::string dir_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST_P(ShutdownTimeoutTest, AJobThatEndsWithinTheTimeoutFinishesAndIsRecorded) {
  const std::string id = Enqueue();
  WorkerProcess* w = StartRunning(1, "sleep 1", {"--shutdown-timeout", "5"});
  ASSERT_NE(w, nullptr);
  TermAndExpectExitInTime(w);
  EXPECT_TRUE(absl::StrContains(Status(id), "\"status\":4")) << Status(id);
  EXPECT_EQ(Redis({"GET", "resque:stat:processed"}), "1");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "(nil)");
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "0");
  EXPECT_TRUE(absl::StrContains(Log(0), "finished in time (complete)")) << Log(0);
}

TEST_P(ShutdownTimeoutTest, AJobStillRunningAtTheTimeoutGoesBackToTheHeadOfItsQueueOnce) {
  const std::string id = Enqueue();
  const std::string payload = Redis({"LINDEX", "resque:queue:shutdown", "0"});
  WorkerProcess* w = StartRunning(1, "sleep 30", {"--shutdown-timeout", "1"});
  ASSERT_NE(w, nullptr);
  // A job queued behind it meanwhile stays behind it.
  Queue queue(*backend_);
  ASSERT_TRUE(queue.Enqueue(kQueue, "Other", "[]").ok());
  TermAndExpectExitInTime(w);
  EXPECT_EQ(Redis({"LINDEX", "resque:queue:shutdown", "0"}), payload);
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "2");
  EXPECT_EQ(Redis({"KEYS", "resque:inflight:*"}), "");
  EXPECT_EQ(Redis({"KEYS", "resque:worker:*"}), "");  // unregistered, working-on record gone
  EXPECT_EQ(Redis({"GET", "resque:stat:processed"}), "(nil)");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "(nil)");
  EXPECT_EQ(Redis({"LLEN", "resque:failed"}), "0");
  EXPECT_TRUE(absl::StrContains(Status(id), "\"status\":1")) << Status(id);
  EXPECT_TRUE(absl::StrContains(Log(0), "handed back to the head of queue shutdown")) << Log(0);
  EXPECT_EQ(Runs(), 1);

  // The next worker takes it first (not Other, which it could not perform) and runs it, once,
  // to its end.
  WorkerProcess* next =
      StartWorker(absl::StrFormat("echo run >> %s", runs_file()), {"--burst", "--max-jobs", "1"});
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->Stop(0, absl::Seconds(20)), 0) << Log(1);
  EXPECT_TRUE(absl::StrContains(Status(id), "\"status\":4")) << Status(id);
  EXPECT_EQ(Runs(), 2);  // the first worker's cut-short start and this run
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "1");
  EXPECT_EQ(Redis({"GET", "resque:stat:processed"}), "1");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "(nil)");
}

TEST_P(ShutdownTimeoutTest, ASecondTermEndsTheWaitAtOnce) {
  const std::string id = Enqueue();
  WorkerProcess* w = StartRunning(1, "sleep 30", {"--shutdown-timeout", "30"});
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(kill(w->pid(), SIGTERM), 0);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(Status(id).find("\"status\":1"), std::string::npos) << "handed back before the wait";
  TermAndExpectExitInTime(w);
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "1");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "(nil)");
  EXPECT_TRUE(absl::StrContains(Status(id), "\"status\":1")) << Status(id);
  EXPECT_TRUE(absl::StrContains(Log(0), "a second TERM")) << Log(0);
}

TEST_P(ShutdownTimeoutTest, WithoutTheFlagTermFailsTheRunningJobAsThePeersDo) {
  const std::string id = Enqueue();
  WorkerProcess* w = StartRunning(1, "sleep 30", {});
  ASSERT_NE(w, nullptr);
  TermAndExpectExitInTime(w);
  EXPECT_TRUE(absl::StrContains(Status(id), "\"status\":3")) << Status(id);
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "0");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "1");
  EXPECT_TRUE(absl::StrContains(Redis({"LINDEX", "resque:failed", "0"}), "resque::JobKilled"));
}

TEST_P(ShutdownTimeoutTest, EachProcessOfCountWaitsAndHandsBackItsOwnJob) {
  const std::string first = Enqueue();
  const std::string second = Enqueue();
  WorkerProcess* w = StartRunning(2, "sleep 30", {"--shutdown-timeout", "1", "--count", "2"});
  ASSERT_NE(w, nullptr);
  TermAndExpectExitInTime(w);
  EXPECT_EQ(Redis({"LLEN", "resque:queue:shutdown"}), "2");
  EXPECT_EQ(Redis({"KEYS", "resque:inflight:*"}), "");
  EXPECT_EQ(Redis({"GET", "resque:stat:failed"}), "(nil)");
  EXPECT_TRUE(absl::StrContains(Status(first), "\"status\":1")) << Status(first);
  EXPECT_TRUE(absl::StrContains(Status(second), "\"status\":1")) << Status(second);
}

INSTANTIATE_TEST_SUITE_P(Modes, ShutdownTimeoutTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Fork" : "InProcess";
                         });

TEST(ShutdownTimeoutFlagsTest, UnreliableReserveIsRefused) {
  char dir_template[] = "/tmp/resque-shutdown-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string log = std::string(dir_template) + "/worker.log";
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(
      {RESQUE_BINARY, "--redis",
       absl::StrFormat("redis://127.0.0.1:%d", RedisServer::Shared().port()), "work", "--queue",
       kQueue, "--exec", "Job=true", "--unreliable", "--shutdown-timeout", "5"},
      {}, log);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NE((*w)->Stop(0, absl::Seconds(10)), 0);
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_TRUE(absl::StrContains(s.str(), "shutdown timeout needs reliable reserve")) << s.str();
  std::system(absl::StrFormat("rm -rf %s", dir_template).c_str());
}

}  // namespace
}  // namespace resque::testing
