// Issue 13, items 5 to 8 and 10, end to end with the `resque` binary and a real redis-server:
// usage errors (one line of ours, exit 2), --version and help, global flags after the command,
// help that shows defaults, variables and ranges in words, status's exit codes, enqueue args
// from stdin and @FILE, and php-resque's VERBOSE, LOGGING and APP_INCLUDE.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class CliUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    char dir_template[] = "/tmp/resque-usage-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf ", dir_).c_str()); }

  static RedisServer& redis() { return RedisServer::Shared(); }
  static std::string Url() { return absl::StrFormat("redis://127.0.0.1:%d", redis().port()); }

  // `resque ARGS` as given: no --redis added.
  static RunResult Bare(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), RESQUE_BINARY);
    return ::resque::testing::Run(args, env);
  }
  // `resque --redis URL ARGS`.
  static RunResult Resque(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {"--redis", Url()});
    return Bare(std::move(args), env);
  }
  static std::string Redis(const std::vector<std::string>& command) {
    absl::StatusOr<std::string> reply = redis().Command(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or("");
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // The lines a burst worker of two jobs logs with `env`.
  static int WorkerLogLines(const std::vector<std::string>& env) {
    EXPECT_TRUE(redis().Flush().ok());
    for (int i = 0; i < 2; ++i) EXPECT_EQ(Resque({"enqueue", "q", "Ok", "[]"}).exit_code, 0);
    RunResult r = Resque({"work", "-q", "q", "--burst", "--exec", "Ok=true"}, env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return static_cast<int>(std::count(r.err.begin(), r.err.end(), '\n'));
  }

  std::string dir_;
};

// A usage error as every one must be: exit 2, one line of ours, none of CLI11's wording.
void ExpectUsageError(const RunResult& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << what << ": " << r.err;
  EXPECT_THAT(r.err, StartsWith("resque: ")) << what;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
  EXPECT_THAT(r.err, HasSubstr("(see resque ")) << what;
  for (const char* cli11 :
       {"A subcommand", "The following", "not expected", "INT", "FLOAT", " in [", "not in {",
        "Could not convert", "required TEXT", "excludes", "Should be"}) {
    EXPECT_THAT(r.err, Not(HasSubstr(cli11))) << what << ": " << r.err;
  }
}

// Item 5: "resque: A subcommand is required", rc 106, for all three.
TEST_F(CliUsageTest, VersionPrintsTheProjectVersionAndExitsZero) {
  for (const char* how : {"--version", "version"}) {
    RunResult r = Bare({how});
    EXPECT_EQ(r.exit_code, 0) << how << ": " << r.err;
    EXPECT_EQ(r.out, absl::StrCat("resque ", PROJECT_VERSION, "\n")) << how;
  }
}

TEST_F(CliUsageTest, HelpPrintsTheHelpOfResqueOrOfACommand) {
  RunResult all = Bare({"help"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr("Usage: resque [OPTIONS] SUBCOMMAND"));
  EXPECT_THAT(all.out, HasSubstr("  status "));
  EXPECT_EQ(all.out, Bare({"--help"}).out);
  RunResult status = Bare({"help", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("Usage: resque status [OPTIONS] id"));
  EXPECT_EQ(status.out, Bare({"status", "--help"}).out);
  RunResult unknown = Bare({"help", "bogus"});
  ExpectUsageError(unknown, "help bogus");
  EXPECT_EQ(unknown.err, "resque: unknown command 'bogus' (see resque --help)\n");
}

TEST_F(CliUsageTest, AnUnknownCommandIsAUsageError) {
  RunResult r = Bare({"bogus"});
  ExpectUsageError(r, "bogus");
  EXPECT_EQ(r.err, "resque: unknown command 'bogus' (see resque --help)\n");
  EXPECT_EQ(Resque({"bogus", "x"}).err, "resque: unknown command 'bogus' (see resque --help)\n");
  EXPECT_EQ(Bare({}).err, "resque: a command is required (see resque --help)\n");
}

TEST_F(CliUsageTest, EveryParseErrorExitsTwoWithOneLineOfOurs) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"--bogus"},
      {"--redis"},
      {"stats", "extra"},
      {"stats", "--redis"},
      {"work", "--bogus"},
      {"work", "stats"},
      {"work", "-q", "q", "--count", "0", "--exec", "A=true"},
      {"work", "-q", "q", "--interval", "nan", "--exec", "A=true"},
      {"status"},
      {"status", "a", "b"},
      {"enqueue", "q"},
      {"enqueue", "q", "C", "--track", "--ruby-form"},
      {"--failure-backend", "x", "stats"},
      {"--db", "x", "stats"},
      {"failed", "bogus"},
      {"failed", "list", "--start", "-1"},
      {"demo", "--bogus"},
      {"pause", "now"},
  };
  for (const std::vector<std::string>& args : bad) {
    ExpectUsageError(Resque(args), absl::StrJoin(args, " "));
  }
  EXPECT_EQ(Resque({"work", "--bogus"}).err,
            "resque: unknown flag --bogus for work (see resque work --help)\n");
  EXPECT_EQ(Resque({"stats", "extra"}).err,
            "resque: unexpected argument 'extra' for stats (see resque stats --help)\n");
  // A bad value from a variable is a usage error too.
  ExpectUsageError(Resque({"work", "-q", "q", "--exec", "A=true"}, {"BLOCKING=maybe"}),
                   "BLOCKING=maybe");
  ExpectUsageError(Resque({"work", "-q", "q", "--exec", "A=true"}, {"COUNT=1e400"}), "COUNT=1e400");
  // The password of a URL put where an argument was expected stays masked.
  RunResult masked = Bare({"stats", "redis://:pw-secret@127.0.0.1:1"});
  ExpectUsageError(masked, "a URL as an argument");
  EXPECT_THAT(masked.err, Not(HasSubstr("pw-secret")));
}

// Item 5: `resque demo --redis URL` (docs/cli.md's own line) was refused, and every global flag
// worked only before the command.
TEST_F(CliUsageTest, GlobalFlagsWorkBeforeAndAfterTheCommand) {
  for (bool after : {false, true}) {
    ASSERT_TRUE(redis().Flush().ok());
    const std::vector<std::string> global = {
        "--redis", Url(), "--namespace", "app", "--db", "0", "--failure-backend", "redis", "-v"};
    auto argv = [&](std::vector<std::string> command) {
      std::vector<std::string> args = after ? command : global;
      args.insert(args.end(), after ? global.begin() : command.begin(),
                  after ? global.end() : command.end());
      return args;
    };
    RunResult enqueued = Bare(argv({"enqueue", "q", "Job", "[1]", "--track"}));
    ASSERT_EQ(enqueued.exit_code, 0) << enqueued.err;
    const std::string id(absl::StripTrailingAsciiWhitespace(enqueued.out));
    EXPECT_EQ(Redis({"LLEN", "app:queue:q"}), "1") << after;
    RunResult status = Bare(argv({"status", id}));
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_EQ(status.out, absl::StrCat("Status of ", id, " is: 1 (waiting)\n"));
    RunResult demo = Bare(argv({"demo"}));
    EXPECT_EQ(demo.exit_code, 0) << demo.err;
    EXPECT_EQ(Redis({"GET", "app:stat:processed"}), "1") << after << ": the demo ran on Redis";
  }
  // demo's own --redis, after the command, without the other globals.
  ASSERT_TRUE(redis().Flush().ok());
  RunResult demo = Bare({"demo", "--redis", Url()});
  EXPECT_EQ(demo.exit_code, 0) << demo.err;
  EXPECT_EQ(Redis({"GET", "resque:stat:processed"}), "1");
}

// The numeric flags (INT, FLOAT) that `resque CMD --help` lists.
std::vector<std::string> NumericFlags(const std::string& help) {
  std::vector<std::string> flags;
  static const std::regex kLine(R"(^  (?:-\w,)?(--[\w-]+) (INT|FLOAT)\b)");
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(help, '\n'))) {
    std::smatch m;
    if (std::regex_search(line, m, kLine)) flags.push_back(m[1]);
  }
  return flags;
}

// The longest run of digits in `text`.
size_t LongestDigitRun(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = absl::ascii_isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

// Item 6: --redis showed no default, -v no variable, and ranges showed as "INT:INT in [1, 256]".
TEST_F(CliUsageTest, HelpShowsDefaultsVariablesAndRangesInWords) {
  const std::string help = Bare({"--help"}).out;
  EXPECT_THAT(help, HasSubstr("--redis TEXT (default redis://127.0.0.1:6379) (Env:REDIS_BACKEND)"));
  EXPECT_THAT(help, HasSubstr("-v,--verbose (Env:VERBOSE, LOGGING, VVERBOSE)"));
  EXPECT_THAT(Bare({"demo", "--help"}).out, HasSubstr("--redis TEXT (default memory://)"));
  const std::string work = Bare({"work", "--help"}).out;
  EXPECT_THAT(work, HasSubstr("--count INT (default 1) (Env:COUNT)"));
  EXPECT_THAT(work, HasSubstr("Worker processes (php-resque's COUNT) (1 to 256)"));
  for (const char* command : {"work", "status", "failed", "enqueue"}) {
    const std::string text = Bare({command, "--help"}).out;
    EXPECT_THAT(text, Not(HasSubstr(" in ["))) << command;
    EXPECT_THAT(text, Not(HasSubstr("INT:"))) << command;
  }
}

// Item 6: every numeric flag of every command, given a number past any type, says its range in
// words on one line, never a 309-digit limit.
TEST_F(CliUsageTest, EveryNumericFlagSaysItsRangeInWords) {
  int checked = 0;
  for (const char* command : {"", "work", "status", "failed"}) {
    std::vector<std::string> help_args = {"--help"};
    if (*command != '\0') help_args.insert(help_args.begin(), command);
    for (const std::string& flag : NumericFlags(Bare(help_args).out)) {
      for (const char* value : {"1e400", "99999999999999999999999", "-1e400"}) {
        std::vector<std::string> args;
        if (*command != '\0') args = {command};
        if (std::string(command) == "status") args.push_back("some-id");
        if (std::string(command) == "failed") args.push_back("list");
        if (std::string(command) == "work") args.insert(args.end(), {"-q", "q", "--exec", "A=1"});
        if (*command == '\0') args.push_back("stats");
        args.insert(args.end(), {flag + "=" + value});
        const std::string what = absl::StrCat(command, " ", flag, "=", value);
        RunResult r = Resque(args);
        ExpectUsageError(r, what);
        EXPECT_THAT(r.err, HasSubstr("resque: " + flag + ": ")) << what;
        EXPECT_LE(LongestDigitRun(r.err), 23u) << what << ": " << r.err;
        if (absl::StrContains(r.err, "out of range")) {
          EXPECT_TRUE(std::regex_search(r.err, std::regex("want [0-9.]+( or at least [0-9.]+)? to "
                                                          "[0-9.]+|want 0 \\(")))
              << what << ": " << r.err;
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 3 * 13);  // work's ten, status's one, failed's two, the global --db
}

// Item 7: `status ID` and `status ID --watch` exited 0 for a failed job, 1 for an unknown one,
// and 2 at --timeout (now every command's usage error).
TEST_F(CliUsageTest, StatusExitCodesTellHowTheJobStands) {
  auto enqueue = [](const char* job_class) {
    RunResult r = Resque({"enqueue", "q", job_class, "[]", "--track"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(absl::StripTrailingAsciiWhitespace(r.out));
  };
  const std::string ok = enqueue("Ok");
  const std::string bad = enqueue("Bad");
  EXPECT_EQ(Resque({"status", ok}).exit_code, 0) << "waiting";
  RunResult timed_out = Resque({"status", ok, "--watch", "--timeout", "0.3"});
  EXPECT_EQ(timed_out.exit_code, 5) << timed_out.err;
  EXPECT_EQ(timed_out.err, "resque: job still not finished\n");

  RunResult work =
      Resque({"work", "-q", "q", "--burst", "--exec", "Ok=true", "--exec", "Bad=exit 3"});
  ASSERT_EQ(work.exit_code, 0) << work.err;
  for (const std::vector<std::string>& watch : {std::vector<std::string>{}, {"--watch"}}) {
    std::vector<std::string> args = {"status", ok};
    args.insert(args.end(), watch.begin(), watch.end());
    RunResult complete = Resque(args);
    EXPECT_EQ(complete.exit_code, 0) << complete.err;
    EXPECT_THAT(complete.out, HasSubstr("4 (complete)"));
    args[1] = bad;
    RunResult failed = Resque(args);
    EXPECT_EQ(failed.exit_code, 3) << failed.err;
    EXPECT_THAT(failed.out, HasSubstr("3 (failed)"));
    args[1] = "0123456789abcdef0123456789abcdef";
    RunResult unknown = Resque(args);
    EXPECT_EQ(unknown.exit_code, 4) << unknown.err;
    EXPECT_THAT(unknown.err, HasSubstr("has no status"));
  }
  // An error that is not about the job is 1.
  EXPECT_EQ(Bare({"status", ok, "--redis", "redis://127.0.0.1:1"}).exit_code, 1);
  for (const char* command : {"queues", "workers", "stats", "pause", "resume"}) {
    EXPECT_EQ(Bare({command, "--redis", "redis://127.0.0.1:1"}).exit_code, 1) << command;
    EXPECT_EQ(Resque({command}).exit_code, 0) << command;
  }
}

// Item 8: args past the argv limit ("Argument list too long") could not be enqueued.
TEST_F(CliUsageTest, EnqueueTakesLargeArgsFromStdinAndFromAFile) {
  const std::string big(20 << 20, 'x');
  const std::string args = absl::StrCat("[\"", big, "\",{\"n\":1}]");
  const std::string file = Write("args.json", args);
  RunResult from_file = Resque({"enqueue", "q", "Big", "@" + file});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  RunResult from_stdin =
      ::resque::testing::Run({"/bin/sh", "-c",
                              absl::StrFormat("exec '%s' --redis '%s' enqueue q Big - < '%s'",
                                              RESQUE_BINARY, Url(), file)});
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(Redis({"LLEN", "resque:queue:q"}), "2");
  for (const char* index : {"0", "1"}) {
    const std::string payload = Redis({"LINDEX", "resque:queue:q", index});
    EXPECT_GT(payload.size(), big.size());
    EXPECT_THAT(payload, HasSubstr(absl::StrCat(big.substr(0, 100))));
    EXPECT_THAT(payload, HasSubstr(R"("n":1)"));
  }
  const std::string id(absl::StripTrailingAsciiWhitespace(from_file.out));
  EXPECT_THAT(Redis({"LINDEX", "resque:queue:q", "0"}), HasSubstr(id));
}

TEST_F(CliUsageTest, EnqueueArgsFromAFileAreCheckedAsArgsAre) {
  RunResult missing = Resque({"enqueue", "q", "C", "@" + dir_ + "/missing.json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, absl::StrCat("resque: args file ", dir_,
                                      "/missing.json: cannot open: No such file or directory\n"));
  RunResult not_json = Resque({"enqueue", "q", "C", "@" + Write("bad.json", "{not json")});
  EXPECT_EQ(not_json.exit_code, 1);
  EXPECT_THAT(not_json.err, HasSubstr("resque: args: not valid JSON"));
  for (const char* scalar : {"42", "\"text\"", "null"}) {
    RunResult r = Resque({"enqueue", "q", "C", "@" + Write("scalar.json", scalar)});
    EXPECT_EQ(r.exit_code, 1) << scalar;
    EXPECT_EQ(r.err, Resque({"enqueue", "q", "C", scalar}).err) << scalar;
  }
  RunResult object = Resque({"enqueue", "q", "C", "@" + Write("object.json", R"({"a":1})")});
  EXPECT_EQ(object.exit_code, 0) << object.err;
  RunResult empty_stdin = Resque({"enqueue", "q", "C", "-"});  // stdin is /dev/null
  EXPECT_EQ(empty_stdin.exit_code, 0) << empty_stdin.err;      // no args: [], as none given
  EXPECT_EQ(Redis({"LLEN", "resque:queue:q"}), "2");
}

// Item 10: VERBOSE=0 turned verbose on (php: off), LOGGING was ignored.
TEST_F(CliUsageTest, VerboseAndLoggingAreReadAsPhpResqueReadsThem) {
  const int quiet = WorkerLogLines({"VERBOSE=", "LOGGING=", "VVERBOSE="});
  EXPECT_EQ(WorkerLogLines({"VERBOSE=0"}), quiet);
  EXPECT_EQ(WorkerLogLines({"VERBOSE="}), quiet);
  EXPECT_EQ(WorkerLogLines({"LOGGING=0"}), quiet);
  const int verbose = WorkerLogLines({"VERBOSE=1"});
  EXPECT_GT(verbose, quiet);
  EXPECT_GT(WorkerLogLines({"LOGGING=1"}), quiet);
  EXPECT_GT(WorkerLogLines({"VVERBOSE=1"}), quiet);
}

// Item 10: APP_INCLUDE was ignored.
TEST_F(CliUsageTest, AppIncludeLoadsAJobLibraryAsLoadDoes) {
  const std::string out = dir_ + "/out.txt";
  ASSERT_EQ(Resque({"enqueue", "q", "Record", "[7]"}).exit_code, 0);
  RunResult r = Resque({"work", "-q", "q", "--burst"},
                       {std::string("APP_INCLUDE=") + TEST_JOBS_LIBRARY, "RESQUE_TEST_OUT=" + out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "[7]");
  RunResult missing = Resque({"work", "-q", "q", "--burst"}, {"APP_INCLUDE=" + dir_ + "/no.so"});
  ExpectUsageError(missing, "APP_INCLUDE of a missing file");
  EXPECT_THAT(missing.err, HasSubstr(dir_ + "/no.so"));
}

// Item 10: two --load libraries registering one class were accepted, the first silently won.
TEST_F(CliUsageTest, TwoLibrariesRegisteringOneClassAreRefusedNamingBoth) {
  RunResult r = Resque(
      {"work", "-q", "q", "--burst", "--load", TEST_JOBS_LIBRARY, "--load", CLASH_JOBS_LIBRARY});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrFormat("resque: job class \"Record\" is registered by both --load %s "
                                   "and --load %s: give each class one library\n",
                                   TEST_JOBS_LIBRARY, CLASH_JOBS_LIBRARY));
  EXPECT_EQ(Redis({"SCARD", "resque:workers"}), "0");
  // One library given twice is one library.
  RunResult twice = Resque(
      {"work", "-q", "q", "--burst", "--load", TEST_JOBS_LIBRARY, "--load", TEST_JOBS_LIBRARY});
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
}

}  // namespace
}  // namespace resque::testing
