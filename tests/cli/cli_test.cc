// End-to-end tests of the `resque` binary against a real redis-server.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/failure.h"
#include "core/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-cli-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    out_file_ = dir_ + "/out";
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf ", dir_).c_str()); }

  static RedisServer& redis() { return RedisServer::Shared(); }
  std::string url() const { return absl::StrFormat("redis://127.0.0.1:%d", redis().port()); }

  std::vector<std::string> Argv(std::vector<std::string> args) const {
    std::vector<std::string> argv = {RESQUE_BINARY, "--redis", url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::vector<std::string> Env() const { return {"RESQUE_TEST_OUT=" + out_file_}; }

  RunResult Resque(std::vector<std::string> args) {
    return ::resque::testing::Run(Argv(std::move(args)), Env());
  }

  std::string Enqueue(const std::string& queue, const std::string& cls, const std::string& args) {
    RunResult r = Resque({"enqueue", queue, cls, args, "--track"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(absl::StripTrailingAsciiWhitespace(r.out));
  }

  std::string ReadOut() const {
    std::ifstream in(out_file_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Polls `redis-side` state through the CLI until `pred(stdout)` holds, with a deadline.
  template <typename Pred>
  bool Eventually(std::vector<std::string> args, Pred pred) {
    const absl::Time end = absl::Now() + absl::Seconds(15);
    while (absl::Now() < end) {
      RunResult r = Resque(args);
      if (pred(r)) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Waits (15 s at most) until `path` exists: a job's sign that it started.
  static bool FileAppears(const std::string& path) {
    const absl::Time end = absl::Now() + absl::Seconds(15);
    while (access(path.c_str(), F_OK) != 0) {
      if (absl::Now() > end) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  std::string dir_;
  std::string out_file_;
};

TEST_F(CliTest, EnqueuedJobIsPerformedByBurstWorkerAndReachesStatusFour) {
  const std::string id = Enqueue("mail", "Record", R"({"to":"a@example.com"})");
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 1 (waiting)\n"));

  RunResult work = Resque({"work", "--queue", "mail", "--burst", "--load", TEST_JOBS_LIBRARY});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  EXPECT_EQ(ReadOut(), "[{\"to\":\"a@example.com\"}]\n");
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 4 (complete)\n"));
  EXPECT_THAT(Resque({"stats"}).out, HasSubstr("processed\t1\n"));
  EXPECT_EQ(Resque({"workers"}).out, "");  // unregistered on exit
}

// A bare file name is the file in the current directory, as for any other path (dlopen alone
// would search the library path for it and not find it).
TEST_F(CliTest, LoadTakesABareFileNameAsTheFileInTheCurrentDirectory) {
  const std::string id = Enqueue("mail", "Record", "[1]");
  ASSERT_EQ(std::system(absl::StrCat("cp ", TEST_JOBS_LIBRARY, " ", dir_, "/libjobs.so").c_str()),
            0);
  absl::StatusOr<ProcessResult> work =
      RunProcess({"/usr/bin/env", "RESQUE_TEST_OUT=" + out_file_, RESQUE_BINARY, "--redis", url(),
                  "work", "--queue", "mail", "--burst", "--load", "libjobs.so"},
                 absl::Seconds(30), dir_);
  ASSERT_TRUE(work.ok()) << work.status();
  EXPECT_EQ(work->exit_code, 0) << work->err;
  EXPECT_EQ(ReadOut(), "[1]\n");
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 4 (complete)\n"));
  EXPECT_THAT(Resque({"work", "--queue", "mail", "--burst", "--load", "absent.so"}).err,
              HasSubstr("--load: File does not exist: absent.so"));
}

// What a job writes to stdout is out as soon as the line is, though stdout is a pipe: a worker
// killed with SIGKILL after the job loses none of it.
TEST_F(CliTest, AJobsStdoutReachesAPipeLineByLine) {
  const std::string id = Enqueue("mail", "Print", R"(["hello"])");
  Subprocess worker(
      Argv({"work", "--queue", "mail", "--interval", "0.05", "--load", TEST_JOBS_LIBRARY}), Env());
  ASSERT_TRUE(worker.status().ok()) << worker.status();
  EXPECT_TRUE(Eventually(
      {"status", id}, [](const RunResult& r) { return absl::StrContains(r.out, "4 (complete)"); }));
  worker.Signal(SIGKILL);
  const RunResult done = worker.Wait(absl::Seconds(15));
  EXPECT_THAT(done.out, HasSubstr("printed [\"hello\"]\n"));
}

// `resque pause` sets Ruby's fleet-wide flag; a burst worker started meanwhile takes nothing
// and does not exit while the job is queued; `resque resume` clears it and the job runs.
TEST_F(CliTest, PauseHoldsABurstWorkerUntilResume) {
  RunResult paused = Resque({"pause"});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_EQ(*redis().Command({"GET", "resque:pause-all-workers"}), "true");
  Enqueue("mail", "Record", R"(["held"])");
  Subprocess worker(Argv({"work", "--queue", "mail", "--burst", "--interval", "0.1", "--load",
                          TEST_JOBS_LIBRARY}),
                    Env());
  ASSERT_TRUE(Eventually({"workers"}, [](const RunResult& r) { return !r.out.empty(); }));
  // A second of polls (ten at --interval 0.1): the job stays queued, the worker stays up.
  const absl::Time end = absl::Now() + absl::Seconds(1);
  while (absl::Now() < end) {
    ASSERT_EQ(*redis().Command({"LLEN", "resque:queue:mail"}), "1");
    absl::SleepFor(absl::Milliseconds(50));
  }
  RunResult listed = Resque({"workers"});
  EXPECT_FALSE(listed.out.empty());
  EXPECT_THAT(listed.err, HasSubstr("all workers are paused"));
  RunResult resumed = Resque({"resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(*redis().Command({"EXISTS", "resque:pause-all-workers"}), "0");
  RunResult done = worker.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(ReadOut(), "[\"held\"]\n");
}

// A burst worker paused with nothing queued has nothing to hold: it exits as it would unpaused.
TEST_F(CliTest, PausedBurstWorkerWithEmptyQueuesExits) {
  ASSERT_EQ(Resque({"pause"}).exit_code, 0);
  RunResult work = Resque({"work", "--queue", "mail", "--burst", "--load", TEST_JOBS_LIBRARY});
  EXPECT_EQ(work.exit_code, 0) << work.err;
  EXPECT_FALSE(work.timed_out);
}

TEST_F(CliTest, FailedJobIsListedRetriedAndThenPerformed) {
  // The command fails while the marker file is missing, and creates it: the retry succeeds.
  const std::string marker = dir_ + "/marker";
  const std::string exec = absl::StrFormat(
      "Flaky=if [ -e %s ]; then cat >> %s; else touch %s; echo 'not yet' >&2; exit 3; fi", marker,
      out_file_, marker);
  const std::string id = Enqueue("default", "Flaky", "[1,2]");
  RunResult work = Resque({"work", "-q", "default", "--burst", "--exec", exec});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 3 (failed)\n"));
  EXPECT_EQ(Resque({"failed", "count"}).out, "1\n");
  RunResult list = Resque({"failed", "list"});
  EXPECT_THAT(list.out, HasSubstr("default"));
  EXPECT_THAT(list.out, HasSubstr("exited with 3: not yet"));
  EXPECT_THAT(list.out, HasSubstr(id));

  ASSERT_EQ(Resque({"failed", "retry", "0"}).exit_code, 0);
  EXPECT_THAT(Resque({"failed", "list"}).out, HasSubstr("retried"));
  work = Resque({"work", "-q", "default", "--burst", "--exec", exec});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  EXPECT_EQ(ReadOut(), "[1,2]");
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 4 (complete)\n"));
  EXPECT_THAT(Resque({"stats"}).out, HasSubstr("processed\t2\nfailed\t1\n"));
}

TEST_F(CliTest, ExecJobGetsArgsOnStdinAndJobEnvironment) {
  const std::string id = Enqueue("q", "Env", R"js(["x; rm -rf /", {"y":"$(id)"}])js");
  const std::string exec =
      absl::StrFormat("Env=cat >> %s; echo \" $RESQUE_JOB_ID $RESQUE_QUEUE $RESQUE_CLASS\" >> %s",
                      out_file_, out_file_);
  ASSERT_EQ(Resque({"work", "-q", "q", "--burst", "--exec", exec}).exit_code, 0);
  EXPECT_EQ(ReadOut(), absl::StrCat(R"js(["x; rm -rf /", {"y":"$(id)"}])js", " ", id, " q Env\n"));
}

TEST_F(CliTest, EnqueueInRubyFormWritesRubysBytesWithoutAnId) {
  RunResult r =
      Resque({"enqueue", "q", "Archive", R"([35, "a\/b", 1e2, {"k": "\u00e9"}])", "--ruby-form"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");  // no id to print
  EXPECT_EQ(redis().Command({"LRANGE", "resque:queue:q", "0", "-1"}).value_or(""),
            R"({"class":"Archive","args":[35,"a/b",100.0,{"k":"é"}]})");
  r = Resque({"enqueue", "q", "Archive", "[]", "--ruby-form", "--track"});
  EXPECT_NE(r.exit_code, 0);
  r = Resque({"enqueue", "q", "Archive", "[1e400]", "--ruby-form"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Infinity"));
}

// resque-web shows a record's backtrace under its error: an --exec failure's is the stderr tail.
TEST_F(CliTest, ExecFailureKeepsTheStderrTailAsBoundedBacktraceLines) {
  // 25 short lines, one of 2000 bytes, "the end", an empty line: the last 20 are kept, the long
  // one cut to 500 bytes, and the error names the exit and the last line that is not empty.
  const std::string exec =
      "Noisy=seq 1 25 >&2; head -c 2000 /dev/zero | tr '\\0' y >&2; echo >&2; "
      "echo 'the end' >&2; echo >&2; exit 4";
  for (const bool fork : {false, true}) {
    SCOPED_TRACE(fork ? "--fork" : "in process");
    ASSERT_TRUE(redis().Flush().ok());
    Enqueue("q", "Noisy", "");
    std::vector<std::string> args = {"work", "-q", "q", "--burst", "--exec", exec};
    if (fork) args.push_back("--fork");
    ASSERT_EQ(Resque(args).exit_code, 0);
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis().Options());
    ASSERT_TRUE(backend.ok()) << backend.status();
    absl::StatusOr<std::vector<std::string>> records = (*backend)->Failures(0, 10);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 1u);
    absl::StatusOr<Failure> f = DecodeFailure(records->front());
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->error, "UNKNOWN: command exited with 4: the end");
    std::vector<std::string> want;
    for (int i = 9; i <= 25; ++i) want.push_back(absl::StrCat(i));
    want.push_back(std::string(497, 'y') + "...");
    want.insert(want.end(), {"the end", ""});
    EXPECT_EQ(f->backtrace, want);
  }
}

// FAILURE_BACKEND=redis_multi_queue, as Ruby resque reads it: the worker's failures go to
// <ns>:<queue>_failed, named in <ns>:failed_queues, and `failed` works queue by queue.
TEST_F(CliTest, MultiQueueFailureBackendKeepsFailuresPerQueue) {
  Enqueue("mail", "Fail", "[1]");
  Enqueue("high", "Fail", "[2]");
  Enqueue("high", "Fail", "[3]");
  const std::vector<std::string> multi = {"--failure-backend", "redis_multi_queue"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), multi.begin(), multi.end());
    return Resque(args);
  };
  RunResult work = with({"work", "-q", "high,mail", "--burst", "--exec", "Fail=exit 1"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  EXPECT_THAT(redis().Command({"SMEMBERS", "resque:failed_queues"}).value_or(""),
              HasSubstr("high_failed"));
  EXPECT_EQ(redis().Command({"LLEN", "resque:high_failed"}).value_or(""), "2");
  EXPECT_EQ(redis().Command({"LLEN", "resque:mail_failed"}).value_or(""), "1");
  EXPECT_EQ(redis().Command({"EXISTS", "resque:failed"}).value_or(""), "0");

  EXPECT_EQ(with({"failed", "queues"}).out, "high\t2\nmail\t1\n");
  EXPECT_EQ(with({"failed", "count"}).out, "3\n");
  EXPECT_EQ(with({"failed", "count", "--queue", "mail"}).out, "1\n");
  EXPECT_THAT(with({"failed", "list"}).out, HasSubstr("\tmail\t"));
  RunResult retry = with({"failed", "retry", "0"});
  EXPECT_NE(retry.exit_code, 0);
  EXPECT_THAT(retry.err, HasSubstr("name the queue"));
  ASSERT_EQ(with({"failed", "retry", "1", "--queue", "high"}).exit_code, 0);
  EXPECT_THAT(redis().Command({"LRANGE", "resque:queue:high", "0", "-1"}).value_or(""),
              HasSubstr("[3]"));
  ASSERT_EQ(with({"failed", "remove", "0", "--queue", "high"}).exit_code, 0);
  EXPECT_EQ(with({"failed", "count", "--queue", "high"}).out, "1\n");
  ASSERT_EQ(with({"failed", "clear", "--queue", "mail"}).exit_code, 0);
  EXPECT_EQ(with({"failed", "queues"}).out, "high\t1\n");
  // The environment variable Ruby reads works too; the default layout sees none of it.
  RunResult env =
      ::resque::testing::Run(Argv({"failed", "count"}), {"FAILURE_BACKEND=redis_multi_queue"});
  EXPECT_EQ(env.out, "1\n");
  EXPECT_EQ(Resque({"failed", "count"}).out, "0\n");
  RunResult one = Resque({"failed", "queues"});
  EXPECT_NE(one.exit_code, 0);
  EXPECT_THAT(one.err, HasSubstr("one list"));
  RunResult memory =
      ::resque::testing::Run({RESQUE_BINARY, "--redis", "memory://", "--failure-backend",
                              "redis_multi_queue", "failed", "count"});
  EXPECT_NE(memory.exit_code, 0);
  EXPECT_THAT(memory.err, HasSubstr("needs a Redis URL"));
  RunResult bad = Resque({"--failure-backend", "airbrake", "failed", "count"});
  EXPECT_NE(bad.exit_code, 0);
}

TEST_F(CliTest, ThrowingAndUnknownJobsBecomeFailureRecords) {
  Enqueue("q", "Throw", "");
  Enqueue("q", "Nobody", "");
  Enqueue("q", "Record", "[3]");
  ASSERT_EQ(Resque({"work", "-q", "q", "--burst", "--load", TEST_JOBS_LIBRARY}).exit_code, 0);
  RunResult list = Resque({"failed", "list", "--json"});
  EXPECT_THAT(list.out, HasSubstr(R"("exception":"std::invalid_argument","error":"bad things")"));
  EXPECT_THAT(list.out, HasSubstr(R"("exception":"resque::UnknownJobClass")"));
  EXPECT_EQ(ReadOut(), "[3]\n");
}

TEST_F(CliTest, ForkModeRecordsACrashAndGoesOn) {
  Enqueue("q", "Crash", "");
  Enqueue("q", "Record", "[4]");
  // Under AddressSanitizer the child's SIGSEGV would be caught and turned into exit(1): let the
  // signal kill it, as it does in a normal build.
  std::vector<std::string> env = Env();
  env.push_back("ASAN_OPTIONS=handle_segv=0");
  RunResult work = ::resque::testing::Run(
      Argv({"work", "-q", "q", "--burst", "--fork", "--load", TEST_JOBS_LIBRARY}), env);
  ASSERT_EQ(work.exit_code, 0) << work.err;
  EXPECT_THAT(Resque({"failed", "list"}).out, HasSubstr("killed by signal 11"));
  EXPECT_EQ(ReadOut(), "[4]\n");
}

TEST_F(CliTest, QuitLetsTheRunningJobFinishThenExits) {
  const std::string started = dir_ + "/started";
  const std::string exec =
      absl::StrFormat("Slow=touch %s; sleep 0.5; cat >> %s", started, out_file_);
  const std::string id = Enqueue("q", "Slow", "[1]");
  Subprocess worker(Argv({"work", "-q", "q", "--blocking", "-i", "0.1", "--exec", exec}), Env());
  ASSERT_TRUE(FileAppears(started));
  worker.Signal(SIGQUIT);
  RunResult r = worker.Wait(absl::Seconds(15));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadOut(), "[1]");
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 4 (complete)\n"));
  EXPECT_EQ(Resque({"workers"}).out, "");
}

TEST_F(CliTest, TermStopsTheRunningJobAtOnceAndRecordsIt) {
  const std::string started = dir_ + "/started";
  const std::string exec = absl::StrFormat("Stuck=touch %s; exec sleep 60", started);
  const std::string id = Enqueue("q", "Stuck", "");
  Subprocess worker(Argv({"work", "-q", "q", "--blocking", "-i", "0.1", "--exec", exec}), Env());
  ASSERT_TRUE(FileAppears(started));
  const absl::Time sent = absl::Now();
  worker.Signal(SIGTERM);
  RunResult r = worker.Wait(absl::Seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_LT(absl::Now() - sent, absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 3 (failed)\n"));
  EXPECT_THAT(Resque({"failed", "list"}).out, HasSubstr("killed by signal 9"));
  EXPECT_EQ(Resque({"workers"}).out, "");
}

TEST_F(CliTest, Usr2PausesAndContResumes) {
  const std::string exec = absl::StrFormat("Rec=cat >> %s", out_file_);
  // The worker logs (VERBOSE) to a file, where its slot says when it parks.
  const std::string log = dir_ + "/log";
  std::vector<std::string> argv = {"/bin/sh", "-c", absl::StrFormat("exec \"$@\" 2>>%s", log),
                                   "sh"};
  for (std::string& arg : Argv({"work", "-q", "q", "--blocking", "-i", "0.1", "--exec", exec})) {
    argv.push_back(std::move(arg));
  }
  std::vector<std::string> env = Env();
  env.push_back("VERBOSE=1");
  Subprocess worker(argv, env);
  ASSERT_TRUE(Eventually({"workers"}, [](const RunResult& r) { return !r.out.empty(); }));
  worker.Signal(SIGUSR2);
  // Once the slot says it is parked it reserves nothing until CONT, however long it waits: the
  // job enqueued after that line is still queued.
  const absl::Time end = absl::Now() + absl::Seconds(15);
  std::string logged;
  while (!absl::StrContains(logged, "paused, taking no new jobs") && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(5));
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    logged = text.str();
  }
  ASSERT_THAT(logged, HasSubstr("paused, taking no new jobs"));
  Enqueue("q", "Rec", "[9]");
  EXPECT_EQ(Resque({"queues"}).out, "q\t1\n");
  worker.Signal(SIGCONT);
  EXPECT_TRUE(Eventually({"queues"}, [](const RunResult& r) { return r.out == "q\t0\n"; }));
  EXPECT_TRUE(Eventually({"stats"}, [](const RunResult& r) {
    return r.out.find("processed\t1\n") != std::string::npos;
  }));
  worker.Signal(SIGQUIT);
  EXPECT_EQ(worker.Wait(absl::Seconds(15)).exit_code, 0);
  EXPECT_EQ(ReadOut(), "[9]");
}

TEST_F(CliTest, BadInputGivesOneLineErrorsAndNonZeroExits) {
  RunResult r = Resque({"enqueue", "q", "A", "{not json"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("resque: args: not valid JSON"));

  r = Resque({"status", "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(r.exit_code, 4);  // an unknown id (issue 13, item 7)
  EXPECT_THAT(r.err, HasSubstr("has no status"));

  r = Resque({"work", "--queue", "q", "--bogus"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));

  r = Resque({"work", "--queue", "q", "--exec", "NoEquals"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("CLASS=COMMAND"));

  r = Resque({"failed", "retry", "5"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("no failure at index 5"));

  r = Resque({"work", "--queue", "q", "--burst", "--batch", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--batch"));

  // An index or a count past any list, negative or not a whole number: one short line.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"failed", "retry", "99999999999999999999"},
        {"failed", "remove", "-5"},
        {"failed", "list", "--start", "-1"},
        {"failed", "list", "--count", "1e3"}}) {
    r = Resque(args);
    EXPECT_NE(r.exit_code, 0) << args.back();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_LT(r.err.size(), 200u) << r.err;
    EXPECT_THAT(r.err, Not(HasSubstr("9223372036854775807"))) << r.err;
  }

  r = Resque({"work", "--queue", "q", "--burst", "--batch", "8", "--unreliable", "--load",
              TEST_JOBS_LIBRARY});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("batches need reliable reserve"));
}

TEST_F(CliTest, ADeadAfterBelowThreeHeartbeatsIsRefusedBeforeAnythingStarts) {
  // Issue 12: `--dead-after 0.001` let a second worker run a live worker's job.
  RunResult r =
      Resque({"work", "--queue", "q", "--burst", "--dead-after", "0.001", "--exec", "Job=true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("dead-after 1ms is too short: it must be at least 16s"));
  EXPECT_EQ(Resque({"workers"}).out, "");
  r = Resque({"work", "--queue", "q", "--burst", "--peer-dead-after", "30", "--exec", "Job=true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("peer-dead-after 30s is too short"));
  EXPECT_EQ(Resque({"work", "--queue", "q", "--burst", "--dead-after", "16", "--exec", "Job=true"})
                .exit_code,
            0);
}

TEST_F(CliTest, BatchedBurstWorkerPerformsEveryJobInOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(Enqueue("mail", "Record", absl::StrFormat("[%d]", i)));
  RunResult work =
      Resque({"work", "--queue", "mail", "--burst", "--batch", "4", "--load", TEST_JOBS_LIBRARY});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  std::string expected;
  for (int i = 0; i < 12; ++i) absl::StrAppend(&expected, absl::StrFormat("[%d]\n", i));
  EXPECT_EQ(ReadOut(), expected);
  for (const std::string& id : ids) {
    EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 4 (complete)\n"));
  }
  EXPECT_THAT(Resque({"stats"}).out, HasSubstr("processed\t12\n"));
}

TEST_F(CliTest, UnreachableRedisNamesTheAddressButNotThePassword) {
  // A port nothing listens on: bind one, learn its number, close it.
  RunResult r =
      ::resque::testing::Run({RESQUE_BINARY, "--redis", "redis://:s3cret@127.0.0.1:1", "stats"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(r.err, Not(HasSubstr("s3cret")));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliTest, DemoPrintsTheWalkthroughOnTheMemoryBackend) {
  RunResult r = ::resque::testing::Run({RESQUE_BINARY, "demo"}, {"REDIS_BACKEND="});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  std::stringstream s(r.out);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  ASSERT_TRUE(absl::StartsWith(lines[0], "Queued job "));
  const std::string id = lines[0].substr(11);
  EXPECT_EQ(lines[1], absl::StrCat("Status of ", id, " is: 1"));
  EXPECT_EQ(lines[2], "Hello!");
  EXPECT_EQ(lines[3], absl::StrCat("Status of ", id, " is: 2"));
  EXPECT_EQ(lines[4], absl::StrCat("Status of ", id, " is: 4"));
}

TEST_F(CliTest, EmbeddedWorkerPerformsItsOwnJobs) {
  RunResult r = ::resque::testing::Run(
      {EMBEDDED_WORKER, "--redis", url(), "enqueue", "mail", "SendEmail", R"({"to":"a@b.c"})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ::resque::testing::Run(
      {EMBEDDED_WORKER, "--redis", url(), "work", "--queue", "mail", "--burst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sending email [{\"to\":\"a@b.c\"}]\n");
}

TEST_F(CliTest, DemoRunsAgainstRedisToo) {
  RunResult r = Resque({"demo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("is: 4\n"));
}

// Issue 12, item 1: the command under /bin/sh is killed with it (its process group), so neither
// TERM nor --timeout waits for it, and it does not outlive the worker.
// The pid written to `path`, 0 while there is none.
int PidIn(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

// Whether `pid` is gone (or a zombie for init to reap) within `limit`.
bool GoneWithin(int pid, absl::Duration limit) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    if (!std::getline(stat, line)) return true;
    if (line.find(") Z ") != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST_F(CliTest, TermAndTimeoutEndTheCommandUnderTheShellToo) {
  const std::string pid_file = dir_ + "/sleep.pid";
  const std::string exec = absl::StrFormat("Bg=sleep 60 & echo $! > %s; wait", pid_file);
  auto sleep_pid = [&] { return PidIn(pid_file); };

  Enqueue("q", "Bg", "");
  Subprocess worker(Argv({"work", "-q", "q", "--blocking", "-i", "0.1", "--exec", exec}), Env());
  const absl::Time end = absl::Now() + absl::Seconds(15);
  while (sleep_pid() == 0 && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_GT(sleep_pid(), 0);
  const absl::Time sent = absl::Now();
  worker.Signal(SIGTERM);
  RunResult r = worker.Wait(absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
  EXPECT_TRUE(GoneWithin(sleep_pid(), absl::Seconds(5))) << "sleep outlived the worker";

  std::remove(pid_file.c_str());
  Enqueue("q", "Bg", "");
  const absl::Time started = absl::Now();
  r = Resque({"work", "-q", "q", "--burst", "--timeout", "0.5", "--exec", exec});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  EXPECT_THAT(Resque({"failed", "list"}).out, HasSubstr("resque::JobTimeout"));
  EXPECT_TRUE(GoneWithin(sleep_pid(), absl::Seconds(5))) << "sleep outlived its timeout";
}

// Issue 12, item 1 with --fork: TERM ends the job's process and the command it runs, together.
TEST_F(CliTest, TermInForkModeLeavesNoCommandBehind) {
  const std::string pid_file = dir_ + "/sleep.pid";
  Enqueue("q", "S", "");
  Subprocess worker(Argv({"work", "-q", "q", "--fork", "--blocking", "-i", "0.1", "--exec",
                          absl::StrFormat("S=sleep 60 & echo $! > %s; wait", pid_file)}),
                    Env());
  const absl::Time end = absl::Now() + absl::Seconds(15);
  while (PidIn(pid_file) == 0 && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_GT(PidIn(pid_file), 0);
  const absl::Time sent = absl::Now();
  worker.Signal(SIGTERM);
  const RunResult r = worker.Wait(absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(absl::Now() - sent, absl::Seconds(2));
  EXPECT_TRUE(GoneWithin(PidIn(pid_file), absl::Seconds(5))) << "sleep outlived the worker";
}

// Issue 12, item 2: a job is over when its command has ended; what the command left running in
// the background is killed then, and holds neither the slot nor the worker.
TEST_F(CliTest, AJobIsOverWhenItsCommandEndsAndWhatItBackgroundedIsKilled) {
  const std::string pid_file = dir_ + "/sleep.pid";
  for (int i = 0; i < 3; ++i) Enqueue("q", "Bg", "");
  const absl::Time start = absl::Now();
  const RunResult r = Resque({"work", "-q", "q", "--burst", "--exec",
                              absl::StrFormat("Bg=sleep 30 & echo $! > %s; echo done", pid_file)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "the backgrounded sleeps held the slot";
  EXPECT_EQ(r.out, "done\ndone\ndone\n");
  EXPECT_TRUE(GoneWithin(PidIn(pid_file), absl::Seconds(5))) << "sleep outlived its job";
  const RunResult stats = Resque({"stats"});
  EXPECT_THAT(stats.out, HasSubstr("processed\t3\n"));
  EXPECT_THAT(stats.out, HasSubstr("failed\t0\n"));
}

// Issue 12, item 5: a command that writes 20 MB to stderr leaves a failure record of a few KB,
// a worker of ordinary size, and no log line longer than kMaxLogLineBytes and its mark. (The
// worker's stderr is read only at the end, so a worker passing the 20 MB on whole also fills the
// pipe and never records the job.)
TEST_F(CliTest, AJobsRunawayStderrIsBoundedInTheRecordTheWorkerAndTheLog) {
  Enqueue("q", "Loud", "");
  Subprocess worker(Argv({"work", "-q", "q", "-i", "0.1", "--exec",
                          "Loud=head -c 20000000 /dev/zero | tr '\\0' x >&2; echo >&2; "
                          "echo 'last words' >&2; exit 2"}),
                    Env());
  ASSERT_TRUE(Eventually({"failed", "count"}, [](const RunResult& r) { return r.out == "1\n"; }));
  std::ifstream status(absl::StrCat("/proc/", worker.pid(), "/status"));
  int64_t peak_kb = 0;
  for (std::string line; std::getline(status, line);) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(rest, "kB")), &peak_kb);
    }
  }
  worker.Signal(SIGTERM);
  const RunResult r = worker.Wait(absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(peak_kb, 0);
#ifndef __SANITIZE_ADDRESS__  // whose shadow memory and quarantine of freed blocks count in RSS
  EXPECT_LT(peak_kb, 64 * 1024) << "the worker held the stderr";
#endif

  absl::StatusOr<std::string> usage = redis().Command({"MEMORY", "USAGE", "resque:failed"});
  ASSERT_TRUE(usage.ok()) << usage.status();
  int64_t bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(*usage, &bytes)) << *usage;
  EXPECT_LT(bytes, 64 * 1024);
  const RunResult listed = Resque({"failed", "list"});
  EXPECT_THAT(listed.out, HasSubstr("command exited with 2: last words"));

  size_t longest = 0;
  for (absl::string_view line : absl::StrSplit(r.err, '\n'))
    longest = std::max(longest, line.size());
  EXPECT_LE(longest, kMaxLogLineBytes + 3);
}

// ---- Delayed jobs and the scheduler ----

TEST_F(CliTest, ADelayedJobIsQueuedByWorkSchedulerWhenDueAndReachesStatusFour) {
  RunResult r = Resque({"enqueue", "mail", "Record", R"(["later"])", "--in", "1", "--track"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id(absl::StripTrailingAsciiWhitespace(r.out));
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(Resque({"status", id}).out, absl::StrCat("Status of ", id, " is: 1 (waiting)\n"));
  EXPECT_EQ(Resque({"delayed", "count"}).out, "1\n");
  const std::string listed = Resque({"delayed", "list"}).out;
  EXPECT_THAT(listed, HasSubstr(absl::StrCat("Z\tmail\tRecord\t[\"later\"]\t", id, "\n")));
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 1) << listed;
  EXPECT_EQ(Resque({"queues"}).out, "");  // not queued yet

  Subprocess worker(Argv({"work", "--queue", "mail", "--scheduler", "--interval", "0.05", "--load",
                          TEST_JOBS_LIBRARY}),
                    Env());
  EXPECT_TRUE(Eventually({"status", id}, [](const RunResult& s) {
    return s.exit_code == 0 && absl::StrContains(s.out, "4 (complete)");
  }));
  worker.Signal(SIGTERM);
  RunResult done = worker.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(Resque({"delayed", "count"}).out, "0\n");
  EXPECT_THAT(ReadOut(), HasSubstr("later"));
  // The worker's scheduler released the leader locks as it stopped.
  EXPECT_EQ(*redis().Command({"EXISTS", "resque:resque_scheduler_leader_lock",
                              "resque:resque:resque_scheduler_master_lock"}),
            "0");
}

// --retry: each failed try waits in the delayed jobs (status 1, saying when), counted as failed
// but not recorded; the last one lands in the failed list marked exhausted.
TEST_F(CliTest, WorkRetryTriesAFailingJobAgainThenRecordsItExhausted) {
  RunResult r = Resque({"enqueue", "q", "Flaky", "[1]", "--track"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id(absl::StripTrailingAsciiWhitespace(r.out));
  // One try, then the retry waits an hour: the status says so, nothing is recorded.
  RunResult first = Resque({"work", "-q", "q", "--burst", "--exec", "Flaky=exit 3", "--retry",
                            "Flaky=2", "--retry-delay", "3600"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(Resque({"status", id}).out, HasSubstr("1 (waiting, retry 1 at "));
  EXPECT_EQ(Resque({"failed", "count"}).out, "0\n");
  EXPECT_EQ(Resque({"delayed", "count"}).out, "1\n");
  EXPECT_EQ(*redis().Command({"GET", "resque:stat:failed"}), "1");
  ASSERT_EQ(Resque({"delayed", "run-now", "Flaky"}).out, "1 queued\n");

  Subprocess worker(Argv({"work", "-q", "q", "--scheduler", "--interval", "0.05", "--exec",
                          "Flaky=exit 3", "--retry", "Flaky=2", "--retry-delay", "0"}),
                    Env());
  EXPECT_TRUE(Eventually(
      {"status", id}, [](const RunResult& s) { return absl::StrContains(s.out, "3 (failed)"); }));
  worker.Signal(SIGTERM);
  RunResult done = worker.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(Resque({"failed", "count"}).out, "1\n");
  const std::string record = *redis().Command({"LINDEX", "resque:failed", "0"});
  EXPECT_THAT(record, HasSubstr(R"("retry_count":2,"retries_exhausted":true)"));
  // The record's payload is the job as enqueued: retried by hand, it starts its retries over.
  EXPECT_THAT(record, Not(HasSubstr("error_message")));
  EXPECT_EQ(*redis().Command({"GET", "resque:stat:failed"}), "3");
  EXPECT_EQ(Resque({"delayed", "count"}).out, "0\n");
}

// ---- Recurring schedules ----

TEST_F(CliTest, ScheduleAddListLoadAndRemoveWhereResqueSchedulerKeepsThem) {
  RunResult add = Resque({"schedule", "add", "tick", "--every", "1s", "--class", "Record",
                          "--queue", "clock", "--args", "[1]", "--description", "each second"});
  EXPECT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, "stored tick\n");
  EXPECT_EQ(Resque({"schedule", "add", "tick", "--every", "1s", "--class", "Record", "--queue",
                    "clock", "--args", "[1]", "--description", "each second"})
                .out,
            "unchanged tick\n");
  // resque-scheduler's dynamic schedule, as resque-web reads it.
  EXPECT_EQ(
      *redis().Command({"HGET", "resque:persistent_schedules", "tick"}),
      R"({"class":"Record","queue":"clock","args":[1],"every":"1s","description":"each second"})");
  EXPECT_EQ(*redis().Command({"SISMEMBER", "resque:schedules_changed", "tick"}), "1");

  const std::string file = absl::StrCat(::testing::TempDir(), "/schedule.json");
  {
    std::ofstream out(file);
    out << R"({"nightly": {"cron": "0 3 * * * Europe/Paris", "class": "Report", "queue": "low"}})";
  }
  EXPECT_EQ(Resque({"schedule", "load", file}).out, "1 stored\n");
  EXPECT_EQ(Resque({"schedule", "load", file}).out, "0 stored\n");
  const std::string listed = Resque({"schedule", "list"}).out;
  EXPECT_THAT(listed, HasSubstr("nightly\tcron 0 3 * * * Europe/Paris\tlow\tReport\t[]\tnext "));
  EXPECT_THAT(listed, HasSubstr("tick\tevery 1s\tclock\tRecord\t[1]\tnext "));

  // A worker's scheduler enqueues the occurrences; the job runs.
  Subprocess worker(Argv({"work", "--queue", "clock", "--scheduler", "--interval", "0.05", "--load",
                          TEST_JOBS_LIBRARY}),
                    Env());
  EXPECT_TRUE(Eventually({"stats"}, [](const RunResult& r) {
    return r.out.rfind("processed\t", 0) == 0 && std::atoi(r.out.c_str() + 10) >= 2;
  }));
  worker.Signal(SIGTERM);
  RunResult done = worker.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_THAT(ReadOut(), HasSubstr("[1]"));
  EXPECT_NE(*redis().Command({"HGET", "resque:delayed:last_enqueued_at", "tick"}), "");

  EXPECT_EQ(Resque({"schedule", "remove", "tick"}).out, "removed tick\n");
  RunResult again = Resque({"schedule", "remove", "tick"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("no schedule \"tick\""));
}

TEST_F(CliTest, BadSchedulesAreUsageErrors) {
  const std::string bad_file = absl::StrCat(::testing::TempDir(), "/bad-schedule.json");
  {
    std::ofstream out(bad_file);
    out << R"({"x": {"class": "Report", "queue": "low", "cron": "* * *"}})";
  }
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"schedule", "add", "t", "--class", "C", "--queue", "q"},
           {"schedule", "add", "t", "--class", "C", "--queue", "q", "--every", "1s", "--cron",
            "* * * * *"},
           {"schedule", "add", "t", "--class", "C", "--queue", "q", "--cron", "61 * * * *"},
           {"schedule", "add", "t", "--class", "C", "--queue", "q", "--every", "soon"},
           {"schedule", "add", "t", "--class", "C", "--queue", "q", "--cron",
            "0 3 * * * Mars/Base"},
           {"schedule", "add", "t", "--class", "C", "--queue", "a,b", "--every", "1s"},
           {"schedule", "add", "t", "--class", "C", "--queue", "q", "--every", "1s", "--args", "{"},
           {"schedule", "load", bad_file},
           {"scheduler", "--catch-up", "0"},
           {"scheduler", "--catch-up", "10", "--lock-timeout", "60"}}) {
    RunResult r = Resque(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(Resque({"schedule", "list"}).out, "");
}

TEST_F(CliTest, BadRetryFlagsAreUsageErrors) {
  for (const char* flag : {"Flaky", "Flaky=", "Flaky=-1", "Flaky=101", "=3", "Nope=2"}) {
    RunResult r = Resque({"work", "-q", "q", "--burst", "--exec", "Flaky=exit 3", "--retry", flag});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(CliTest, SchedulerOnceMovesWhatIsDueAndLeavesTheRest) {
  ASSERT_EQ(Resque({"enqueue", "mail", "Record", "[1]", "--at", "1"}).exit_code, 0);
  ASSERT_EQ(
      Resque({"enqueue", "mail", "Record", "[2]", "--at", "2000-01-01T00:00:00+02:00"}).exit_code,
      0);
  ASSERT_EQ(Resque({"enqueue", "mail", "Record", "[3]", "--in", "1h"}).exit_code, 0);
  RunResult once = Resque({"scheduler", "--once"});
  EXPECT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(once.out, "leader: 2 moved, 0 failed, 0 enqueued by schedules\n");
  EXPECT_EQ(Resque({"queues"}).out, "mail\t2\n");
  EXPECT_EQ(Resque({"delayed", "count"}).out, "1\n");
  // Another scheduler holds the lock: this one moves nothing.
  ASSERT_TRUE(redis().Command({"SET", "resque:resque_scheduler_leader_lock", "other:1"}).ok());
  ASSERT_EQ(Resque({"enqueue", "mail", "Record", "[4]", "--at", "5"}).exit_code, 0);
  EXPECT_EQ(Resque({"scheduler", "--once"}).out,
            "not the leader: 0 moved, 0 failed, 0 enqueued by schedules\n");
  EXPECT_EQ(Resque({"delayed", "count"}).out, "2\n");
}

TEST_F(CliTest, DelayedRunNowAndRemoveTakeTheMatchingJobs) {
  for (const char* args : {R"(["a"])", R"(["b"])", R"(["a"])"}) {
    ASSERT_EQ(Resque({"enqueue", "mail", "Record", args, "--in", "3600"}).exit_code, 0);
  }
  ASSERT_EQ(Resque({"enqueue", "mail", "Other", "[]", "--in", "3600"}).exit_code, 0);
  RunResult now = Resque({"delayed", "run-now", "Record", R"([ "a" ])"});
  EXPECT_EQ(now.exit_code, 0) << now.err;
  EXPECT_EQ(now.out, "2 queued\n");
  EXPECT_EQ(Resque({"queues"}).out, "mail\t2\n");
  EXPECT_EQ(Resque({"delayed", "remove", "Record"}).out, "1 removed\n");
  EXPECT_EQ(Resque({"delayed", "count"}).out, "1\n");
  EXPECT_EQ(Resque({"delayed", "remove", "Nope"}).out, "0 removed\n");
  RunResult json = Resque({"delayed", "list", "--json"});
  EXPECT_THAT(json.out, HasSubstr(R"(,"job":{"class":"Other","args":[],)"));
  EXPECT_EQ(json.out.substr(0, 7), R"([{"at":)");
  EXPECT_EQ(json.out.substr(json.out.size() - 4), "}}]\n");
}

TEST_F(CliTest, BadDelaysAndSchedulerFlagsAreUsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"enqueue", "mail", "Record", "--at", "tomorrow"},
           {"enqueue", "mail", "Record", "--at", "-5"},
           {"enqueue", "mail", "Record", "--in", "-5"},
           {"enqueue", "mail", "Record", "--in", "2y"},
           {"enqueue", "mail", "Record", "--in", "400d"},
           {"enqueue", "mail", "Record", "--in", "nan"},
           {"enqueue", "mail", "Record", "--at", "1", "--in", "1"},
           {"enqueue", "mail", "Record", "--ruby-form", "--in", "1"},
           {"scheduler", "--batch", "0"},
           {"scheduler", "--lock-timeout", "0"},
           {"scheduler", "--interval", "0"},
           {"delayed"},
           {"delayed", "remove"},
           {"delayed", "run-now", "Record", "not json"}}) {
    RunResult r = Resque(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(Resque({"delayed", "count"}).out, "0\n");
}

TEST_F(CliTest, SchedulerStopsOnTermAndReleasesItsLock) {
  Subprocess scheduler(Argv({"scheduler", "--interval", "0.05", "--name", "cli-test:1"}), Env());
  const absl::Time end = absl::Now() + absl::Seconds(15);
  while (redis().Command({"GET", "resque:resque_scheduler_leader_lock"}).value_or("") !=
             "cli-test:1" &&
         absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(*redis().Command({"GET", "resque:resque:resque_scheduler_master_lock"}), "cli-test:1");
  ASSERT_EQ(Resque({"enqueue", "mail", "Record", "[1]", "--at", "1"}).exit_code, 0);
  EXPECT_TRUE(Eventually({"queues"}, [](const RunResult& r) { return r.out == "mail\t1\n"; }));
  scheduler.Signal(SIGTERM);
  RunResult done = scheduler.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(*redis().Command({"EXISTS", "resque:resque_scheduler_leader_lock",
                              "resque:resque:resque_scheduler_master_lock"}),
            "0");
}

// `resque top`: one frame, the fullest queue first; frames into a pipe follow each other.
TEST_F(CliTest, TopShowsQueuesFullestFirstAndWorkersThenExits) {
  Enqueue("small", "Job", "[]");
  for (int i = 0; i < 3; ++i) Enqueue("big", "Job", "[]");
  ASSERT_EQ(redis().Command({"SADD", "resque:workers", "h:1:big"}).status(), absl::OkStatus());
  RunResult r = Resque({"top", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pending 4 in 2 queues"));
  EXPECT_THAT(r.out, HasSubstr("workers 1: busy 0  idle 1"));
  const size_t big = r.out.find("\nbig ");
  const size_t small = r.out.find("\nsmall ");
  ASSERT_NE(big, std::string::npos) << r.out;
  ASSERT_NE(small, std::string::npos) << r.out;
  EXPECT_LT(big, small) << r.out;
  EXPECT_THAT(r.out, HasSubstr("h:1:big"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));  // no screen control into a pipe

  r = Resque({"top", "--iterations", "2", "--interval", "0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> frames = absl::StrSplit(r.out, "resque top ");
  EXPECT_EQ(frames.size(), 3u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("throughput 0.0/s"));  // the second frame has a rate
}

// `resque web`: serves until TERM; refuses bad flags and a listen beyond loopback without
// credentials, before touching Redis.
TEST_F(CliTest, WebServesUntilTermAndRefusesBadListensAndCredentials) {
  Subprocess web(Argv({"web", "--listen", "127.0.0.1:0"}), Env());
  ASSERT_EQ(web.status(), absl::OkStatus());
  absl::SleepFor(absl::Milliseconds(500));
  web.Signal(SIGTERM);
  RunResult done = web.Wait(absl::Seconds(15));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_THAT(done.out, HasSubstr("resque web: http://127.0.0.1:"));

  RunResult r = Resque({"web", "--listen", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--listen wants HOST:PORT"));
  r = ::resque::testing::Run(
      {RESQUE_BINARY, "--redis", "redis://127.0.0.1:1", "web", "--listen", "0.0.0.0:5678"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("credentials are required"));
  r = ::resque::testing::Run(Argv({"web", "--listen", "127.0.0.1:0"}), {"RESQUE_WEB_AUTH=nocolon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("user:password"));
  r = Resque({"web", "--auth-file", dir_ + "/missing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read --auth-file"));
  r = Resque({"web", "--refresh", "0"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace resque::testing
