// Issue 13, item 9, end to end with the `resque` binary and a real redis-server: queue, class and
// namespace names that not every worker can take are refused as usage errors (exit 2, one line),
// a worker's queue list reads as the peers read theirs, and names that peers wrote into Redis
// (which may hold anything) list one record per line in text output and stay JSON in --json.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int kUsageExit = 2;

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// The reply of a command run on the test's Redis, as RedisServer::Command renders it.
std::string Raw(const std::vector<std::string>& argv) {
  absl::StatusOr<std::string> reply = RedisServer::Shared().Command(argv);
  EXPECT_TRUE(reply.ok()) << reply.status();
  return reply.value_or("");
}

class NamesCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RedisServer::Shared().Flush().ok()); }

  static std::vector<std::string> Argv(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        RESQUE_BINARY, "--redis",
        absl::StrFormat("redis://127.0.0.1:%d", RedisServer::Shared().port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  static RunResult Resque(std::vector<std::string> args, std::vector<std::string> env = {}) {
    return ::resque::testing::Run(Argv(std::move(args)), env);
  }

  // A usage error: exit 2, nothing on stdout, exactly one line on stderr that starts `start`.
  static void ExpectRefused(const RunResult& r, const std::string& start) {
    EXPECT_EQ(r.exit_code, kUsageExit) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith(start));
    EXPECT_EQ(Lines(r.err), 1) << r.err;
  }
};

TEST_F(NamesCliTest, EnqueueRefusesQueueNamesAWorkerCannotTakeAndPushesNothing) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"a,b", "resque: queue name 'a,b' has a ',': workers split their queue lists at ','"},
      {"*", "resque: queue name '*' has a '*': Ruby resque's workers read it as a glob"},
      {"high*", "resque: queue name 'high*' has a '*'"},
      {"!low", "resque: queue name '!low' starts with '!'"},
      {"a b", "resque: queue name 'a b' has a space"},
      {"x\ny", "resque: queue name 'x\\ny' has a control character (\\n)"},
      {"x\ty", "resque: queue name 'x\\ty' has a control character (\\t)"},
      {"bad\xff", "resque: queue name 'bad\\xff' is not valid UTF-8"},
      {std::string(257, 'q'), "resque: queue name 'qqq"},
  };
  for (const auto& [queue, start] : refused) {
    SCOPED_TRACE(queue);
    ExpectRefused(Resque({"enqueue", queue, "Job", "[]"}), start);
  }
  ExpectRefused(Resque({"enqueue", "q", "A\nB"}),
                "resque: job class name 'A\\nB' has a control character (\\n)");
  ExpectRefused(Resque({"enqueue", "q", "A\xc3"}), "resque: job class name 'A\\xc3' is not valid");
  EXPECT_EQ(Raw({"SMEMBERS", "resque:queues"}), "");
  // Refused before Redis is reached: the same with no Redis at all.
  ExpectRefused(::resque::testing::Run(
                    {RESQUE_BINARY, "--redis", "redis://127.0.0.1:1", "enqueue", "a,b", "Job"}),
                "resque: queue name 'a,b'");

  // What every worker can take is pushed: a ':' in the queue, a space in the class.
  EXPECT_EQ(Resque({"enqueue", "jobs:2", "My Job"}).exit_code, 0);
  EXPECT_EQ(Raw({"LLEN", "resque:queue:jobs:2"}), "1");
}

TEST_F(NamesCliTest, AWorkersQueueListIsSplitAtCommasAndStrippedAsRubyResqueReadsIt) {
  ASSERT_EQ(Resque({"enqueue", "q1", "Job"}).exit_code, 0);
  ASSERT_EQ(Resque({"enqueue", "q2", "Job"}).exit_code, 0);
  RunResult work = Resque({"work", "--queue", " q1 , q2 ", "--burst", "--exec", "Job=true"});
  EXPECT_EQ(work.exit_code, 0) << work.err;
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "2");
  EXPECT_EQ(Raw({"LLEN", "resque:queue:q1"}), "0");
  EXPECT_EQ(Raw({"LLEN", "resque:queue:q2"}), "0");
  // The same list from QUEUE.
  ASSERT_EQ(Resque({"enqueue", "q2", "Job"}).exit_code, 0);
  EXPECT_EQ(Resque({"work", "--burst", "--exec", "Job=true"}, {"QUEUE=q1, q2"}).exit_code, 0);
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "3");
}

TEST_F(NamesCliTest, AWorkerRefusesAQueueListItCannotServeBeforeItRegisters) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"high*", "resque: queue list entry 'high*' is a pattern: resque work takes '*' alone"},
      {"a,!b", "resque: queue list entry '!b' is a pattern"},
      {"a,,b", "resque: queue list 'a,,b' has an empty name"},
      {"a,", "resque: queue list 'a,' has an empty name"},
      {"a b", "resque: queue name 'a b' has a space"},
      {"x\ny", "resque: queue name 'x\\ny' has a control character"},
  };
  for (const auto& [queues, start] : refused) {
    SCOPED_TRACE(queues);
    ExpectRefused(Resque({"work", "--queue", queues, "--burst", "--exec", "Job=true"}), start);
    ExpectRefused(Resque({"work", "--burst", "--exec", "Job=true"}, {"QUEUE=" + queues}), start);
  }
  EXPECT_EQ(Raw({"SMEMBERS", "resque:workers"}), "");
}

TEST_F(NamesCliTest, AnEmptyOrSpacedNamespaceIsRefusedAndAnEmptyPrefixIsTheDefault) {
  ExpectRefused(Resque({"--namespace", "", "queues"}), "resque: namespace is empty");
  ExpectRefused(Resque({"--namespace", ":", "enqueue", "q", "Job"}), "resque: namespace is empty");
  ExpectRefused(Resque({"--namespace", "my app", "stats"}),
                "resque: namespace 'my app' has a space");
  ExpectRefused(Resque({"queues"}, {"PREFIX=a\nb"}),
                "resque: namespace 'a\\nb' has a control character (\\n)");
  EXPECT_EQ(Raw({"DBSIZE"}), "0");

  // php-resque takes an empty PREFIX as none given: the default namespace.
  EXPECT_EQ(Resque({"enqueue", "q", "Job"}, {"PREFIX="}).exit_code, 0);
  EXPECT_EQ(Raw({"LLEN", "resque:queue:q"}), "1");
  EXPECT_EQ(Resque({"--namespace", "app:", "enqueue", "q", "Job"}).exit_code, 0);
  EXPECT_EQ(Raw({"LLEN", "app:queue:q"}), "1");
}

// Names a peer wrote, with anything in them: listed, never refused, one record per line.
TEST_F(NamesCliTest, QueuesAPeerWroteWithNewlinesListOneLineEach) {
  Raw({"SADD", "resque:queues", "x\ny", "tab\there", "back\\slash", "bad\xff"});
  Raw({"RPUSH", "resque:queue:x\ny", R"({"class":"Job","args":[]})"});
  RunResult queues = Resque({"queues"});
  EXPECT_EQ(queues.exit_code, 0) << queues.err;
  EXPECT_EQ(queues.out, "back\\\\slash\t0\nbad\\xff\t0\ntab\\there\t0\nx\\ny\t1\n");

  RunResult json = Resque({"queues", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(json::Validate(json.out).ok()) << json.out;
  EXPECT_THAT(json.out, HasSubstr(R"("x\ny":1)"));
  EXPECT_EQ(Lines(json.out), 1);
}

TEST_F(NamesCliTest, WorkersAPeerRegisteredWithNewlinesListOneLineEach) {
  const std::string id = "host:1:x\ny";
  Raw({"SADD", "resque:workers", id});
  Raw({"SET", "resque:worker:" + id + ":started", "2026-12-01\n10:00"});
  Raw({"SET", "resque:worker:" + id, "{\"queue\":\"x\\ny\",\n\"payload\":{\"class\":\"Job\"}}"});
  RunResult workers = Resque({"workers"});
  EXPECT_EQ(workers.exit_code, 0) << workers.err;
  EXPECT_EQ(workers.out,
            "host:1:x\\ny\tstarted 2026-12-01\\n10:00\tworking on "
            "{\"queue\":\"x\\ny\",\\n\"payload\":{\"class\":\"Job\"}}\n");
  // A record that is not JSON shows as a string in --json.
  Raw({"SET", "resque:worker:" + id, "not json"});
  RunResult json = Resque({"workers", "--json"});
  EXPECT_TRUE(json::Validate(json.out).ok()) << json.out;
  EXPECT_THAT(json.out, HasSubstr(R"("job":"not json")"));
}

TEST_F(NamesCliTest, FailedListShowsAPeersRecordWithNewlinesOnOneLine) {
  Raw({"RPUSH", "resque:failed",
       R"({"failed_at":"2026/11/24 10:00:00 UTC","payload":{"class":"A\tB","args":["C:\\dir"]},)"
       R"("exception":"Runtime\nError","error":"line one\nline two","queue":"x\ny"})"});
  RunResult list = Resque({"failed", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out,
            "0\t2026/11/24 10:00:00 UTC\tx\\ny\tRuntime\\nError: line one\\nline two\t"
            R"({"class":"A\tB","args":["C:\\dir"]})"
            "\n");
  // The filter takes the name as it is in Redis.
  EXPECT_EQ(Lines(Resque({"failed", "list", "--queue", "x\ny"}).out), 1);
  EXPECT_EQ(Resque({"failed", "list", "--class", "A\tB"}).out, list.out);

  RunResult retried = Resque({"failed", "retry", "0"});
  EXPECT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_EQ(retried.out, "retried\t0\tx\\ny\tA\\tB\n");
}

TEST_F(NamesCliTest, FailedQueuesOfAPeerListOneLineEachAndAnEmptyFilterIsRefused) {
  Raw({"SADD", "resque:failed_queues", "x\ny_failed"});
  Raw({"RPUSH", "resque:x\ny_failed",
       R"({"failed_at":"2026/11/24 10:00:00 UTC","payload":{"class":"Job","args":[]},)"
       R"("exception":"E","error":"e","queue":"x\ny"})"});
  RunResult queues = Resque({"--failure-backend", "redis_multi_queue", "failed", "queues"});
  EXPECT_EQ(queues.exit_code, 0) << queues.err;
  EXPECT_EQ(queues.out, "x\\ny\t1\n");

  // `--queue "$Q"` with Q unset would have cleared every list.
  ExpectRefused(
      Resque({"--failure-backend", "redis_multi_queue", "failed", "clear", "--queue", ""}),
      "resque: --queue is empty: give a name, or leave --queue out for every record");
  ExpectRefused(Resque({"failed", "list", "--class", ""}), "resque: --class is empty");
  EXPECT_EQ(Raw({"LLEN", "resque:x\ny_failed"}), "1");
}

}  // namespace
}  // namespace resque::testing
