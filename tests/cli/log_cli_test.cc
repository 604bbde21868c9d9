// Issue 13, item 11, end to end with the `resque` binary and a real redis-server: the worker's
// log lines (levels, job start and end, failures, unknown classes, signals and pause, summaries,
// JSON) and `resque workers` showing a paused worker.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Waits (15 s at most) until `pred()` holds.
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time end = absl::Now() + absl::Seconds(15);
  while (!pred()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The lines of `text` that hold `what`.
std::vector<std::string> LinesWith(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    if (absl::StrContains(line, what)) out.push_back(line);
  }
  return out;
}

class LogCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis().Flush().ok()); }

  static RedisServer& redis() { return RedisServer::Shared(); }
  std::string Url() const { return absl::StrFormat("redis://127.0.0.1:%d", redis().port()); }

  std::vector<std::string> Argv(std::vector<std::string> args) const {
    std::vector<std::string> argv = {RESQUE_BINARY, "--redis", Url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  RunResult Resque(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    return ::resque::testing::Run(Argv(std::move(args)), env);
  }
  // Enqueues a job; returns its id.
  std::string Enqueue(const std::string& queue, const std::string& job_class) {
    RunResult r = Resque({"enqueue", queue, job_class, "[1]"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  }
};

// Before: at the default level a failing job showed only its command's raw stderr; no line
// named the job, and absl's "UNKNOWN:" stood in the error.
TEST_F(LogCliTest, AFailingJobIsOneWarningNamingClassIdQueueAndError) {
  const std::string id = Enqueue("mail", "Bad");
  RunResult work = Resque({"work", "-q", "mail", "--burst", "--exec", "Bad=echo boom >&2; exit 3"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  const std::vector<std::string> warnings = LinesWith(work.err, " WARNING ");
  ASSERT_EQ(warnings.size(), 1u) << work.err;
  EXPECT_THAT(warnings[0],
              ContainsRegex(absl::StrFormat(
                  "^\\[resque\\] [-0-9T:.]+Z WARNING failed Bad \\(%s\\) from mail in [0-9.]+ ms: "
                  "resque::JobError: command exited with 3: boom$",
                  id)));
  EXPECT_THAT(work.err, Not(HasSubstr("UNKNOWN")));
  EXPECT_THAT(work.err, Not(HasSubstr(" INFO ")));  // the default level is warning
}

// Before: a job of a class no --load or --exec names was failed without a line.
TEST_F(LogCliTest, AnUnknownJobClassIsAWarningWithClassAndQueue) {
  const std::string id = Enqueue("mail", "Nope");
  RunResult work = Resque({"work", "-q", "mail", "--burst", "--exec", "Good=true"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  const std::vector<std::string> warnings = LinesWith(work.err, " WARNING ");
  ASSERT_EQ(warnings.size(), 1u) << work.err;
  EXPECT_THAT(warnings[0], HasSubstr(absl::StrFormat("unknown job class Nope (%s) from mail", id)));
}

// Before: "complete" lines came only at -vv, with no duration, and lines had no level.
TEST_F(LogCliTest, InfoShowsEachJobsStartAndEndWithItsDuration) {
  for (const std::vector<std::string>& how :
       {std::vector<std::string>{"work", "--log-level", "info"}, {"-v", "work"}}) {
    const std::string id = Enqueue("mail", "Good");
    std::vector<std::string> args = how;
    for (const char* a : {"-q", "mail", "--burst", "--exec", "Good=true"}) args.push_back(a);
    RunResult work = Resque(args);
    ASSERT_EQ(work.exit_code, 0) << work.err;
    EXPECT_THAT(work.err,
                ContainsRegex(absl::StrFormat(" INFO start Good \\(%s\\) from mail\n", id)));
    EXPECT_THAT(work.err, ContainsRegex(absl::StrFormat(
                              " INFO done Good \\(%s\\) from mail in [0-9]+\\.[0-9] ms\n", id)));
    EXPECT_THAT(work.err, HasSubstr(" INFO worker "));
    EXPECT_THAT(work.err, Not(HasSubstr(" DEBUG ")));
  }
  // LOG_LEVEL=error hides even the failure's warning.
  Enqueue("mail", "Bad");
  RunResult quiet =
      Resque({"work", "-q", "mail", "--burst", "--exec", "Bad=exit 3"}, {"LOG_LEVEL=error"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  EXPECT_NE(Resque({"work", "-q", "mail", "--log-level", "loud"}).exit_code, 0);
}

// Before: no --log-format. Each line is one object with the fields; a job's own stderr (here
// with a quote, a tab and a byte that is not UTF-8) comes wrapped, so that the stream parses.
TEST_F(LogCliTest, JsonFormatWritesOneParsableObjectPerLine) {
  const std::string bad = Enqueue("mail", "Bad");
  const std::string good = Enqueue("mail", "Good");
  RunResult work =
      Resque({"work", "-q", "mail", "--burst", "--log-format", "json", "--log-level", "info",
              "--exec", "Bad=printf 'say \"hi\"\\t\\377\\n' >&2; exit 3", "--exec", "Good=true"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  simdjson::ondemand::parser parser;
  int failed = 0;
  int done = 0;
  int from_stderr = 0;
  for (const std::string& line : Lines(work.err)) {
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    ASSERT_EQ(parser.iterate(padded).get(doc), simdjson::SUCCESS) << line;
    std::string_view time, level, msg;
    ASSERT_EQ(doc["time"].get_string().get(time), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["level"].get_string().get(level), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["msg"].get_string().get(msg), simdjson::SUCCESS) << line;
    const std::string message(msg);
    const std::string lvl(level);
    std::string_view source;
    if (doc["source"].get_string().get(source) == simdjson::SUCCESS && source == "stderr") {
      ++from_stderr;
      EXPECT_THAT(message, HasSubstr("say \"hi\"\t"));
      continue;
    }
    if (!absl::StartsWith(message, "failed ") && !absl::StartsWith(message, "done ")) continue;
    std::string_view cls, id, queue, worker;
    double duration = -1;
    ASSERT_EQ(doc["worker"].get_string().get(worker), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["class"].get_string().get(cls), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["id"].get_string().get(id), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["queue"].get_string().get(queue), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["duration_ms"].get_double().get(duration), simdjson::SUCCESS) << line;
    EXPECT_EQ(queue, "mail");
    EXPECT_GE(duration, 0);
    EXPECT_THAT(std::string(worker), HasSubstr(":mail")) << line;
    if (absl::StartsWith(message, "failed ")) {
      ++failed;
      EXPECT_EQ(lvl, "warning");
      EXPECT_EQ(cls, "Bad");
      EXPECT_EQ(id, bad);
    } else {
      ++done;
      EXPECT_EQ(lvl, "info");
      EXPECT_EQ(cls, "Good");
      EXPECT_EQ(id, good);
    }
  }
  EXPECT_EQ(failed, 1) << work.err;
  EXPECT_EQ(done, 1) << work.err;
  EXPECT_EQ(from_stderr, 1) << work.err;
}

// Before: USR2 and CONT said nothing, and `resque workers` showed a paused worker as idle.
TEST_F(LogCliTest, PauseAndResumeAreLoggedAndShownByWorkers) {
  Subprocess worker(
      Argv({"work", "-q", "mail", "-b", "--log-level", "info", "--exec", "Good=true"}));
  ASSERT_TRUE(worker.status().ok());
  const auto state_is = [&](const std::string& state) {
    return [this, state] {
      const std::vector<std::string> lines = Lines(Resque({"workers"}).out);
      return lines.size() == 1 && absl::EndsWith(lines[0], "\t" + state);
    };
  };
  ASSERT_TRUE(Eventually(state_is("idle")));
  worker.Signal(SIGUSR2);
  ASSERT_TRUE(Eventually(state_is("paused")));
  EXPECT_THAT(Resque({"workers", "--json"}).out, HasSubstr("\"paused\":true"));
  worker.Signal(SIGCONT);
  ASSERT_TRUE(Eventually(state_is("idle")));
  // The fleet-wide flag pauses every worker: shown as paused too.
  ASSERT_EQ(Resque({"pause"}).exit_code, 0);
  EXPECT_TRUE(Eventually(state_is("paused")));
  ASSERT_EQ(Resque({"resume"}).exit_code, 0);
  worker.Signal(SIGQUIT);
  RunResult done = worker.Wait(absl::Seconds(15));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const std::string& err = done.err;
  const size_t usr2 = err.find(" INFO SIGUSR2: pausing\n");
  const size_t paused = err.find(": paused, taking no new jobs\n");
  const size_t cont = err.find(" INFO SIGCONT: resuming\n");
  const size_t resumed = err.find(": resumed, taking jobs again\n");
  const size_t quit = err.find(" INFO SIGQUIT: finishing the running jobs, then exiting\n");
  ASSERT_NE(usr2, std::string::npos) << err;
  ASSERT_NE(paused, std::string::npos) << err;
  ASSERT_NE(cont, std::string::npos) << err;
  ASSERT_NE(resumed, std::string::npos) << err;
  ASSERT_NE(quit, std::string::npos) << err;
  EXPECT_LT(usr2, paused);
  EXPECT_LT(paused, cont);
  EXPECT_LT(cont, resumed);
  EXPECT_LT(resumed, quit);
}

// Before: a drain logged only "started" and "stopped". Now a summary line comes while jobs run,
// and none for a period in which nothing ran.
TEST_F(LogCliTest, ABusyWorkerLogsPeriodicSummaries) {
  for (int i = 0; i < 20; ++i) Enqueue("mail", "Slow");
  RunResult work = Resque({"work", "-q", "mail", "--burst", "--log-level", "info",
                           "--summary-interval", "0.05", "--exec", "Slow=sleep 0.02"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  const std::vector<std::string> summaries = LinesWith(work.err, " INFO summary: ");
  ASSERT_FALSE(summaries.empty()) << work.err;
  for (const std::string& line : summaries) {
    EXPECT_THAT(line, ContainsRegex("summary: [0-9]+ jobs in [0-9.]+ s \\([0-9.]+/s\\), 0 failed, "
                                    "[01] of 1 slots busy$"));
    EXPECT_THAT(line, Not(HasSubstr("summary: 0 jobs in"))) << "a job was busy, or none ran";
  }
  // --summary-interval 0: none.
  Enqueue("mail", "Slow");
  RunResult none = Resque({"work", "-q", "mail", "--burst", "--log-level", "info",
                           "--summary-interval", "0", "--exec", "Slow=sleep 0.02"});
  EXPECT_THAT(none.err, Not(HasSubstr("summary:")));
}

// What a worker writes to stderr just before it is killed is passed on as a JSON line: the relay
// reading the pipe is a process of its own, still there when the worker is gone. (A thread of
// the worker, as before, died with it and the line was lost.)
TEST_F(LogCliTest, JsonFormatKeepsWhatAWorkerWroteJustBeforeItWasKilled) {
  Enqueue("mail", "LastWords");
  RunResult work = Resque(
      {"work", "-q", "mail", "--burst", "--log-format", "json", "--load", TEST_JOBS_LIBRARY});
  EXPECT_EQ(work.exit_code, -1) << work.err;  // killed
  simdjson::ondemand::parser parser;
  int last_words = 0;
  for (const std::string& line : Lines(work.err)) {
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    ASSERT_EQ(parser.iterate(padded).get(doc), simdjson::SUCCESS) << line;
    std::string_view msg;
    ASSERT_EQ(doc["msg"].get_string().get(msg), simdjson::SUCCESS) << line;
    if (msg == "last words before the kill") ++last_words;
  }
  EXPECT_EQ(last_words, 1) << work.err;
}

}  // namespace
}  // namespace resque::testing
