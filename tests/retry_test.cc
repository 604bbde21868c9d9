// core/retry.h: the backoff, the retry fields a payload carries, and --retry's CLASS=N.
#include "core/retry.h"

#include <string>

#include "absl/time/time.h"
#include "core/payload.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"

namespace resque {
namespace {

using ::resque::testing::Value;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(DefaultRetryDelay, StaysWithinSidekiqsBoundsAndSpreads) {
  for (int count : {0, 1, 2, 5, 24}) {
    const int64_t base = static_cast<int64_t>(count) * count * count * count + 15;
    bool varied = false;
    const absl::Duration first = DefaultRetryDelay(count);
    for (int i = 0; i < 200; ++i) {
      const absl::Duration d = DefaultRetryDelay(count);
      EXPECT_GE(d, absl::Seconds(base)) << count;
      EXPECT_LE(d, absl::Seconds(base + 9 * (count + 1))) << count;
      varied = varied || d != first;
    }
    EXPECT_TRUE(varied) << "no jitter for retry " << count;
  }
  // Out of range counts are clamped, never overflow.
  EXPECT_EQ(DefaultRetryDelay(-3) >= absl::Seconds(15), true);
  EXPECT_LE(DefaultRetryDelay(1 << 30), absl::Seconds(int64_t{100000000} + 15 + 9 * 101));
}

TEST(RetryItem, SetsTheRetryFieldsAndTheQueueReplacingEarlierOnes) {
  const Payload once = Value(DecodePayload(
      R"({"class":"C","args":[1],"id":"x","queue":"old","retry_count":4,"error_class":"E","mine":true})"));
  EXPECT_EQ(RetryCountOf(once), 4);
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  const std::string item = RetryItem(once, "mail", 5, "resque::JobError", "it \"broke\"", now);
  EXPECT_EQ(item, R"({"class":"C","args":[1],"id":"x","mine":true,"queue":"mail","retry_count":5,)"
                  R"("error_class":"resque::JobError","error_message":"it \"broke\"",)"
                  R"("failed_at":1700000000})");
  const Payload twice = Value(DecodePayload(item));
  EXPECT_EQ(RetryCountOf(twice), 5);
  EXPECT_EQ(PayloadWithoutRetry(twice),
            R"({"class":"C","args":[1],"id":"x","mine":true,"queue":"mail"})");
  // A long error is cut: the item is part of a key's name.
  const std::string long_item = RetryItem(once, "mail", 1, "E", std::string(100000, 'x'), now);
  EXPECT_LT(long_item.size(), 1200u);
}

TEST(RetryCountOf, ReadsZeroForWhatIsNotACount) {
  for (const char* json :
       {R"({"class":"C"})", R"({"class":"C","retry_count":"2"})",
        R"({"class":"C","retry_count":-1})", R"({"class":"C","retry_count":[1]})"}) {
    EXPECT_EQ(RetryCountOf(Value(DecodePayload(json))), 0) << json;
  }
  EXPECT_EQ(RetryCountOf(Value(DecodePayload(R"({"class":"C","retry_count":100000})"))),
            kMaxRetries);
}

TEST(ParseRetryFlag, ReadsClassEqualsCount) {
  EXPECT_EQ(Value(ParseRetryFlag("SendEmail=3")), std::make_pair(std::string("SendEmail"), 3));
  EXPECT_EQ(Value(ParseRetryFlag("*=0")), std::make_pair(std::string("*"), 0));
  EXPECT_EQ(Value(ParseRetryFlag("App::Job=Name=2")),
            std::make_pair(std::string("App::Job=Name"), 2));
  for (const char* bad : {"", "SendEmail", "=3", "SendEmail=", "SendEmail=x", "SendEmail=-1",
                          "SendEmail=101", "SendEmail=3.5"}) {
    absl::StatusOr<std::pair<std::string, int>> r = ParseRetryFlag(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("--retry")) << bad;
    EXPECT_THAT(r.status().message(), Not(HasSubstr("\n")));
  }
}

}  // namespace
}  // namespace resque
