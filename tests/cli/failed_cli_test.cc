// `resque failed` end to end against a real redis-server, with failure lists as an operator finds
// them: records that do not decode among good ones, jobs retried before, per-queue lists, keys
// of the wrong type. Counts of queued jobs before and after each command, and its exit code.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// What `failed` exits with when it did what it could but stepped over records (docs/cli.md).
constexpr int kSkippedExit = 3;  // 2 is every command's usage error

// A failure record as Ruby resque and we write it, of a `job_class` job from `queue`.
std::string Record(const std::string& queue, const std::string& job_class, int n) {
  return absl::StrFormat(
      R"({"failed_at":"2026/11/24 10:00:00 UTC","payload":{"class":"%s","args":[%d]},)"
      R"("exception":"RuntimeError","error":"boom %d","backtrace":[],"worker":"w1:1:%s",)"
      R"("queue":"%s"})",
      job_class, n, n, queue, queue);
}

class FailedCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis().Flush().ok()); }

  static RedisServer& redis() { return RedisServer::Shared(); }

  static std::string Raw(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> r = redis().Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }
  static int Len(const std::string& key) { return std::stoi(Raw({"LLEN", key})); }

  // Appends `records` to the failure list `key` ("resque:failed" or "resque:<q>_failed").
  static void Fill(const std::string& key, const std::vector<std::string>& records) {
    std::vector<std::string> argv = {"RPUSH", key};
    argv.insert(argv.end(), records.begin(), records.end());
    Raw(argv);
  }

  RunResult Resque(std::vector<std::string> args, bool multi = false) {
    std::vector<std::string> argv = {RESQUE_BINARY, "--redis",
                                     absl::StrFormat("redis://127.0.0.1:%d", redis().port())};
    if (multi) argv.insert(argv.end(), {"--failure-backend", "redis_multi_queue"});
    argv.insert(argv.end(), args.begin(), args.end());
    return ::resque::testing::Run(argv);
  }
};

// Records that do not decode, between good ones, each of a different kind of damage.
std::vector<std::string> DamagedList() {
  return {Record("mail", "A", 0),
          "not json",                                   // 1: not JSON: does not decode
          R"({"queue":"mail","error":"no payload"})",   // 2: decodes, no payload to retry
          R"({"payload":"a string","queue":"mail"})",   // 3: payload not an object
          R"({"payload":{"args":[]},"queue":"mail"})",  // 4: payload without a class
          "[1,2]",                                      // 5: JSON, not an object
          Record("mail", "B", 6)};
}

TEST_F(FailedCliTest, ListShowsEveryRecordThatDecodesAndNamesTheOthers) {
  Fill("resque:failed", DamagedList());
  RunResult list = Resque({"failed", "list"});
  EXPECT_EQ(list.exit_code, kSkippedExit) << list.err;
  EXPECT_THAT(list.out, AllOf(HasSubstr("0\t2026/11/24"), HasSubstr("boom 0"), HasSubstr("boom 6"),
                              HasSubstr("\n2\t"), HasSubstr("\n6\t")));
  EXPECT_THAT(list.err,
              AllOf(HasSubstr("failure 1 does not decode"), HasSubstr("failure 5 does not decode"),
                    HasSubstr("resque failed remove 1")));
  RunResult json = Resque({"failed", "list", "--json"});
  EXPECT_EQ(json.exit_code, kSkippedExit);
  EXPECT_THAT(json.out,
              AllOf(HasSubstr("boom 0"), HasSubstr("boom 6"), Not(HasSubstr("not json"))));
  EXPECT_EQ(Len("resque:failed"), 7);  // reading changes nothing
}

TEST_F(FailedCliTest, RetryAllRetriesEveryGoodRecordAndSaysWhichItSkipped) {
  Fill("resque:failed", DamagedList());
  RunResult retry = Resque({"failed", "retry-all"});
  EXPECT_EQ(retry.exit_code, kSkippedExit) << retry.err;
  EXPECT_EQ(Len("resque:queue:mail"), 2);
  EXPECT_THAT(retry.out,
              AllOf(HasSubstr("retried\t0\tmail\tA\n"), HasSubstr("retried\t6\tmail\tB\n"),
                    HasSubstr("retried 2, skipped 5\n")));
  for (int i = 1; i <= 5; ++i) {
    EXPECT_THAT(retry.err, HasSubstr(absl::StrFormat("failure %d ", i)));
  }
  EXPECT_THAT(retry.err, HasSubstr("it has no payload"));
  EXPECT_EQ(Len("resque:failed"), 7);

  // Stamped as retried: a second retry-all leaves them, unless told --again.
  RunResult again = Resque({"failed", "retry-all"});
  EXPECT_EQ(again.exit_code, kSkippedExit);
  EXPECT_THAT(again.out, HasSubstr("retried 0, skipped 5, 2 retried before"));
  EXPECT_EQ(Len("resque:queue:mail"), 2);
  EXPECT_EQ(Resque({"failed", "retry-all", "--again"}).exit_code, kSkippedExit);
  EXPECT_EQ(Len("resque:queue:mail"), 4);
}

TEST_F(FailedCliTest, RetryAllWithRemoveTwiceQueuesEachJobOnce) {
  // More than a page of records (500), a damaged one in the middle of the second page.
  constexpr int kRecords = 1200;
  std::vector<std::string> records;
  for (int i = 0; i < kRecords; ++i) {
    records.push_back(i == 700 ? std::string("{\"truncated\":") : Record("mail", "A", i));
  }
  Fill("resque:failed", records);
  RunResult first = Resque({"failed", "retry-all", "--remove"});
  EXPECT_EQ(first.exit_code, kSkippedExit) << first.err;
  EXPECT_THAT(first.out,
              HasSubstr(absl::StrFormat("retried %d (removed from the failed list), skipped 1",
                                        kRecords - 1)));
  EXPECT_THAT(first.err, HasSubstr("failure 700 does not decode"));
  EXPECT_EQ(Len("resque:queue:mail"), kRecords - 1);
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), "{\"truncated\":");

  RunResult second = Resque({"failed", "retry-all", "--remove"});
  EXPECT_EQ(second.exit_code, kSkippedExit);
  EXPECT_EQ(Len("resque:queue:mail"), kRecords - 1);
  // Every job once: the payloads are all different.
  EXPECT_EQ(Raw({"LINDEX", "resque:queue:mail", "0"}), R"({"class":"A","args":[0]})");
  EXPECT_EQ(Raw({"LINDEX", "resque:queue:mail", "-1"}),
            absl::StrFormat(R"({"class":"A","args":[%d]})", kRecords - 1));

  // The damaged record goes by its index; then retry-all has nothing to say.
  ASSERT_EQ(Resque({"failed", "remove", "0"}).exit_code, 0);
  RunResult empty = Resque({"failed", "retry-all", "--remove"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "retried 0 (removed from the failed list)\n");
  EXPECT_EQ(empty.err, "");
}

TEST_F(FailedCliTest, QueueAndClassFiltersPickTheRecordsOfOneList) {
  Fill("resque:failed",
       {Record("mail", "A", 0), Record("mail", "B", 1), Record("high", "A", 2), "junk"});
  RunResult count = Resque({"failed", "count", "--class", "A"});
  EXPECT_EQ(count.out, "2\n");
  EXPECT_EQ(count.exit_code, kSkippedExit);  // "junk" may be anything
  RunResult list = Resque({"failed", "list", "--queue", "high"});
  EXPECT_THAT(list.out, AllOf(HasSubstr("2\t"), HasSubstr("boom 2"), Not(HasSubstr("boom 0"))));

  RunResult retry = Resque({"failed", "retry-all", "--queue", "mail", "--class", "A", "--remove"});
  EXPECT_EQ(retry.exit_code, kSkippedExit) << retry.err;
  EXPECT_EQ(Len("resque:queue:mail"), 1);
  EXPECT_EQ(Raw({"EXISTS", "resque:queue:high"}), "0");
  EXPECT_EQ(Len("resque:failed"), 3);
  EXPECT_THAT(Resque({"failed", "list"}).out,
              AllOf(HasSubstr("boom 1"), HasSubstr("boom 2"), Not(HasSubstr("boom 0"))));
}

TEST_F(FailedCliTest, FiltersAndRemoveWorkOnPerQueueLists) {
  Fill("resque:mail_failed", {Record("mail", "A", 0), "junk", Record("mail", "B", 1)});
  Fill("resque:high_failed", {Record("high", "A", 2)});
  Raw({"SADD", "resque:failed_queues", "mail_failed", "high_failed"});
  RunResult retry = Resque({"failed", "retry-all", "--class", "A", "--remove"}, true);
  EXPECT_EQ(retry.exit_code, kSkippedExit) << retry.err;
  EXPECT_THAT(retry.err, HasSubstr("failure 1 of queue mail does not decode"));
  EXPECT_THAT(retry.err, HasSubstr("resque failed remove 1 --queue mail"));
  EXPECT_EQ(Len("resque:queue:mail"), 1);
  EXPECT_EQ(Len("resque:queue:high"), 1);
  EXPECT_EQ(Resque({"failed", "queues"}, true).out, "high\t0\nmail\t2\n");

  RunResult one = Resque({"failed", "retry", "1", "--queue", "mail", "--remove"}, true);
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(Len("resque:queue:mail"), 2);
  EXPECT_EQ(Resque({"failed", "retry-all", "--remove"}, true).out,
            "retried 0 (removed from the failed list), skipped 1\n");
  EXPECT_EQ(Len("resque:queue:mail"), 2);
  EXPECT_EQ(Resque({"failed", "remove", "0", "--queue", "mail"}, true).exit_code, 0);
  EXPECT_EQ(Resque({"failed", "count"}, true).out, "0\n");
}

TEST_F(FailedCliTest, ListTakesAWindowByIndex) {
  std::vector<std::string> records;
  for (int i = 0; i < 5; ++i) records.push_back(Record("mail", "A", i));
  Fill("resque:failed", records);
  RunResult list = Resque({"failed", "list", "--start", "1", "--count", "2"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, AllOf(HasSubstr("1\t"), HasSubstr("boom 1"), HasSubstr("boom 2"),
                              Not(HasSubstr("boom 0")), Not(HasSubstr("boom 3"))));
  EXPECT_EQ(Resque({"failed", "list", "--start", "9"}).out, "");
  RunResult misplaced = Resque({"failed", "retry-all", "--count", "2"});
  EXPECT_EQ(misplaced.exit_code, 1);
  EXPECT_THAT(misplaced.err, HasSubstr("takes no --start or --count"));
}

TEST_F(FailedCliTest, RetryAndRemoveOfOneRecordCheckWhatTheyRead) {
  Fill("resque:failed", {Record("mail", "A", 0), "junk", Record("mail", "B", 2)});
  RunResult junk = Resque({"failed", "retry", "1"});
  EXPECT_EQ(junk.exit_code, 1);
  EXPECT_THAT(junk.err, AllOf(HasSubstr("does not decode"), HasSubstr("resque failed remove 1")));
  EXPECT_EQ(Raw({"EXISTS", "resque:queue:mail"}), "0");

  RunResult other = Resque({"failed", "retry", "2", "--class", "A"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr(R"(of class "B", not "A")"));
  RunResult wrong = Resque({"failed", "remove", "0", "--queue", "high"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr(R"(of queue "mail", not "high")"));
  EXPECT_EQ(Len("resque:failed"), 3);

  RunResult retry = Resque({"failed", "retry", "2", "--remove"});
  EXPECT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_EQ(retry.out, "retried\t2\tmail\tB\t(removed from the failed list)\n");
  EXPECT_EQ(Len("resque:queue:mail"), 1);
  ASSERT_EQ(Resque({"failed", "remove", "1"}).exit_code, 0);
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), Record("mail", "A", 0));
  EXPECT_EQ(Resque({"failed", "remove", "1"}).exit_code, 1);  // none there now
}

TEST_F(FailedCliTest, RetryAllSkipsARecordWhoseQueueKeyIsOfTheWrongType) {
  Fill("resque:failed", {Record("mail", "A", 0), Record("high", "A", 1)});
  Raw({"SET", "resque:queue:mail", "a string"});
  RunResult retry = Resque({"failed", "retry-all", "--remove"});
  EXPECT_EQ(retry.exit_code, kSkippedExit) << retry.err;
  EXPECT_THAT(retry.err,
              AllOf(HasSubstr("failure 0 cannot be retried"), HasSubstr("resque:queue:mail")));
  EXPECT_EQ(Len("resque:queue:high"), 1);
  // Nothing written for the skipped one: its record stays, whole.
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), Record("mail", "A", 0));
  EXPECT_EQ(Raw({"GET", "resque:queue:mail"}), "a string");
}

}  // namespace
}  // namespace resque::testing
