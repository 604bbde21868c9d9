// core/recurring.h: resque-scheduler's schedule configs read and written, schedule files, and
// when occurrences come.
#include "core/recurring.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"

namespace resque {
namespace {

using ::resque::testing::Value;
using ::testing::HasSubstr;

TEST(ParseRecurring, ReadsResqueSchedulersKeysAndWritesThemBack) {
  RecurringJob job = Value(ParseRecurring(
      "nightly",
      R"({"cron":"0 3 * * * Europe/Paris","class":"Report","queue":"low",)"
      R"("args":{"kind":"daily"},"description":"the report","rails_env":"production"})"));
  EXPECT_EQ(job.class_name, "Report");
  EXPECT_EQ(job.queue, "low");
  EXPECT_EQ(job.args, R"([{"kind":"daily"}])");  // one argument, as resque-scheduler passes it
  EXPECT_EQ(EncodeRecurring(job), R"({"class":"Report","queue":"low","args":[{"kind":"daily"}],)"
                                  R"("cron":"0 3 * * * Europe/Paris","description":"the report"})");
  EXPECT_EQ(
      Value(ParseRecurring("t", R"({"every":"30s","class":"T","queue":"q","args":[1,2]})")).args,
      "[1,2]");
  EXPECT_EQ(Value(ParseRecurring("t", R"({"every":"30s","class":"T","queue":"q"})")).args, "[]");
}

TEST(ParseRecurring, RefusesWhatCannotRunNamingTheSchedule) {
  for (const char* config :
       {"not json", "[]", R"({"every":"1m","queue":"q"})", R"({"every":"1m","class":"T"})",
        R"({"class":"T","queue":"q"})",
        R"({"every":"1m","cron":"* * * * *","class":"T","queue":"q"})",
        R"({"every":"1 minute","class":"T","queue":"q"})",
        R"({"cron":"* * *","class":"T","queue":"q"})",
        R"({"every":["1m",{"first_in":"1s"}],"class":"T","queue":"q"})",
        R"({"every":60,"class":"T","queue":"q"})", R"({"every":"1m","class":"T","queue":"a,b"})"}) {
    absl::StatusOr<RecurringJob> job = ParseRecurring("mine", config);
    EXPECT_TRUE(absl::IsInvalidArgument(job.status())) << config;
    EXPECT_THAT(job.status().message(), HasSubstr("schedule \"mine\"")) << config;
  }
}

TEST(ParseScheduleFile, ReadsSchedulesByNameAndRefusesTheFirstBadOne) {
  std::vector<RecurringJob> jobs = Value(ParseScheduleFile(
      R"({"a":{"every":"1h","class":"A","queue":"q"},"b":{"cron":"@daily","class":"B","queue":"q"}})"));
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].name, "a");
  EXPECT_EQ(jobs[1].cron, "@daily");
  EXPECT_THAT(ParseScheduleFile(R"({"a":{"every":"1h","class":"A"}})").status().message(),
              HasSubstr("schedule \"a\": no \"queue\""));
  EXPECT_THAT(ParseScheduleFile(R"({"a":{"every":"1h","class":"A","queue":"q"},)"
                                R"("a":{"every":"2h","class":"A","queue":"q"}})")
                  .status()
                  .message(),
              HasSubstr("named twice"));
  EXPECT_FALSE(ParseScheduleFile("[]").ok());
}

// The occurrences of a config that parses (Occurrences has no default to fall back on).
Occurrences Of(const char* config) {
  absl::StatusOr<Occurrences> when = Occurrences::Of(Value(ParseRecurring("t", config)));
  EXPECT_TRUE(when.ok()) << when.status();
  return *std::move(when);
}

TEST(Occurrences, EveryCountsFromTheLastOneAndSkipsInWholeSteps) {
  const Occurrences every = Of(R"({"every":"1m","class":"T","queue":"q"})");
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_EQ(every.Next(t), t + absl::Minutes(1));
  EXPECT_EQ(every.SkipTo(t, t + absl::Seconds(150)), t + absl::Minutes(2));
  EXPECT_EQ(every.SkipTo(t, t - absl::Seconds(5)), t);
  const Occurrences cron = Of(R"({"cron":"0 * * * *","class":"T","queue":"q"})");
  EXPECT_EQ(cron.Next(absl::FromUnixSeconds(3600)), absl::FromUnixSeconds(7200));
  EXPECT_EQ(cron.SkipTo(t, t + absl::Seconds(150)), t + absl::Seconds(150));
}

}  // namespace
}  // namespace resque
