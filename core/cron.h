// The time math of recurring schedules: cron expressions (as resque-scheduler, rufus-scheduler
// and node-cron take them) and resque-scheduler's `every` intervals. No I/O, no clock.
//
//   RESQUE_ASSIGN_OR_RETURN(resque::CronSchedule daily,
//                           resque::ParseCron("0 5 * * MON-FRI America/New_York"));
//   std::optional<absl::Time> next = daily.Next(absl::Now());  // 05:00 New York, next weekday
//   RESQUE_ASSIGN_OR_RETURN(absl::Duration every, resque::ParseEvery("1h30m"));
//
// The grammar and the daylight-saving rules are in docs/scheduler.md, "Recurring schedules".
#ifndef RESQUE_CORE_CRON_H_
#define RESQUE_CORE_CRON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resque {

// How far ahead CronSchedule::Next looks: past the longest wait of a satisfiable expression
// (Feb 29 every 8 years across 2100, which is not a leap year).
inline constexpr int kCronHorizonDays = 3653;  // ten years

// The longest `every` interval ParseEvery takes.
inline constexpr int kMaxEveryDays = 365;

// A parsed cron expression with its time zone. Copyable, cheap, immutable.
class CronSchedule {
 public:
  // The first occurrence strictly after `after`, in whole seconds; nullopt when there is none
  // within kCronHorizonDays (`0 0 30 2 *`) or `after` is infinite. Skips by field, never scans
  // minute by minute. In a zone with daylight saving time:
  // - a schedule whose hour field starts with `*` (`*/15 * * * *`, @hourly) follows real time:
  //   local times in a spring-forward gap do not happen, those repeated by a fall-back happen
  //   in both copies, so it keeps its spacing;
  // - any other schedule runs a local time that falls in a gap once, at the instant the gap
  //   ends, and a repeated local time once, at its first copy (Vixie cron's rules).
  std::optional<absl::Time> Next(absl::Time after) const;

  // The expression as given (whitespace trimmed), and the zone it runs in.
  const std::string& expression() const { return expression_; }
  const absl::TimeZone& time_zone() const { return zone_; }

 private:
  friend absl::StatusOr<CronSchedule> ParseCron(std::string_view, std::string_view);
  CronSchedule() = default;

  bool DayMatches(const absl::CivilSecond& c) const;
  // The first local time in [from, end) that every field matches.
  std::optional<absl::CivilSecond> NextLocal(absl::CivilSecond from, absl::CivilSecond end) const;

  // Bit v set: value v matches. Days of week 0-6, Sunday 0.
  uint64_t seconds_ = 0;
  uint64_t minutes_ = 0;
  uint64_t hours_ = 0;
  uint64_t days_of_month_ = 0;
  uint64_t months_ = 0;
  uint64_t days_of_week_ = 0;
  // Whether the day field is exactly `*` or `?` (unrestricted; else a day matches when either
  // day field does), and whether the hour field starts with `*` (the daylight-saving rules).
  bool dom_star_ = true;
  bool dow_star_ = true;
  bool hour_star_ = true;
  absl::TimeZone zone_ = absl::UTCTimeZone();
  std::string expression_;
};

// Parses `expr`: 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading seconds
// field), or a macro (@yearly @annually @monthly @weekly @daily @midnight @hourly), optionally
// followed by an IANA time zone name ("0 5 * * * America/New_York"). `time_zone` is the zone
// when `expr` names none; empty means UTC. Else InvalidArgument naming the bad field and value:
//   cron expression "0 75 * * *": hour field "75": 75 is out of range 0-23
absl::StatusOr<CronSchedule> ParseCron(std::string_view expr, std::string_view time_zone = "");

// Parses a resque-scheduler `every` value: whole seconds ("90"), or numbers with units s m h d w
// in any order, each unit once ("30s", "5m", "1h30m", "1w2d"). Positive and at most
// kMaxEveryDays; else InvalidArgument saying why.
absl::StatusOr<absl::Duration> ParseEvery(std::string_view every);

}  // namespace resque

#endif  // RESQUE_CORE_CRON_H_
