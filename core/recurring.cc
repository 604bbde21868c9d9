#include "core/recurring.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/json.h"
#include "core/names.h"
#include "core/payload.h"

namespace resque {
namespace {

absl::Status Bad(std::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrFormat("schedule \"%s\": %s", name, why));
}

// The string member `key`, empty when absent; an error when it is there but not a string.
absl::StatusOr<std::string> StringMember(std::string_view name,
                                         const std::vector<json::Field>& fields,
                                         std::string_view key) {
  const json::Field* f = json::FindField(fields, key);
  if (f == nullptr || f->type == json::Type::kNull) return std::string();
  if (f->type != json::Type::kString) {
    return Bad(name, absl::StrFormat("\"%s\" must be a string, found %s", key, f->raw));
  }
  return json::StringValue(f->raw);
}

}  // namespace

absl::StatusOr<RecurringJob> ParseRecurring(std::string_view name, std::string_view config) {
  if (name.empty()) return absl::InvalidArgumentError("a schedule needs a name");
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(config);
  if (!fields.ok()) return Bad(name, fields.status().message());
  RecurringJob job;
  job.name = std::string(name);
  absl::StatusOr<std::string> s = StringMember(name, *fields, "class");
  if (!s.ok()) return s.status();
  job.class_name = *std::move(s);
  if (job.class_name.empty()) return Bad(name, "no \"class\"");
  if (absl::Status c = CheckClassName(job.class_name); !c.ok()) return Bad(name, c.message());
  if (s = StringMember(name, *fields, "queue"); !s.ok()) return s.status();
  job.queue = *std::move(s);
  // resque-scheduler falls back on the Ruby class's @queue, which is not ours to read.
  if (job.queue.empty()) return Bad(name, "no \"queue\" (the queue the job is enqueued on)");
  if (absl::Status c = CheckQueueName(job.queue); !c.ok()) return Bad(name, c.message());
  if (const json::Field* args = json::FindField(*fields, "args");
      args != nullptr && args->type != json::Type::kNull) {
    // resque-scheduler enqueues an array's members as the args, anything else as one arg.
    job.args = args->type == json::Type::kArray ? args->raw : absl::StrCat("[", args->raw, "]");
  }
  if (s = StringMember(name, *fields, "description"); !s.ok()) return s.status();
  job.description = *std::move(s);
  if (s = StringMember(name, *fields, "cron"); !s.ok()) return s.status();
  job.cron = *std::move(s);
  const json::Field* every = json::FindField(*fields, "every");
  if (every != nullptr && every->type == json::Type::kArray) {
    return Bad(name,
               "\"every\" in resque-scheduler's [interval, options] form is not read: give "
               "the interval as a string");
  }
  if (s = StringMember(name, *fields, "every"); !s.ok()) return s.status();
  job.every = *std::move(s);
  if (job.cron.empty() == job.every.empty()) {
    return Bad(name, "give one of \"cron\" and \"every\"");
  }
  absl::StatusOr<Occurrences> when = Occurrences::Of(job);
  if (!when.ok()) return Bad(name, when.status().message());
  return job;
}

std::string EncodeRecurring(const RecurringJob& job) {
  std::string out = absl::StrCat("{\"class\":", json::Quote(job.class_name),
                                 ",\"queue\":", json::Quote(job.queue), ",\"args\":", job.args);
  if (!job.cron.empty()) absl::StrAppend(&out, ",\"cron\":", json::Quote(job.cron));
  if (!job.every.empty()) absl::StrAppend(&out, ",\"every\":", json::Quote(job.every));
  if (!job.description.empty()) {
    absl::StrAppend(&out, ",\"description\":", json::Quote(job.description));
  }
  out.push_back('}');
  return out;
}

absl::StatusOr<std::vector<RecurringJob>> ParseScheduleFile(std::string_view text) {
  absl::StatusOr<std::vector<json::Field>> entries = json::ParseObject(text);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the schedule file is not a JSON object of schedules by name: ",
                     entries.status().message()));
  }
  std::vector<RecurringJob> jobs;
  for (const json::Field& entry : *entries) {
    for (const RecurringJob& seen : jobs) {
      if (seen.name == entry.key) return Bad(entry.key, "named twice in the schedule file");
    }
    absl::StatusOr<RecurringJob> job = ParseRecurring(entry.key, entry.raw);
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  }
  return jobs;
}

absl::StatusOr<Occurrences> Occurrences::Of(const RecurringJob& job) {
  if (!job.cron.empty()) {
    absl::StatusOr<CronSchedule> cron = ParseCron(job.cron);
    if (!cron.ok()) return cron.status();
    return Occurrences(*std::move(cron));
  }
  absl::StatusOr<absl::Duration> every = ParseEvery(job.every);
  if (!every.ok()) return every.status();
  return Occurrences(*every);
}

absl::Time Occurrences::SkipTo(absl::Time last, absl::Time bound) const {
  const auto* every = std::get_if<absl::Duration>(&when_);
  if (every == nullptr || bound <= last) return std::max(last, bound);
  return last + absl::Floor(bound - last, *every);
}

std::optional<absl::Time> Occurrences::Next(absl::Time after) const {
  if (const auto* cron = std::get_if<CronSchedule>(&when_)) return cron->Next(after);
  return after + std::get<absl::Duration>(when_);
}

}  // namespace resque
