// Issue 12, findings 10 to 12, end to end with the `resque` binary and a real redis-server: what
// an --exec command sees of the worker's environment, passwords in errors, the pid file, SIGHUP,
// and numeric flags that mean nothing.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "s3cret-pw";

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits (15 s at most) until `pred()` holds.
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time end = absl::Now() + absl::Seconds(15);
  while (!pred()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class CliHardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-hardening-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    pidfile_ = dir_ + "/worker.pid";
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf ", dir_).c_str()); }

  static RedisServer& redis() { return RedisServer::Shared(); }
  // A second server, with a password, for the tests of where the password goes.
  static RedisServer& secured() {
    static RedisServer* server = [] {
      auto* s = new RedisServer(kPassword);
      if (absl::Status started = s->Start(); !started.ok()) {
        ADD_FAILURE() << started;
      }
      return s;
    }();
    return *server;
  }
  static std::string SecuredUrl() {
    return absl::StrFormat("redis://:%s@127.0.0.1:%d", kPassword, secured().port());
  }

  std::vector<std::string> Argv(std::vector<std::string> args) const {
    std::vector<std::string> argv = {RESQUE_BINARY, "--redis",
                                     absl::StrFormat("redis://127.0.0.1:%d", redis().port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  RunResult Resque(std::vector<std::string> args) {
    return ::resque::testing::Run(Argv(std::move(args)));
  }

  // The worker lines of `resque workers`.
  std::vector<std::string> Workers() {
    return absl::StrSplit(Resque({"workers"}).out, '\n', absl::SkipEmpty());
  }
  std::string PidFileHolds() const {
    return std::string(absl::StripTrailingAsciiWhitespace(ReadFile(pidfile_)));
  }

  // Commands Redis has run since the last CONFIG RESETSTAT (INFO commandstats, summed).
  static int64_t CommandCalls() {
    absl::StatusOr<std::string> info = redis().Command({"INFO", "commandstats"});
    EXPECT_TRUE(info.ok()) << info.status();
    int64_t calls = 0;
    for (absl::string_view line : absl::StrSplit(info.value_or(""), '\n')) {
      const size_t at = line.find("calls=");
      if (!absl::StartsWith(line, "cmdstat_") || at == absl::string_view::npos) continue;
      int64_t n = 0;
      if (absl::SimpleAtoi(line.substr(at + 6, line.find(',', at) - at - 6), &n)) calls += n;
    }
    return calls;
  }

  std::string dir_;
  std::string pidfile_;
};

// Finding 10: the worker's environment, REDIS_BACKEND with its password included, reached every
// --exec command, and one printed it into a failure record.
TEST_F(CliHardeningTest, ExecCommandsGetACleanEnvironmentWithoutTheRedisPassword) {
  ASSERT_TRUE(secured().Flush().ok());
  const std::vector<std::string> env = {"REDIS_BACKEND=" + SecuredUrl(), "PASSED=yes",
                                        "NOT_PASSED=no"};
  ASSERT_EQ(::resque::testing::Run({RESQUE_BINARY, "enqueue", "q", "Env", "[]"}, env).exit_code, 0);
  const std::string seen = dir_ + "/env";
  RunResult work =
      ::resque::testing::Run({RESQUE_BINARY, "work", "-q", "q", "--burst", "--exec-env", "PASSED",
                              "--exec", absl::StrFormat("Env=env > %s; env >&2; exit 3", seen)},
                             env);
  ASSERT_EQ(work.exit_code, 0) << work.err;

  const std::string job_env = ReadFile(seen);
  EXPECT_THAT(job_env, HasSubstr("RESQUE_QUEUE=q\n"));
  EXPECT_THAT(job_env, HasSubstr("RESQUE_CLASS=Env\n"));
  EXPECT_THAT(job_env, HasSubstr("RESQUE_JOB_ID="));
  EXPECT_THAT(job_env, HasSubstr("PATH="));
  EXPECT_THAT(job_env, HasSubstr("PASSED=yes\n"));
  EXPECT_THAT(job_env, Not(HasSubstr("NOT_PASSED")));
  EXPECT_THAT(job_env, Not(HasSubstr("REDIS_BACKEND")));
  EXPECT_THAT(job_env, Not(HasSubstr(kPassword)));
  // The command's stderr (its environment) is in the failure record and the worker's log.
  absl::StatusOr<std::string> failures = secured().Command({"LRANGE", "resque:failed", "0", "-1"});
  ASSERT_TRUE(failures.ok()) << failures.status();
  EXPECT_THAT(*failures, HasSubstr("PASSED=yes"));
  EXPECT_THAT(*failures, Not(HasSubstr(kPassword)));
  EXPECT_THAT(work.err, Not(HasSubstr(kPassword)));

  RunResult refused = ::resque::testing::Run({RESQUE_BINARY, "work", "-q", "q", "--burst",
                                              "--exec-env", "REDIS_BACKEND", "--exec", "Env=true"},
                                             env);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("--exec-env REDIS_BACKEND: the Redis URL"));
}

// Finding 10: ":secret@127.0.0.1:6397", a URL without a scheme, was echoed whole in the error.
TEST_F(CliHardeningTest, ABadUrlNeverShowsItsPasswordWithOrWithoutAScheme) {
  const int port = secured().port();
  const std::vector<std::string> urls = {
      absl::StrFormat(":%s@127.0.0.1:%d", kPassword, port),
      absl::StrFormat("%s@127.0.0.1:%d", kPassword, port),
      absl::StrFormat("app:%s@127.0.0.1:%d", kPassword, port),
      absl::StrFormat("redis://:%s@127.0.0.1:%d/x", kPassword, port),
      absl::StrFormat("redis://:%s@127.0.0.1:1", kPassword),
      absl::StrFormat("redis://:wrong-%s@127.0.0.1:%d", kPassword, port),
      absl::StrFormat("redis://:%s@127.0.0.1:%d?password=%s&db=x", kPassword, port, kPassword),
      absl::StrFormat("http://:%s@127.0.0.1:%d", kPassword, port)};
  for (const std::string& url : urls) {
    for (const RunResult& r :
         {::resque::testing::Run({RESQUE_BINARY, "--redis", url, "stats"}),
          ::resque::testing::Run({RESQUE_BINARY, "stats"}, {"REDIS_BACKEND=" + url})}) {
      EXPECT_NE(r.exit_code, 0) << url;
      EXPECT_THAT(r.err, Not(HasSubstr(kPassword))) << url;
      EXPECT_EQ(Lines(r.err), 1) << url << ": " << r.err;
      EXPECT_THAT(r.err, ::testing::StartsWith("resque: ")) << url;
    }
  }
  // A URL where an argument was expected is echoed by the parser: masked too.
  RunResult r = ::resque::testing::Run({RESQUE_BINARY, "stats", SecuredUrl()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr(":****@127.0.0.1"));
  EXPECT_THAT(r.err, Not(HasSubstr(kPassword)));
  EXPECT_EQ(Lines(r.err), 1) << r.err;
}

// Finding 12: nan, inf, numbers past the type (clamped before) and zeros that mean nothing were
// accepted; each is now one line on stderr and a non-zero exit, before anything registers.
TEST_F(CliHardeningTest, EveryBadNumericFlagIsAOneLineErrorBeforeAnythingStarts) {
  const std::vector<std::vector<std::string>> bad = {{"--interval", "nan"},
                                                     {"--interval", "inf"},
                                                     {"--interval", "-1"},
                                                     {"--interval", "1e400"},
                                                     {"--interval", "0.001"},
                                                     {"--timeout", "nan"},
                                                     {"--timeout", "inf"},
                                                     {"--timeout", "-0.5"},
                                                     {"--dead-after", "inf"},
                                                     {"--dead-after", "nan"},
                                                     {"--peer-dead-after", "inf"},
                                                     {"--max-jobs", "99999999999999999999"},
                                                     {"--max-jobs", "-1"},
                                                     {"--max-jobs", "1.5"},
                                                     {"--max-jobs", "0x10"},
                                                     {"--concurrency", "0"},
                                                     {"--concurrency", "1.5"},
                                                     {"--concurrency", "99999999999999999999"},
                                                     {"--batch", "0"},
                                                     {"--count", "0"},
                                                     {"--count", "nan"}};
  for (const std::vector<std::string>& flag : bad) {
    std::vector<std::string> args = {"work", "-q", "q", "--exec", "Job=true"};
    args.insert(args.end(), flag.begin(), flag.end());
    RunResult r = ::resque::testing::Run(Argv(args), {}, absl::Seconds(10));
    const std::string what = absl::StrCat(flag[0], " ", flag[1]);
    EXPECT_NE(r.exit_code, 0) << what;
    EXPECT_FALSE(r.timed_out) << what;
    EXPECT_EQ(Lines(r.err), 1) << what << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("resque: " + flag[0])) << what;
  }
  // The same values through php-resque's variables.
  for (const char* var : {"INTERVAL=nan", "COUNT=1e400", "BATCH=-1"}) {
    RunResult r = ::resque::testing::Run(Argv({"work", "-q", "q", "--exec", "Job=true"}), {var},
                                         absl::Seconds(10));
    EXPECT_NE(r.exit_code, 0) << var;
    EXPECT_EQ(Lines(r.err), 1) << var << ": " << r.err;
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--db", "-1", "stats"},
                                             {"--db", "99999999999", "stats"},
                                             {"--db", "2000000", "stats"},
                                             {"status", "x", "--timeout", "nan"}}) {
    RunResult r = Resque(args);
    EXPECT_NE(r.exit_code, 0) << args[0] << " " << args[1];
    EXPECT_EQ(Lines(r.err), 1) << r.err;
  }
  EXPECT_THAT(Resque({"--db", "2000000", "stats"}).err,
              HasSubstr("--db: 2000000 is out of range: want 0 to 1048576"));
  EXPECT_THAT(Workers(), ::testing::IsEmpty());
}

// Finding 12: `--interval 0` polled Redis without pause (600k LLEN in 2 s). Polling, it now means
// what it means to php-resque and Ruby resque: exit once the queues are empty.
TEST_F(CliHardeningTest, AZeroIntervalNeverBusyLoops) {
  ASSERT_TRUE(::resque::testing::Run(Argv({"enqueue", "q", "Job", "[]"})).exit_code == 0);
  ASSERT_TRUE(redis().Command({"CONFIG", "RESETSTAT"}).ok());
  RunResult polling = ::resque::testing::Run(
      Argv({"work", "-q", "q", "--interval", "0", "--exec", "Job=true"}), {}, absl::Seconds(10));
  EXPECT_EQ(polling.exit_code, 0) << polling.err;
  EXPECT_FALSE(polling.timed_out);
  EXPECT_THAT(Resque({"stats"}).out, HasSubstr("processed\t1\n"));
  EXPECT_LT(CommandCalls(), 1000);

  // Blocking, 0 is a wait of 1 s per reserve (BLPOP's 0 is "no limit"): a second of it is a
  // handful of commands.
  Subprocess blocking(
      Argv({"work", "-q", "q", "--blocking", "--interval", "0", "--exec", "Job=true"}));
  ASSERT_TRUE(Eventually([&] { return Workers().size() == 1; }));
  ASSERT_TRUE(redis().Command({"CONFIG", "RESETSTAT"}).ok());
  absl::SleepFor(absl::Seconds(1));  // the span measured, not a wait for something to happen
  EXPECT_LT(CommandCalls(), 1000);
  blocking.Signal(SIGQUIT);
  EXPECT_EQ(blocking.Wait(absl::Seconds(10)).exit_code, 0);
}

// Finding 11: a second worker given the same --pidfile overwrote it, and the first, exiting,
// deleted it while the second ran.
TEST_F(CliHardeningTest, ASecondWorkerOnOnePidFileIsRefusedAndTheFirstKeepsIt) {
  Subprocess first(
      Argv({"work", "-q", "q", "-i", "0.1", "--exec", "Job=true", "--pidfile", pidfile_}));
  const std::string first_pid = absl::StrCat(first.pid());
  ASSERT_TRUE(Eventually([&] { return PidFileHolds() == first_pid && Workers().size() == 1; }));

  const absl::Time start = absl::Now();
  RunResult second = ::resque::testing::Run(
      Argv({"work", "-q", "q", "-i", "0.1", "--exec", "Job=true", "--pidfile", pidfile_}), {},
      absl::Seconds(10));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(second.err, absl::StrFormat("resque: pid file %s is held by a running worker (pid "
                                        "%s): give each worker its own\n",
                                        pidfile_, first_pid));
  EXPECT_EQ(PidFileHolds(), first_pid);
  ASSERT_EQ(Workers().size(), 1u);  // the second registered nothing
  EXPECT_THAT(Workers()[0], HasSubstr(absl::StrCat(":", first_pid, ":q")));

  first.Signal(SIGQUIT);
  EXPECT_EQ(first.Wait(absl::Seconds(10)).exit_code, 0);
  EXPECT_NE(access(pidfile_.c_str(), F_OK), 0);  // its owner removed it
}

// Finding 11: a pid file left by a worker that was killed is taken over; a worker removes only
// the file it holds, never one another worker made under the same name meanwhile.
TEST_F(CliHardeningTest, AStalePidFileIsTakenOverAndOnlyItsOwnerRemovesIt) {
  const auto worker = [&] {
    return std::make_unique<Subprocess>(
        Argv({"work", "-q", "q", "-i", "0.1", "--exec", "Job=true", "--pidfile", pidfile_}));
  };
  auto killed = worker();
  const std::string killed_pid = absl::StrCat(killed->pid());
  ASSERT_TRUE(Eventually([&] { return PidFileHolds() == killed_pid; }));
  killed->Signal(SIGKILL);
  killed->Wait(absl::Seconds(10));
  ASSERT_EQ(PidFileHolds(), killed_pid);  // stale

  auto first = worker();
  const std::string first_pid = absl::StrCat(first->pid());
  ASSERT_TRUE(Eventually([&] { return PidFileHolds() == first_pid; }));

  // Someone removes the file; another worker takes the name anew. The first, exiting, leaves it.
  ASSERT_EQ(unlink(pidfile_.c_str()), 0);
  auto second = worker();
  const std::string second_pid = absl::StrCat(second->pid());
  ASSERT_TRUE(Eventually([&] { return PidFileHolds() == second_pid; }));
  first->Signal(SIGQUIT);
  EXPECT_EQ(first->Wait(absl::Seconds(10)).exit_code, 0);
  EXPECT_EQ(PidFileHolds(), second_pid);
  second->Signal(SIGQUIT);
  EXPECT_EQ(second->Wait(absl::Seconds(10)).exit_code, 0);
  EXPECT_NE(access(pidfile_.c_str(), F_OK), 0);
}

// Finding 11: SIGHUP killed the worker (rc 129), leaving its registration, its pid file and its
// in-flight list. It is now a stop as TERM is (Ruby resque's meaning), said once in the log.
TEST_F(CliHardeningTest, HupStopsTheWorkerAsTermDoesAndLeavesNothingBehind) {
  ASSERT_EQ(Resque({"enqueue", "q", "Slow", "[]"}).exit_code, 0);
  const std::string started = dir_ + "/started";
  Subprocess worker(Argv({"work", "-q", "q", "-i", "0.1", "--pidfile", pidfile_, "--exec",
                          absl::StrFormat("Slow=touch %s; sleep 30", started)}));
  ASSERT_TRUE(Eventually([&] { return access(started.c_str(), F_OK) == 0; }));
  const absl::Time start = absl::Now();
  worker.Signal(SIGHUP);
  RunResult done = worker.Wait(absl::Seconds(20));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(done.signal, 0);
  EXPECT_EQ(absl::StrContains(done.err, "SIGHUP: stopping as for TERM"), true) << done.err;
  EXPECT_THAT(Workers(), ::testing::IsEmpty());
  EXPECT_NE(access(pidfile_.c_str(), F_OK), 0);
  EXPECT_EQ(redis().Command({"KEYS", "resque:inflight:*"}).value_or("?"), "");
  // The job is accounted for: failed (as TERM records it) or back on its queue.
  const std::string stats = Resque({"stats"}).out;
  EXPECT_TRUE(absl::StrContains(stats, "failed\t1\n") || absl::StrContains(stats, "pending\t1\n"))
      << stats;
}

// With --count the parent passes HUP on to each worker process, which stops as above.
TEST_F(CliHardeningTest, HupToASupervisorStopsEveryWorkerProcess) {
  Subprocess supervisor(Argv({"work", "-q", "q", "-i", "0.1", "--count", "2", "--pidfile", pidfile_,
                              "--exec", "Job=true"}));
  ASSERT_TRUE(Eventually([&] { return Workers().size() == 2; }));
  const absl::Time start = absl::Now();
  supervisor.Signal(SIGHUP);
  RunResult done = supervisor.Wait(absl::Seconds(20));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  std::vector<std::string> said = absl::StrSplit(done.err, "SIGHUP: stopping as for TERM");
  EXPECT_EQ(said.size(), 3u) << done.err;  // once per worker process
  EXPECT_THAT(Workers(), ::testing::IsEmpty());
  EXPECT_NE(access(pidfile_.c_str(), F_OK), 0);
}

// Started under nohup (HUP ignored), the worker keeps ignoring it, as the user asked.
TEST_F(CliHardeningTest, AWorkerStartedUnderNohupIgnoresHup) {
  std::vector<std::string> argv = Argv({"work", "-q", "q", "-i", "0.1", "--exec", "Job=true"});
  argv.insert(argv.begin(), "nohup");
  Subprocess worker(argv, {}, dir_);  // nohup.out, if any, goes to the test's directory
  ASSERT_TRUE(Eventually([&] { return Workers().size() == 1; }));
  worker.Signal(SIGHUP);
  ASSERT_EQ(Resque({"enqueue", "q", "Job", "[]"}).exit_code, 0);
  EXPECT_TRUE(
      Eventually([&] { return absl::StrContains(Resque({"stats"}).out, "processed\t1\n"); }));
  worker.Signal(SIGQUIT);
  RunResult done = worker.Wait(absl::Seconds(10));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_THAT(done.err, Not(HasSubstr("SIGHUP")));
}

}  // namespace
}  // namespace resque::testing
