// The reply decoders of the Redis backend, on replies parsed by hiredis's own reader from RESP
// bytes, so that every reply type (and every malformed one) can be made without a server.
#include "backends/redis/reply.h"

#include <hiredis/hiredis.h>

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"

namespace resque::redis {
namespace {

using ::resque::testing::StatusOf;
using ::resque::testing::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The reply that `resp` (one whole RESP reply) is, as hiredis parses it off a connection.
Reply Parse(std::string_view resp) {
  redisReader* reader = redisReaderCreate();
  EXPECT_EQ(redisReaderFeed(reader, resp.data(), resp.size()), REDIS_OK);
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK) << reader->errstr;
  redisReaderFree(reader);
  EXPECT_NE(reply, nullptr) << "incomplete reply: " << resp;
  return Reply(static_cast<redisReply*>(reply));
}

const std::vector<std::string> kQueues = {"high", "mail"};

TEST(RedisReplyTest, ReplyTextIsTheBytesOfAStringStatusOrError) {
  EXPECT_EQ(ReplyText(*Parse(std::string("$3\r\na\0b\r\n", 9))), std::string("a\0b", 3));
  EXPECT_EQ(ReplyText(*Parse("+OK\r\n")), "OK");
  EXPECT_EQ(ReplyText(*Parse("-ERR no\r\n")), "ERR no");
  EXPECT_EQ(ReplyText(*Parse(":7\r\n")), "");
  EXPECT_EQ(ReplyText(*Parse("$-1\r\n")), "");
}

TEST(RedisReplyTest, ReplyStatusGivesEachServerErrorItsCanonicalCode) {
  EXPECT_TRUE(ReplyStatus(*Parse("+OK\r\n"), "k").ok());
  EXPECT_TRUE(ReplyStatus(*Parse("$-1\r\n"), "k").ok());

  const absl::Status wrong = ReplyStatus(
      *Parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"), "q:mail");
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message(), HasSubstr("redis key \"q:mail\": holds the wrong kind of value"));

  const absl::Status not_int =
      ReplyStatus(*Parse("-ERR value is not an integer or out of range\r\n"), "stat:processed");
  EXPECT_EQ(not_int.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(not_int.message(), HasSubstr("\"stat:processed\": does not hold an integer"));

  EXPECT_EQ(ReplyStatus(*Parse("-NOSCRIPT No matching script\r\n"), "").code(),
            absl::StatusCode::kNotFound);

  const absl::Status other = ReplyStatus(*Parse("-ERR something else\r\n"), "");
  EXPECT_EQ(other.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(other.message(), "redis error: ERR something else");
}

TEST(RedisReplyTest, ScriptStatusNamesTheKeyAScriptReported) {
  EXPECT_TRUE(ScriptStatus(*Parse(":1\r\n")).ok());
  const absl::Status wrong = ScriptStatus(*Parse("-WRONGTYPE resque:failed\r\n"));
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.message(), "redis key \"resque:failed\" holds the wrong kind of value");
  const absl::Status not_int = ScriptStatus(*Parse("-NOTINT resque:stat:failed\r\n"));
  EXPECT_EQ(not_int.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(not_int.message(), "redis key \"resque:stat:failed\" does not hold an integer");
  EXPECT_EQ(ScriptStatus(*Parse("-NOSCRIPT No matching script\r\n")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ScriptStatus(*Parse("-ERR Error running script\r\n")).code(),
            absl::StatusCode::kInternal);
}

TEST(RedisReplyTest, IntegerOfTakesOnlyAnInteger) {
  EXPECT_EQ(Value(IntegerOf(*Parse(":-42\r\n"), "LLEN")), -42);
  const absl::Status s = StatusOf(IntegerOf(*Parse("$1\r\n1\r\n"), "LLEN"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("unexpected reply type 1 to LLEN"));
}

TEST(RedisReplyTest, OptionalStringOfIsNulloptForNil) {
  EXPECT_EQ(Value(OptionalStringOf(*Parse("$-1\r\n"), "GET")), std::nullopt);
  EXPECT_EQ(Value(OptionalStringOf(*Parse("$0\r\n\r\n"), "GET")), std::optional<std::string>(""));
  EXPECT_EQ(Value(OptionalStringOf(*Parse("$4\r\n\xc3\xa9\r\n\r\n"), "GET")),
            std::optional<std::string>("\xc3\xa9\r\n"));
  EXPECT_EQ(StatusOf(OptionalStringOf(*Parse(":1\r\n"), "GET")).code(),
            absl::StatusCode::kInternal);
}

TEST(RedisReplyTest, StringsOfWantsAnArrayOfStringsOnly) {
  EXPECT_THAT(Value(StringsOf(*Parse("*2\r\n$1\r\na\r\n$0\r\n\r\n"), "LRANGE")),
              ElementsAre("a", ""));
  EXPECT_THAT(Value(StringsOf(*Parse("*0\r\n"), "LRANGE")), ElementsAre());
  EXPECT_EQ(StatusOf(StringsOf(*Parse("*2\r\n$1\r\na\r\n:1\r\n"), "LRANGE")).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(StatusOf(StringsOf(*Parse("*-1\r\n"), "LRANGE")).code(), absl::StatusCode::kInternal);
}

TEST(RedisReplyTest, ReservationOfMapsTheIndexToItsQueue) {
  EXPECT_EQ(Value(ReservationOf(*Parse("$-1\r\n"), kQueues)), std::nullopt);
  const std::optional<ReservedJob> job =
      Value(ReservationOf(*Parse("*2\r\n:2\r\n$3\r\n{a}\r\n"), kQueues));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->queue, "mail");
  EXPECT_EQ(job->payload, "{a}");
  for (const char* bad :
       {"*2\r\n:0\r\n$1\r\nx\r\n", "*2\r\n:3\r\n$1\r\nx\r\n", "*2\r\n$1\r\n1\r\n$1\r\nx\r\n",
        "*2\r\n:1\r\n*0\r\n", "*1\r\n:1\r\n", ":1\r\n"}) {
    const absl::Status s = StatusOf(ReservationOf(*Parse(bad), kQueues));
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << bad;
    EXPECT_THAT(s.message(), HasSubstr("the reserve script")) << bad;
  }
}

TEST(RedisReplyTest, ReservationsOfGivesEveryPayloadItsQueue) {
  EXPECT_THAT(Value(ReservationsOf(*Parse("$-1\r\n"), kQueues)), ElementsAre());
  const std::vector<ReservedJob> jobs =
      Value(ReservationsOf(*Parse("*2\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"), kQueues));
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].queue, "high");
  EXPECT_EQ(jobs[0].payload, "a");
  EXPECT_EQ(jobs[1].queue, "high");
  EXPECT_EQ(jobs[1].payload, "b");
  for (const char* bad :
       {"*2\r\n:3\r\n*0\r\n", "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n*1\r\n:5\r\n"}) {
    EXPECT_EQ(StatusOf(ReservationsOf(*Parse(bad), kQueues)).code(), absl::StatusCode::kInternal)
        << bad;
  }
}

}  // namespace
}  // namespace resque::redis
