// Stopping `resque work` while Redis hangs (SIGSTOP) or is gone, and working with queue keys or
// a failed list of the wrong type: real worker processes against a real redis-server. A stop
// takes under two seconds whatever the worker was doing, says so when it could not unregister,
// and a burst's exit code says what it could not do (docs/worker.md, "Shutdown, pause, kill";
// docs/reliability.md, "A queue key of the wrong type").
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/reliability/worker_process.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

// A stop must be seen within a second and the worker gone within two (one to give up on
// unregistering when Redis does not answer), with room for a loaded machine.
constexpr absl::Duration kStopBound = absl::Seconds(2);

class StopOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Append-only, so that what a worker left registered is still there after a restart.
    redis_.set_appendonly(true);
    ASSERT_TRUE(redis_.Start().ok());
    char dir[] = "/tmp/resque-stop-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    (void)redis_.Resume();
    if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir_).c_str());
  }

  std::string Url() const { return absl::StrFormat("redis://127.0.0.1:%d", redis_.port()); }
  std::string LogPath() const { return dir_ + "/worker.log"; }
  std::string Log() const {
    std::ifstream in(LogPath());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::unique_ptr<WorkerProcess> StartWorker(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {RESQUE_BINARY, "--redis",     Url(),
                                     "work",        "--load",      RELIABILITY_JOBS_LIBRARY,
                                     "--exec",      "Fails=exit 3"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<WorkerProcess>> w =
        WorkerProcess::Start(argv, {"RESQUE_TEST_OUT=" + dir_ + "/runs"}, LogPath());
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }

  // Runs a worker to its end (at most `bound`); its exit code, -1 if it had to be killed.
  int RunToEnd(const std::vector<std::string>& flags, absl::Duration bound, absl::Duration* took) {
    const absl::Time start = absl::Now();
    std::unique_ptr<WorkerProcess> w = StartWorker(flags);
    if (w == nullptr) return -1;
    // Signal 0: nothing is sent, the wait only.
    const int code = w->Stop(0, bound);
    *took = absl::Now() - start;
    return code;
  }

  std::string Workers() const {
    return redis_.Command({"SMEMBERS", "resque:workers"}).value_or("?");
  }

  // Waits until `slots` worker ids are registered: the worker has then left its start (`work`
  // connects first, and a TERM during that connect waits for its timeout).
  bool AwaitRegistered(int slots = 1, absl::Duration within = absl::Seconds(10)) const {
    const absl::Time deadline = absl::Now() + within;
    while (absl::Now() < deadline) {
      const std::string n = redis_.Command({"SCARD", "resque:workers"}).value_or("?");
      if (n == absl::StrCat(slots)) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // TERM, and how long the worker took to exit; its exit code in `code`.
  absl::Duration Term(WorkerProcess& w, int* code) {
    const absl::Time start = absl::Now();
    *code = w.Stop(SIGTERM, absl::Seconds(20));
    return absl::Now() - start;
  }

  void Push(const std::string& queue, const std::string& klass, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(redis_.Command({"SADD", "resque:queues", queue}).ok());
      ASSERT_TRUE(redis_
                      .Command({"RPUSH", "resque:queue:" + queue,
                                absl::StrFormat(R"({"class":"%s","args":[%d],"id":"j%s%d"})", klass,
                                                i, queue, i)})
                      .ok());
    }
  }

  RedisServer redis_;
  std::string dir_;
};

// While Redis hangs, the worker's reserves, heartbeats and reconnects wait on it; TERM cuts
// them short, and unregistering gives up within a second, naming the slot.
TEST_F(StopOutageTest, TermStopsAPollingWorkerWithinTwoSecondsWhileRedisHangs) {
  std::unique_ptr<WorkerProcess> w = StartWorker({"--queue", "q", "--interval", "1"});
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(AwaitRegistered());
  const std::string id = Workers();
  ASSERT_TRUE(redis_.Pause().ok());
  absl::SleepFor(absl::Milliseconds(2500));  // a reserve and a heartbeat now wait on it
  int code = 0;
  const absl::Duration took = Term(*w, &code);
  EXPECT_LT(took, kStopBound) << Log();
  EXPECT_EQ(code, 1) << "it could not unregister: " << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "could not unregister worker " + id)) << Log();
  ASSERT_TRUE(redis_.Resume().ok());
  // Left for recovery: still listed, until a worker of this host sees its process is gone.
  EXPECT_EQ(Workers(), id);
  absl::Duration burst;
  EXPECT_EQ(RunToEnd({"--queue", "q", "--burst"}, absl::Seconds(10), &burst), 0) << Log();
  EXPECT_EQ(Workers(), "");
  std::printf("stop test: TERM took %s (polling, Redis stopped by SIGSTOP)\n",
              absl::FormatDuration(took).c_str());
}

TEST_F(StopOutageTest, TermStopsABlockingWorkerWithinTwoSecondsWhileRedisHangs) {
  // Three slots: each would be one more wait on the hanging server as it unregisters.
  std::unique_ptr<WorkerProcess> w =
      StartWorker({"--queue", "q", "--blocking", "--interval", "1", "--concurrency", "3"});
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(AwaitRegistered(3));
  ASSERT_TRUE(redis_.Pause().ok());
  absl::SleepFor(absl::Milliseconds(2500));
  int code = 0;
  const absl::Duration took = Term(*w, &code);
  EXPECT_LT(took, kStopBound) << Log();
  EXPECT_EQ(code, 1) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "could not unregister workers")) << Log();
  std::printf("stop test: TERM took %s (blocking, 3 slots, Redis stopped by SIGSTOP)\n",
              absl::FormatDuration(took).c_str());
}

TEST_F(StopOutageTest, TermStopsWorkersWithinTwoSecondsWhileRedisIsDown) {
  for (const bool blocking : {false, true}) {
    SCOPED_TRACE(blocking ? "blocking" : "polling");
    ASSERT_TRUE(redis_.running() || redis_.Start().ok());
    std::vector<std::string> flags = {"--queue", "q", "--interval", "1", "--concurrency", "2"};
    if (blocking) flags.push_back("--blocking");
    std::unique_ptr<WorkerProcess> w = StartWorker(flags);
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(AwaitRegistered(2));
    ASSERT_TRUE(redis_.Stop().ok());
    // Long enough for the slots' backoff and the reconnect backoff to reach their caps.
    absl::SleepFor(absl::Seconds(4));
    int code = 0;
    const absl::Duration took = Term(*w, &code);
    EXPECT_LT(took, kStopBound) << Log();
    EXPECT_EQ(code, 1) << Log();
    EXPECT_TRUE(absl::StrContains(Log(), "could not unregister workers")) << Log();
    ASSERT_TRUE(redis_.Start().ok());
    // Both slots still listed (the append-only file kept them), until a worker of this host
    // recovers them.
    const std::string listed = Workers();
    EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 1) << listed;
    absl::Duration burst;
    EXPECT_EQ(RunToEnd({"--queue", "q", "--burst"}, absl::Seconds(10), &burst), 0) << Log();
    EXPECT_EQ(Workers(), "");
    std::printf("stop test: TERM took %s (%s, Redis down for 4 s)\n",
                absl::FormatDuration(took).c_str(), blocking ? "blocking" : "polling");
  }
}

TEST_F(StopOutageTest, TermDuringTheBackoffOfAWrongTypeQueueUnregisters) {
  ASSERT_TRUE(redis_.Command({"SET", "resque:queue:bad", "not a list"}).ok());
  for (const bool blocking : {false, true}) {
    SCOPED_TRACE(blocking ? "blocking" : "polling");
    std::vector<std::string> flags = {"--queue", "bad", "--interval", "1"};
    if (blocking) flags.push_back("--blocking");
    std::unique_ptr<WorkerProcess> w = StartWorker(flags);
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(AwaitRegistered());
    absl::SleepFor(absl::Milliseconds(1500));
    int code = 0;
    const absl::Duration took = Term(*w, &code);
    EXPECT_LT(took, kStopBound) << Log();
    EXPECT_EQ(code, 0) << Log();
    EXPECT_EQ(Workers(), "") << "a ghost: " << Log();
  }
  // Logged once per worker, not once per try.
  const std::string log = Log();
  int lines = 0;
  for (size_t at = 0; (at = log.find("is unusable", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 2) << log;
}

TEST_F(StopOutageTest, BurstWithEveryQueueOfTheWrongTypeExitsNonZero) {
  ASSERT_TRUE(redis_.Command({"SET", "resque:queue:bad", "x"}).ok());
  ASSERT_TRUE(redis_.Command({"HSET", "resque:queue:worse", "a", "b"}).ok());
  absl::Duration took;
  const int code = RunToEnd({"--queue", "bad,worse", "--burst"}, absl::Seconds(10), &took);
  EXPECT_EQ(code, 1) << Log();
  EXPECT_LT(took, absl::Seconds(3)) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "no queue it listens to is usable")) << Log();
  EXPECT_EQ(Workers(), "");
}

TEST_F(StopOutageTest, BurstDoesTheUsableQueuesAndExitsNonZeroNamingTheOther) {
  ASSERT_TRUE(redis_.Command({"SET", "resque:queue:bad", "x"}).ok());
  Push("good", "Tracked", 3);
  absl::Duration took;
  const int code = RunToEnd({"--queue", "bad,good", "--burst"}, absl::Seconds(10), &took);
  EXPECT_EQ(code, 1) << Log();
  EXPECT_LT(took, absl::Seconds(3)) << Log();
  EXPECT_EQ(*redis_.Command({"LLEN", "resque:queue:good"}), "0");
  EXPECT_EQ(*redis_.Command({"GET", "resque:stat:processed"}), "3");
  EXPECT_TRUE(absl::StrContains(Log(), "skipped: queue \"bad\"")) << Log();
  EXPECT_EQ(Workers(), "");
}

TEST_F(StopOutageTest, BurstThatCannotRecordAFailureExitsNonZeroWithTheJobBackOnItsQueue) {
  ASSERT_TRUE(redis_.Command({"HSET", "resque:failed", "not", "a list"}).ok());
  Push("q", "Fails", 1);
  absl::Duration took;
  const int code = RunToEnd({"--queue", "q", "--burst"}, absl::Seconds(10), &took);
  EXPECT_EQ(code, 1) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "could not be recorded")) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "they are back on their queues")) << Log();
  // Not lost, not counted: it waits to be performed again once the failed list is repaired.
  EXPECT_EQ(*redis_.Command({"LLEN", "resque:queue:q"}), "1");
  EXPECT_EQ(*redis_.Command({"KEYS", "resque:inflight:*"}), "");
  EXPECT_EQ(*redis_.Command({"GET", "resque:stat:processed"}), "(nil)");
  EXPECT_EQ(Workers(), "");
}

}  // namespace
}  // namespace resque::testing
