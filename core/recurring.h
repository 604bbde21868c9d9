// Recurring schedules: a job enqueued at each occurrence of a cron expression or an `every`
// interval, configured in resque-scheduler's form and stored where it keeps its dynamic
// schedules (Backend::SetSchedule), so resque-web's Schedule tab shows ours (docs/scheduler.md).
//
//   absl::StatusOr<resque::RecurringJob> job = resque::ParseRecurring(
//       "nightly", R"({"class":"Report","queue":"low","args":[1],"cron":"0 3 * * *
//       Europe/Paris"})");
#ifndef RESQUE_CORE_RECURRING_H_
#define RESQUE_CORE_RECURRING_H_

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/cron.h"

namespace resque {

// One schedule's config: resque-scheduler's keys (class, queue, args, description, and either
// cron or every). Other keys resque-scheduler knows (custom_job_class, rails_env, persist) are
// not read; an unknown one is kept out of the stored config.
struct RecurringJob {
  std::string name;
  std::string class_name;
  std::string queue;
  std::string args = "[]";  // a JSON array
  std::string description;
  std::string cron;   // as given, a zone at its end allowed; empty when `every` is set
  std::string every;  // as given ("1h30m"); empty when `cron` is set
};

// Reads a config. InvalidArgument naming the schedule and what is wrong: not a JSON object, no
// class or queue (or a bad name), args not JSON, neither or both of cron and every, a cron or
// every that does not parse.
absl::StatusOr<RecurringJob> ParseRecurring(std::string_view name, std::string_view config);

// The config as stored: {"class","queue","args","cron"|"every"[,"description"]}.
std::string EncodeRecurring(const RecurringJob& job);

// Reads a schedule file: a JSON object of configs by name, the shape of resque-scheduler's YAML
// schedule. InvalidArgument naming the first bad entry.
absl::StatusOr<std::vector<RecurringJob>> ParseScheduleFile(std::string_view text);

// When a schedule's occurrences come.
class Occurrences {
 public:
  static absl::StatusOr<Occurrences> Of(const RecurringJob& job);
  // The first occurrence strictly after `after`: cron's next match, or `after` + every (an
  // `every` schedule counts from its previous occurrence). Nullopt when a cron never matches
  // again.
  std::optional<absl::Time> Next(absl::Time after) const;
  // Where to count from when the occurrences from `last` up to `bound` are skipped: `bound`
  // for cron, the last step of `every` from `last` that is not past `bound` (so the schedule
  // keeps its rhythm).
  absl::Time SkipTo(absl::Time last, absl::Time bound) const;

 private:
  explicit Occurrences(std::variant<CronSchedule, absl::Duration> when) : when_(std::move(when)) {}
  std::variant<CronSchedule, absl::Duration> when_;
};

}  // namespace resque

#endif  // RESQUE_CORE_RECURRING_H_
