// core/cron.h: which instants a cron expression names, in UTC and across daylight-saving
// transitions, what resque-scheduler's `every` values mean, and that bad input is refused
// saying which field and value.
#include "core/cron.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << rfc3339 << error;
  return t;
}

// The next `n` occurrences after `start`, each as RFC3339 in the schedule's zone; "none" ends
// the list when there are no more.
std::vector<std::string> Expand(const std::string& expr, const std::string& zone,
                                const std::string& start, size_t n) {
  absl::StatusOr<CronSchedule> schedule = ParseCron(expr, zone);
  EXPECT_TRUE(schedule.ok()) << expr << ": " << schedule.status();
  if (!schedule.ok()) return {};
  std::vector<std::string> out;
  absl::Time t = At(start);
  while (out.size() < n) {
    std::optional<absl::Time> next = schedule->Next(t);
    if (!next) {
      out.push_back("none");
      break;
    }
    out.push_back(absl::FormatTime(absl::RFC3339_sec, *next, schedule->time_zone()));
    t = *next;
  }
  return out;
}

struct Expansion {
  const char* what;
  const char* expr;
  const char* zone;
  const char* start;
  std::vector<std::string> expected;
};

const std::vector<Expansion>& Expansions() {
  static const auto* kExpansions = new std::vector<Expansion>{
      {"step from *",
       "*/15 * * * *",
       "",
       "2026-01-01T00:07:00Z",
       {"2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00",
        "2026-01-01T01:00:00+00:00"}},
      {"list and range",
       "5,10-12 3 * * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T03:05:00+00:00", "2026-01-01T03:10:00+00:00", "2026-01-01T03:11:00+00:00",
        "2026-01-01T03:12:00+00:00", "2026-01-02T03:05:00+00:00"}},
      {"stepped range",
       "10-30/10 * * * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:10:00+00:00", "2026-01-01T00:20:00+00:00", "2026-01-01T00:30:00+00:00",
        "2026-01-01T01:10:00+00:00"}},
      {"a/n runs to the field's end",
       "50/5 * * * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:50:00+00:00", "2026-01-01T00:55:00+00:00", "2026-01-01T01:50:00+00:00"}},
      {"month names with a step",
       "0 0 1 JAN-MAR/2 *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-03-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00", "2027-03-01T00:00:00+00:00"}},
      {"day names in any case",
       "0 12 * * mon-Fri",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T12:00:00+00:00", "2026-01-02T12:00:00+00:00", "2026-01-05T12:00:00+00:00"}},
      {"7 is Sunday",
       "0 0 * * 7",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}},
      {"a range up to 7",
       "0 0 * * 5-7",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
        "2026-01-09T00:00:00+00:00"}},
      {"day-of-month OR day-of-week when both are restricted",
       "0 0 13 * FRI",
       "",
       "2026-02-01T00:00:00Z",
       {"2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00", "2026-02-20T00:00:00+00:00",
        "2026-02-27T00:00:00+00:00", "2026-03-06T00:00:00+00:00", "2026-03-13T00:00:00+00:00"}},
      {"a stepped * is restricted too (unlike Vixie cron, as node's cron-parser)",
       "0 0 */10 * MON",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-05T00:00:00+00:00", "2026-01-11T00:00:00+00:00", "2026-01-12T00:00:00+00:00"}},
      {"only the day-of-week restricts when day-of-month is *",
       "0 0 * * MON",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00"}},
      {"only the day-of-month restricts when day-of-week is *",
       "0 0 13 * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"}},
      {"? is *",
       "0 0 ? * MON",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00"}},
      {"the 31st skips 30-day months",
       "0 0 31 * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-31T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00",
        "2026-07-31T00:00:00+00:00", "2026-08-31T00:00:00+00:00"}},
      {"Feb 29 only in leap years",
       "0 0 29 2 *",
       "",
       "2025-01-01T00:00:00Z",
       {"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}},
      {"Feb 29 across 2100, which is not a leap year",
       "0 0 29 2 *",
       "",
       "2096-03-01T00:00:00Z",
       {"2104-02-29T00:00:00+00:00"}},
      {"Feb 30 never", "0 0 30 2 *", "", "2026-01-01T00:00:00Z", {"none"}},
      {"seconds field",
       "*/20 * * * * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00", "2026-01-01T00:01:00+00:00"}},
      {"seconds field, fixed",
       "30 0 12 * * *",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T12:00:30+00:00", "2026-01-02T12:00:30+00:00"}},
      {"@yearly", "@yearly", "", "2026-05-05T10:30:00Z", {"2027-01-01T00:00:00+00:00"}},
      {"@annually", "@annually", "", "2026-05-05T10:30:00Z", {"2027-01-01T00:00:00+00:00"}},
      {"@monthly", "@monthly", "", "2026-05-05T10:30:00Z", {"2026-06-01T00:00:00+00:00"}},
      {"@weekly is Sunday", "@weekly", "", "2026-05-05T10:30:00Z", {"2026-05-10T00:00:00+00:00"}},
      {"@daily", "@daily", "", "2026-05-05T10:30:00Z", {"2026-05-06T00:00:00+00:00"}},
      {"@midnight", "@MIDNIGHT", "", "2026-05-05T10:30:00Z", {"2026-05-06T00:00:00+00:00"}},
      {"@hourly",
       "@hourly",
       "",
       "2026-05-05T10:30:00Z",
       {"2026-05-05T11:00:00+00:00", "2026-05-05T12:00:00+00:00"}},
      {"a time zone token",
       "0 5 * * * America/New_York",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T05:00:00-05:00", "2026-01-02T05:00:00-05:00"}},
      {"a time zone token after a seconds field",
       "0 0 5 * * * Europe/Berlin",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T05:00:00+01:00"}},
      {"a time zone token after a macro",
       "@daily Europe/Berlin",
       "",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00+01:00"}},
      {"the time zone argument",
       "0 5 * * *",
       "Europe/Berlin",
       "2026-07-01T00:00:00Z",
       {"2026-07-01T05:00:00+02:00"}},
      {"a token overrides the argument",
       "0 5 * * * UTC",
       "Europe/Berlin",
       "2026-07-01T00:00:00Z",
       {"2026-07-01T05:00:00+00:00"}},
      // America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST.
      {"New York: a time in the gap runs once when the gap ends",
       "30 2 * * *",
       "America/New_York",
       "2026-03-07T00:00:00-05:00",
       {"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
      {"New York: several times in the gap run once",
       "*/20 2 * * *",
       "America/New_York",
       "2026-03-07T02:30:00-05:00",
       {"2026-03-07T02:40:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
      {"New York: a repeated time runs once, the first",
       "30 1 * * *",
       "America/New_York",
       "2026-10-31T00:00:00-04:00",
       {"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
      {"New York: from inside the second copy, not again",
       "30 1 * * *",
       "America/New_York",
       "2026-11-01T01:10:00-05:00",
       {"2026-11-02T01:30:00-05:00"}},
      {"New York: every 30 minutes across spring forward",
       "*/30 * * * *",
       "America/New_York",
       "2026-03-08T01:00:00-05:00",
       {"2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"}},
      {"New York: every 30 minutes across fall back",
       "*/30 * * * *",
       "America/New_York",
       "2026-11-01T00:45:00-04:00",
       {"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"}},
      {"New York: every 30 minutes from late in the first copy",
       "*/30 * * * *",
       "America/New_York",
       "2026-11-01T01:50:00-04:00",
       {"2026-11-01T01:00:00-05:00"}},
      {"New York: hourly across fall back",
       "@hourly",
       "America/New_York",
       "2026-11-01T00:30:00-04:00",
       {"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
      {"New York: hourly at :30 skips the gap",
       "30 * * * *",
       "America/New_York",
       "2026-03-08T01:00:00-05:00",
       {"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
      // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET.
      {"Berlin: a time in the gap runs once when the gap ends",
       "0 2 * * *",
       "Europe/Berlin",
       "2026-03-28T00:00:00+01:00",
       {"2026-03-28T02:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
      {"Berlin: a repeated time runs once, the first",
       "15 2 * * *",
       "Europe/Berlin",
       "2026-10-24T12:00:00+02:00",
       {"2026-10-25T02:15:00+02:00", "2026-10-26T02:15:00+01:00"}},
      {"Berlin: every 15 minutes across fall back",
       "*/15 * * * *",
       "Europe/Berlin",
       "2026-10-25T02:40:00+02:00",
       {"2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:15:00+01:00",
        "2026-10-25T02:30:00+01:00", "2026-10-25T02:45:00+01:00", "2026-10-25T03:00:00+01:00"}},
      {"Berlin: every 15 minutes across spring forward",
       "*/15 * * * *",
       "Europe/Berlin",
       "2026-03-29T01:40:00+01:00",
       {"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00"}},
      // Australia/Lord_Howe moves by 30 minutes: 2026-04-05 02:00 +11:00 -> 01:30 +10:30,
      // 2026-10-04 02:00 +10:30 -> 02:30 +11:00.
      {"Lord Howe: a time in a 30-minute gap runs when the gap ends",
       "15 2 * * *",
       "Australia/Lord_Howe",
       "2026-10-03T12:00:00+10:30",
       {"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
      {"Lord Howe: every 30 minutes across the 30-minute gap",
       "*/30 * * * *",
       "Australia/Lord_Howe",
       "2026-10-04T01:10:00+10:30",
       {"2026-10-04T01:30:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"}},
      {"Lord Howe: a time repeated for 30 minutes runs once",
       "45 1 * * *",
       "Australia/Lord_Howe",
       "2026-04-04T12:00:00+11:00",
       {"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
  };
  return *kExpansions;
}

TEST(CronTest, ExpressionsExpandToTheKnownOccurrences) {
  for (const Expansion& e : Expansions()) {
    EXPECT_THAT(Expand(e.expr, e.zone, e.start, e.expected.size()), ElementsAreArray(e.expected))
        << e.what << ": \"" << e.expr << "\" in \"" << e.zone << "\" after " << e.start;
  }
}

TEST(CronTest, NextIsStrictlyAfterAndWholeSeconds) {
  absl::StatusOr<CronSchedule> s = ParseCron("*/15 * * * *");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Next(At("2026-01-01T00:15:00Z")), At("2026-01-01T00:30:00Z"));
  EXPECT_EQ(s->Next(At("2026-01-01T00:14:59.999Z")), At("2026-01-01T00:15:00Z"));
  EXPECT_EQ(s->Next(absl::InfiniteFuture()), std::nullopt);
  EXPECT_EQ(s->Next(absl::InfinitePast()), std::nullopt);
  // The ends of absl::Time's range: an answer or none, never a crash.
  const absl::Time far = absl::FromUnixSeconds(int64_t{1} << 60);
  EXPECT_GT(s->Next(far).value_or(absl::InfiniteFuture()), far);
  EXPECT_TRUE(s->Next(absl::FromUnixSeconds(-(int64_t{1} << 60))).has_value());
}

TEST(CronTest, AfterOneSecondBeforeTheGapEndsTheGapStillRuns) {
  absl::StatusOr<CronSchedule> s = ParseCron("30 2 * * *", "America/New_York");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Next(At("2026-03-08T01:59:59-05:00")), At("2026-03-08T03:00:00-04:00"));
  EXPECT_EQ(s->Next(At("2026-03-08T03:00:00-04:00")), At("2026-03-09T02:30:00-04:00"));
}

TEST(CronTest, KeepsTheExpressionAndZone) {
  absl::StatusOr<CronSchedule> s = ParseCron("  0 5 * * * America/New_York \t");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->expression(), "0 5 * * * America/New_York");
  EXPECT_EQ(s->time_zone().name(), "America/New_York");
  EXPECT_EQ(ParseCron("0 5 * * *")->time_zone().name(), "UTC");
}

struct BadCron {
  std::string expr;
  const char* zone;
  const char* message;
};

TEST(CronTest, BadExpressionsAreRefusedNamingTheFieldAndValue) {
  const std::vector<BadCron> kBad = {
      {"", "", "cron expression is empty"},
      {"   ", "", "cron expression is empty"},
      {"* * * *", "", "has 4 fields; expected 5"},
      {"* * * * * * * *", "", "has 8 fields"},
      {"0 0 0 0 0 0 Europe/Berlin", "", "day-of-month field \"0\": 0 is out of range 1-31"},
      {"60 * * * *", "", "minute field \"60\": 60 is out of range 0-59"},
      {"0 24 * * *", "", "hour field \"24\": 24 is out of range 0-23"},
      {"0 0 32 * *", "", "day-of-month field \"32\": 32 is out of range 1-31"},
      {"0 0 * 13 *", "", "month field \"13\": 13 is out of range 1-12"},
      {"0 0 * * 8", "", "day-of-week field \"8\": 8 is out of range 0-7"},
      {"60 0 0 * * *", "", "second field \"60\": 60 is out of range 0-59"},
      {"*/0 * * * *", "", "minute field \"*/0\": step 0 is out of range 1-60"},
      {"*/61 * * * *", "", "step 61 is out of range 1-60"},
      {"*/ * * * *", "", "step '' is not a number"},
      {"30-10 * * * *", "", "minute field \"30-10\": range 30-10 is reversed"},
      {"0 0 * * FRI-MON", "", "range FRI-MON is reversed"},
      {"0 0 * FOO *", "", "month field \"FOO\": 'FOO' is neither a number nor a month name"},
      {"0 0 * * Sunday", "", "'Sunday' is neither a number nor a day-of-week name"},
      {"0 JAN * * *", "", "hour field \"JAN\": 'JAN' is not a number"},
      {"99999999999999999999 * * * *", "",
       "minute field \"99999999999999999999\": 99999999999999999999 is out of range 0-59"},
      {"0 0 */99999999999999999999 * *", "", "step 99999999999999999999 is out of range"},
      {"1,,2 * * * *", "", "minute field \"1,,2\": empty list item"},
      {"? * * * *", "", "minute field \"?\": '?' is not a number"},
      {"-5 * * * *", "", "'' is not a number"},
      {"0 0 L * *", "", "'L' is not a number"},
      {"0 0 * * 1#2", "", "'1#2' is neither a number"},
      {"@reboot", "", "unknown macro \"@reboot\""},
      {"@daily * *", "", "a macro takes only a time zone after it"},
      {"0 5 * * * Mars/Olympus_Mons", "", "unknown time zone \"Mars/Olympus_Mons\""},
      {"0 5 * * *", "Nowhere/Town", "unknown time zone \"Nowhere/Town\""},
      {"0 5 * * * /etc/passwd", "", "unknown time zone \"/etc/passwd\""},
      {"0 5 * * * ../../etc/passwd", "", "unknown time zone"},
      {"0\n5 * * * *", "", "minute field \"0\\n5\""},
      {std::string(2000, '1'), "", "longer than 1024 bytes"},
  };
  for (const BadCron& bad : kBad) {
    absl::StatusOr<CronSchedule> s = ParseCron(bad.expr, bad.zone);
    ASSERT_FALSE(s.ok()) << bad.expr;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad.expr;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(bad.message)) << bad.expr;
  }
}

TEST(CronTest, TheMessageQuotesTheExpression) {
  EXPECT_EQ(ParseCron("0 75 * * *").status().message(),
            "cron expression \"0 75 * * *\": hour field \"75\": 75 is out of range 0-23");
}

// Random expressions from the grammar's pieces and from junk: parsing never crashes, and every
// schedule's occurrences are strictly increasing with none skipped (from any instant between
// two occurrences, Next gives the later one).
TEST(CronTest, RandomExpressionsNeverCrashAndNextIsStrictlyIncreasing) {
  std::mt19937 rng(15);
  // Pieces that every field takes, then those of one field (seconds, minute, ..., day-of-week).
  const std::vector<std::string> common = {"*", "*/7", "1-5", "3", "2,4", "5/4", "1-12/5", "*/2"};
  const std::vector<std::vector<std::string>> own = {
      {"0,30", "59", "10-40/10"},  {"0,30", "59", "10-40/10"}, {"0-23", "23", "*/6"},
      {"?", "31", "29", "1-31/3"}, {"jan", "FEB-Dec", "12"},   {"?", "MON", "7", "sat,SUN"}};
  const std::vector<std::string> zones = {"", "America/New_York", "Europe/Berlin", "Asia/Kolkata",
                                          "Australia/Lord_Howe"};
  const std::string junk = "0123456789*/-,?@ aJNmoSU#L";
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int parsed = 0;
  for (int round = 0; round < 400; ++round) {
    std::string expr;
    if (round % 4 == 3) {
      for (size_t i = pick(30); i > 0; --i) expr += junk[pick(junk.size())];
    } else {
      const size_t first = pick(2);  // with a seconds field or without
      for (size_t i = first; i < own.size(); ++i) {
        const std::vector<std::string>& from = pick(3) == 0 ? own[i] : common;
        absl::StrAppend(&expr, i > first ? " " : "", from[pick(from.size())]);
      }
    }
    absl::StatusOr<CronSchedule> s = ParseCron(expr, zones[pick(zones.size())]);
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << expr;
      continue;
    }
    ++parsed;
    absl::Time t = absl::FromUnixSeconds(1767225600 + static_cast<int64_t>(pick(400'000'000)));
    for (int i = 0; i < 25; ++i) {
      std::optional<absl::Time> next = s->Next(t);
      if (!next) break;
      ASSERT_GT(*next, t) << expr;
      const absl::Time between = t + (*next - t) * (static_cast<double>(pick(1000)) / 1000);
      ASSERT_EQ(s->Next(between), next) << expr << " from " << between;
      t = *next;
    }
  }
  EXPECT_GT(parsed, 250);  // the test exercises Next, not only the errors
}

TEST(EveryTest, IntervalsInResqueSchedulerUnits) {
  EXPECT_EQ(*ParseEvery("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseEvery("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseEvery("1h"), absl::Hours(1));
  EXPECT_EQ(*ParseEvery("1d"), absl::Hours(24));
  EXPECT_EQ(*ParseEvery("1w"), absl::Hours(24 * 7));
  EXPECT_EQ(*ParseEvery("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseEvery("30m1h"), absl::Minutes(90));
  EXPECT_EQ(*ParseEvery("1w2d3h4m5s"), absl::Seconds(((9 * 24 + 3) * 60 + 4) * 60 + 5));
  EXPECT_EQ(*ParseEvery("90"), absl::Seconds(90));
  EXPECT_EQ(*ParseEvery(" 45 "), absl::Seconds(45));
  EXPECT_EQ(*ParseEvery("365d"), absl::Hours(24 * 365));
  EXPECT_EQ(*ParseEvery("52w1d"), absl::Hours(24 * 365));
}

TEST(EveryTest, BadIntervalsAreRefusedSayingWhy) {
  const std::vector<std::pair<const char*, const char*>> kBad = {
      {"", "empty"},
      {"0", "must be longer than zero"},
      {"0s0m", "must be longer than zero"},
      {"1y", "unknown unit 'y'"},
      {"1M", "unknown unit 'M'"},
      {"5x", "unknown unit 'x'"},
      {"1.5h", "unknown unit '.'"},
      {"1h1h", "unit 'h' given twice"},
      {"h", "expected a number at 'h'"},
      {"-5", "expected a number at '-5'"},
      {"1h 30m", "expected a number at ' 30m'"},
      {"10m5", "number 5 has no unit"},
      {"366d", "longer than 365 days"},
      {"52w2d", "longer than 365 days"},
      {"99999999999999999999", "longer than 365 days"},
      {"99999999999999999999w", "longer than 365 days"},
  };
  for (const auto& [every, message] : kBad) {
    absl::StatusOr<absl::Duration> d = ParseEvery(every);
    ASSERT_FALSE(d.ok()) << every;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << every;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(message)) << every;
  }
  EXPECT_EQ(ParseEvery("5x").status().message(),
            "every \"5x\": unknown unit 'x' (units: s m h d w; months and years vary in length, "
            "use cron)");
}

}  // namespace
}  // namespace resque
