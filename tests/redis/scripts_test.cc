// The Lua scripts as the build embedded them, and the KEYS/ARGV each typed call builds. What the
// scripts do against Redis is tested through the backend (tests/redis_backend_test.cc and the
// conformance suite); this file pins the layout they are called with.
#include "backends/redis/scripts.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque::redis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string_view Source(lua::Script script) { return lua::kSources[static_cast<size_t>(script)]; }

TEST(RedisScriptsTest, EmbeddedScriptsLeaveTheirHeaderCommentOut) {
  for (std::string_view source : lua::kSources) {
    EXPECT_THAT(std::string(source), Not(StartsWith("--")));
    EXPECT_THAT(std::string(source), Not(HasSubstr("KEYS:")));
  }
}

TEST(RedisScriptsTest, TheCheckHelperIsPrependedToTheScriptsThatUseIt) {
  const std::string prelude = "local function check(key, want)\n";
  EXPECT_THAT(std::string(Source(lua::Script::kReserve)), Not(HasSubstr("check(")));
  for (lua::Script script :
       {lua::Script::kRecover, lua::Script::kReserveMany, lua::Script::kFinishMany,
        lua::Script::kUnreserve, lua::Script::kEditFailure}) {
    EXPECT_THAT(std::string(Source(script)), StartsWith(prelude));
  }
}

TEST(RedisScriptsTest, ThePoolLoadsEveryScriptInEnumOrder) {
  const std::vector<std::string> sources = ScriptSources();
  ASSERT_EQ(sources.size(), lua::kScriptCount);
  EXPECT_EQ(sources[static_cast<size_t>(lua::Script::kFinishMany)],
            Source(lua::Script::kFinishMany));
  EXPECT_EQ(lua::kNames[static_cast<size_t>(lua::Script::kReserveMany)], "reserve_many.lua");
}

TEST(RedisScriptsTest, TheFinishScriptReadsGroupsAsWideAsTheCppBuildsThem) {
  const std::string source(Source(lua::Script::kFinishMany));
  EXPECT_THAT(source, HasSubstr(absl::StrFormat("local n = #ARGV / %d\n", kFinishArgsPerJob)));
  // Every offset into a group ("j * <width>") uses the same width.
  const std::string offset = absl::StrFormat("j * %d", kFinishArgsPerJob);
  int offsets = 0;
  for (size_t at = source.find("j * "); at != std::string::npos; at = source.find("j * ", at + 1)) {
    EXPECT_EQ(source.compare(at, offset.size(), offset), 0) << source.substr(at, 10);
    ++offsets;
  }
  EXPECT_EQ(offsets, 3);
}

TEST(RedisScriptsTest, EvalshaAndEvalCarryTheKeyCountKeysAndArgs) {
  ScriptCall call = ReserveCall({"resque:queue:high", "resque:queue:mail"});
  EXPECT_EQ(call.name(), "reserve.lua");
  EXPECT_THAT(call.Evalsha("abc"),
              ElementsAre("EVALSHA", "abc", "2", "resque:queue:high", "resque:queue:mail"));
  const Command& eval = call.Eval();
  ASSERT_EQ(eval.size(), 5u);
  EXPECT_EQ(eval[0], "EVAL");
  EXPECT_EQ(eval[1], Source(lua::Script::kReserve));
  EXPECT_THAT(call.args(), ElementsAre());
}

TEST(RedisScriptsTest, RecoverCallNamesTheWorkersKeysInScriptOrder) {
  const Keys keys("ns");
  const std::string wid = "h:1:q:0";
  ScriptCall call =
      RecoverCall(keys, {.worker_id = wid, .if_heartbeat = "beat"}, WorkerStatNames(wid));
  EXPECT_THAT(
      call.keys(),
      ElementsAre("ns:workers", "ns:worker:h:1:q:0", "ns:worker:h:1:q:0:started",
                  "ns:stat:processed:h:1:q:0", "ns:stat:failed:h:1:q:0", "ns:workers:heartbeat",
                  "ns:inflight:h:1:q:0", "ns:queues", "ns:workers:liveness", "ns:workers:inflight",
                  "ns:failed", "ns:stat:failed", "ns:failed_queues", "ns:recoveries"));
  EXPECT_THAT(call.args(), ElementsAre(wid, "ns:inflight:h:1:q:0:queue:", "ns:queue:", "1", "beat",
                                       "0", "", "", "", "", "86400000", "1000", "", "", "", "", "0",
                                       "", "86400000", "10000", "", "ns:job:"));
  ScriptCall dirty = RecoverCall(keys,
                                 {.worker_id = "w",
                                  .if_orphaned = true,
                                  .dirty_exit = DirtyExit{.working_json = "{working}",
                                                          .failure_json = "{failure}",
                                                          .job_id = "j1",
                                                          .status_json = "{status}",
                                                          .payload_json = "{payload}",
                                                          .poison_failure_json = "{poison}"},
                                  .max_recoveries = 3,
                                  .waiting_status_json = "{waiting}"},
                                 WorkerStatNames("w"));
  EXPECT_THAT(dirty.args(), ElementsAre("w", "ns:inflight:w:queue:", "ns:queue:", "0", "", "1",
                                        "{working}", "{failure}", "ns:job:j1:status", "{status}",
                                        "86400000", "1000", "ns:failed", "", "", "{payload}", "3",
                                        "{poison}", "86400000", "10000", "{waiting}", "ns:job:"));
}

TEST(RedisScriptsTest, ReserveManyCallEndsTheKeysWithTheInFlightSet) {
  const Keys keys("resque");
  ScriptCall call = ReserveManyCall(keys, {"high", "mail"}, "w", 10);
  EXPECT_THAT(call.keys(),
              ElementsAre("resque:queue:high", "resque:queue:mail", "resque:inflight:w"));
  EXPECT_THAT(call.args(), ElementsAre("resque:inflight:w:queue:", "10", "high", "mail"));
}

TEST(RedisScriptsTest, FinishArgsPutsEachWordAtItsPosition) {
  const Keys keys("resque");
  const JobFinish failed = {.worker_id = "w",
                            .job_id = "id1",
                            .status_json = "{s}",
                            .status_ttl = absl::Seconds(2),
                            .failed = true,
                            .failure_json = "{f}",
                            .in_flight = ReservedJob{"mail", "{p}"}};
  EXPECT_THAT(FinishArgs(keys, failed, FailureLayout::kOneList),
              ElementsAre("resque:job:id1:status", "{s}", "2000", "resque:inflight:w:queue:mail",
                          "{p}", "1", "{f}", "resque:failed", "", "", "", "", ""));
  // A retry instead of a record: the delayed item's list, its set of seconds, the second, it.
  JobFinish retried = failed;
  retried.retry = JobFinish::Retry{.at = 1700, .item = "{i}"};
  EXPECT_THAT(
      FinishArgs(keys, retried, FailureLayout::kOneList),
      ElementsAre("resque:job:id1:status", "{s}", "2000", "resque:inflight:w:queue:mail", "{p}",
                  "1", "", "", "", "resque:delayed:1700", "resque:timestamps:{i}", "1700", "{i}"));
  JobFinish by_queue = failed;
  by_queue.failure_queue = "mail";
  EXPECT_THAT(FinishArgs(keys, by_queue, FailureLayout::kPerQueue),
              ElementsAre("resque:job:id1:status", "{s}", "2000", "resque:inflight:w:queue:mail",
                          "{p}", "1", "{f}", "resque:mail_failed", "mail_failed", "", "", "", ""));
  const JobFinish plain = {.worker_id = "w",
                           .status_json = "{s}",
                           .status_ttl = absl::InfiniteDuration(),
                           .failure_json = "{ignored}"};
  EXPECT_THAT(FinishArgs(keys, plain, FailureLayout::kPerQueue),
              ElementsAre("", "{s}", "", "", "", "0", "", "", "", "", "", "", ""));
}

TEST(RedisScriptsTest, FinishManyCallGivesEveryJobOneGroup) {
  const Keys keys("resque");
  const std::vector<JobFinish> jobs = {{.worker_id = "w", .job_id = "a"},
                                       {.worker_id = "w", .job_id = "b", .failed = true}};
  ScriptCall call = FinishManyCall(
      keys, {.worker_id = "w", .jobs = jobs, .failures = 1, .stats = WorkerStatNames("w")},
      FailureLayout::kOneList);
  EXPECT_THAT(call.keys(),
              ElementsAre("resque:worker:w", "resque:stat:processed", "resque:stat:processed:w",
                          "resque:stat:failed", "resque:stat:failed:w", "resque:failed_queues",
                          "resque:delayed_queue_schedule"));
  ASSERT_EQ(call.args().size(), 2 * kFinishArgsPerJob);
  EXPECT_EQ(call.args()[kFinishStatusKey], "resque:job:a:status");
  EXPECT_EQ(call.args()[kFinishArgsPerJob + kFinishStatusKey], "resque:job:b:status");
  EXPECT_EQ(call.args()[kFinishArgsPerJob + kFinishFailed], "1");
}

TEST(RedisScriptsTest, UnreserveCallGivesEveryJobATriple) {
  const Keys keys("resque");
  const std::vector<UnreserveJob> jobs = {{{"mail", "{a}"}, "id1"}, {{"high", "{b}"}, ""}};
  ScriptCall call = UnreserveCall(keys, {.owner = "w", .jobs = jobs, .status_json = "{queued}"});
  EXPECT_THAT(call.keys(), ElementsAre("resque:queues"));
  EXPECT_THAT(call.args(), ElementsAre("resque:inflight:w:queue:", "resque:queue:", "{queued}",
                                       "mail", "{a}", "resque:job:id1:status", "high", "{b}", ""));
  const std::vector<UnreserveJob> untracked = {{{"mail", "{a}"}, ""}};
  EXPECT_THAT(
      UnreserveCall(keys, {.owner = "w", .jobs = untracked, .status_json = "{q}"}).args()[5], "");
}

}  // namespace
}  // namespace resque::redis
