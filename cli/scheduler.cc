// `resque scheduler` (moves due delayed jobs to their queues and enqueues the occurrences of
// recurring schedules until a signal stops it), `resque delayed list|count|remove|run-now` (what
// waits in resque-scheduler's delayed queue) and `resque schedule list|add|remove|load` (the
// recurring schedules, where resque-scheduler keeps its dynamic ones).
// The scheduler leads only while it holds both peers' leader locks (core/scheduler.h), so it may
// run beside resque-scheduler and node-resque's Scheduler: one of them moves jobs at a time.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/names.h"
#include "core/failure.h"
#include "core/job_filter.h"
#include "core/json.h"
#include "core/names.h"
#include "core/payload.h"
#include "core/recurring.h"
#include "core/scheduler.h"
#include "core/status_macros.h"

namespace resque::cli {
namespace {

// The most items `delayed` looks at: its commands read the whole delayed queue.
constexpr int64_t kPage = 1000;

// Every delayed item with its second, the earliest first, at most `limit` (0: all).
absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> AllDelayed(Backend& backend,
                                                                        int64_t limit) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (int64_t start = 0;; start += kPage) {  // bounded by the schedule's size
    absl::StatusOr<std::vector<DelayedTime>> times = backend.DelayedTimes(start, kPage);
    if (!times.ok()) return times.status();
    for (const DelayedTime& t : *times) {
      for (int64_t from = 0; from < t.size; from += kPage) {
        absl::StatusOr<std::vector<std::string>> items = backend.DelayedItems(t.at, from, kPage);
        if (!items.ok()) return items.status();
        for (std::string& item : *items) {
          if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) return out;
          out.emplace_back(t.at, std::move(item));
        }
        if (static_cast<int64_t>(items->size()) < kPage) break;
      }
    }
    if (static_cast<int64_t>(times->size()) < kPage) return out;
  }
}

// The queue a delayed item names, or "" when it names none.
std::string QueueOf(std::string_view item) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(item);
  if (!fields.ok()) return "";
  const json::Field* queue = json::FindField(*fields, "queue");
  if (queue == nullptr) return "";
  return json::StringValue(queue->raw).value_or("");
}

std::string Iso(int64_t at) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(at), absl::UTCTimeZone());
}

struct FilterArgs {
  std::string class_name, args, id;
};

void AddFilter(CLI::App* cmd, FilterArgs& f) {
  cmd->add_option("class", f.class_name, "Job class name")->required();
  cmd->add_option("args", f.args, "Only jobs with these args (JSON, compared as values)");
  cmd->add_option("--id", f.id, "Only the job with this id");
}

// Applies `act` to every copy of each delayed item that matches; prints how many.
int EachMatch(const GlobalOptions& global, const FilterArgs& f, const char* verb,
              const std::function<absl::StatusOr<int64_t>(Backend&, const std::string& item,
                                                          const std::string& queue)>& act) {
  // Made whole in one expression: GCC 12 at -O3 took a later assignment to an optional member
  // for a read of an uninitialised string (-Wmaybe-uninitialized).
  const auto given = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  absl::StatusOr<JobMatcher> matcher = JobMatcher::Create(
      JobFilter{.class_name = f.class_name, .id = given(f.id), .args = given(f.args)});
  if (!matcher.ok()) return Fail(matcher.status(), kUsageExit);
  return WithBackend(global, [&](Backend& backend) {
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> all = AllDelayed(backend, 0);
    if (!all.ok()) return Fail(all.status());
    std::set<std::string> done;
    int64_t count = 0;
    for (const auto& [at, item] : *all) {
      if (!matcher->Matches(item) || !done.insert(item).second) continue;
      absl::StatusOr<int64_t> n = act(backend, item, QueueOf(item));
      if (!n.ok()) return Fail(n.status());
      count += *n;
    }
    std::printf("%lld %s\n", static_cast<long long>(count), verb);
    return 0;
  });
}

void AddDelayed(CLI::App& app, GlobalOptions& global, int* exit_code) {
  CLI::App* delayed = app.add_subcommand(
      "delayed", "Delayed jobs: list, count, remove, run-now (resque-scheduler's delayed queue)");
  delayed->require_subcommand(1);
  delayed->fallthrough();

  auto limit = std::make_shared<int64_t>(100);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = delayed->add_subcommand("list", "Delayed jobs, the soonest first");
  list->add_option("--limit", *limit, "At most this many (0: all)")
      ->check(WholeNumber(0, int64_t{1} << 40));
  list->add_flag("--json", *as_json, "Print JSON: [{\"at\":SECONDS,\"job\":{...}}, ...]");
  list->callback([&global, exit_code, limit, as_json] {
    const bool json_out = *as_json;
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> all =
          AllDelayed(backend, *limit);
      if (!all.ok()) return Fail(all.status());
      std::string out = json_out ? "[" : "";
      bool first = true;
      for (const auto& [at, item] : *all) {
        if (json_out) {
          const std::string job = json::Validate(item).ok() ? item : json::Quote(item);
          absl::StrAppendFormat(&out, "%s{\"at\":%d,\"job\":%s}", first ? "" : ",", at, job);
        } else {
          absl::StatusOr<Payload> p = DecodePayload(item);
          if (p.ok()) {
            absl::StrAppendFormat(&out, "%s\t%s\t%s\t%s\t%s\n", Iso(at), EscapeField(QueueOf(item)),
                                  EscapeField(p->class_name), EscapeField(p->args),
                                  EscapeField(p->id));
          } else {
            absl::StrAppendFormat(&out, "%s\t(not a job)\t%s\n", Iso(at), EscapeField(item));
          }
        }
        first = false;
      }
      if (json_out) out += "]\n";
      std::fputs(out.c_str(), stdout);
      return 0;
    });
  });

  CLI::App* count = delayed->add_subcommand("count", "How many jobs are delayed");
  count->callback([&global, exit_code] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<int64_t> n = backend.DelayedCount();
      if (!n.ok()) return Fail(n.status());
      std::printf("%lld\n", static_cast<long long>(*n));
      return 0;
    });
  });

  auto remove = std::make_shared<FilterArgs>();
  CLI::App* rm = delayed->add_subcommand("remove", "Remove the matching delayed jobs");
  AddFilter(rm, *remove);
  rm->callback([&global, exit_code, remove] {
    *exit_code = EachMatch(global, *remove, "removed",
                           [](Backend& backend, const std::string& item, const std::string&) {
                             return backend.RemoveDelayed(item);
                           });
  });

  auto run = std::make_shared<FilterArgs>();
  CLI::App* now = delayed->add_subcommand("run-now", "Queue the matching delayed jobs now");
  AddFilter(now, *run);
  now->callback([&global, exit_code, run] {
    *exit_code = EachMatch(global, *run, "queued",
                           [](Backend& backend, const std::string& item,
                              const std::string& queue) -> absl::StatusOr<int64_t> {
                             if (queue.empty())
                               return absl::InvalidArgumentError("a delayed item names no queue");
                             RESQUE_RETURN_IF_ERROR(CheckQueueName(queue));
                             return backend.MoveDelayed(item, queue);
                           });
  });
}

absl::StatusOr<int> LoadScheduleFile(Backend& backend, const std::string& path);

struct ScheduleAddArgs {
  std::string name;
  std::string cron;
  std::string every;
  std::string class_name;
  std::string queue;
  std::string args;
  std::string description;
};

void AddSchedule(CLI::App& app, GlobalOptions& global, int* exit_code) {
  CLI::App* schedule = app.add_subcommand(
      "schedule",
      "Recurring schedules: list, add, remove, load (where resque-scheduler keeps its "
      "dynamic ones)");
  schedule->require_subcommand(1);
  schedule->fallthrough();

  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = schedule->add_subcommand("list", "Every schedule, by name");
  list->add_flag("--json", *as_json,
                 "Print JSON: [{\"name\",\"config\",\"last_enqueued_at\",\"next\"}, ...]");
  list->callback([&global, exit_code, as_json] {
    const bool json_out = *as_json;
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<std::vector<ScheduleEntry>> all = backend.Schedules();
      if (!all.ok()) return Fail(all.status());
      std::string out = json_out ? "[" : "";
      const absl::Time now = absl::Now();
      for (size_t i = 0; i < all->size(); ++i) {
        const ScheduleEntry& e = (*all)[i];
        absl::StatusOr<RecurringJob> job = ParseRecurring(e.name, e.config);
        std::string next;
        if (job.ok()) {
          absl::StatusOr<Occurrences> when = Occurrences::Of(*job);
          if (when.ok()) {
            // Where a scheduler would count from now, on the schedule's own rhythm.
            const absl::Time from =
                e.last_occurrence.has_value()
                    ? when->SkipTo(absl::FromUnixSeconds(*e.last_occurrence), now)
                    : now;
            if (std::optional<absl::Time> n = when->Next(from)) next = FormatIsoTime(*n);
          }
        }
        if (json_out) {
          const std::string config =
              json::Validate(e.config).ok() ? e.config : json::Quote(e.config);
          absl::StrAppendFormat(&out,
                                "%s{\"name\":%s,\"config\":%s,\"last_enqueued_at\":%s,\"next\":%s}",
                                i == 0 ? "" : ",", json::Quote(e.name), config,
                                json::Quote(e.last_enqueued_at), json::Quote(next));
        } else if (job.ok()) {
          absl::StrAppendFormat(
              &out, "%s\t%s\t%s\t%s\t%s\tnext %s\tlast %s\n", EscapeField(e.name),
              EscapeField(job->cron.empty() ? "every " + job->every : "cron " + job->cron),
              EscapeField(job->queue), EscapeField(job->class_name), EscapeField(job->args),
              next.empty() ? "never" : next,
              e.last_enqueued_at.empty() ? "never" : EscapeField(e.last_enqueued_at));
        } else {
          absl::StrAppendFormat(&out, "%s\t(invalid: %s)\n", EscapeField(e.name),
                                EscapeField(std::string(job.status().message())));
        }
      }
      if (json_out) out += "]\n";
      std::fputs(out.c_str(), stdout);
      return 0;
    });
  });

  auto add = std::make_shared<ScheduleAddArgs>();
  CLI::App* add_cmd = schedule->add_subcommand("add", "Add a schedule, or change one");
  add_cmd->add_option("name", add->name, "The schedule's name")->required();
  add_cmd->add_option("--cron", add->cron,
                      "A cron expression: 5 fields, or 6 with seconds first, a zone at its end "
                      "allowed (\"0 3 * * * Europe/Paris\")");
  add_cmd->add_option("--every", add->every, "An interval: 30s, 5m, 1h30m, 1d, 1w");
  add_cmd->add_option("--class", add->class_name, "The job class")->required();
  add_cmd->add_option("--queue", add->queue, "The queue the jobs go to")->required();
  add_cmd->add_option("--args", add->args, "The job's args (JSON; an object is one argument)");
  add_cmd->add_option("--description", add->description, "Shown by resque-web's Schedule tab");
  add_cmd->callback([&global, exit_code, add] {
    RecurringJob job{.name = add->name,
                     .class_name = add->class_name,
                     .queue = add->queue,
                     .args = "[]",
                     .description = add->description,
                     .cron = add->cron,
                     .every = add->every};
    if (!add->args.empty()) {
      absl::StatusOr<std::string> args = ArgsFromUserJson(add->args);
      if (!args.ok()) {
        *exit_code =
            Fail(absl::InvalidArgumentError(absl::StrFormat("--args: %s", args.status().message())),
                 kUsageExit);
        return;
      }
      job.args = *std::move(args);
    }
    // Checked as a stored one is read: the same errors, before anything is written.
    absl::StatusOr<RecurringJob> checked = ParseRecurring(job.name, EncodeRecurring(job));
    if (!checked.ok()) {
      *exit_code = Fail(checked.status(), kUsageExit);
      return;
    }
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<bool> changed = backend.SetSchedule(job.name, EncodeRecurring(*checked),
                                                         absl::ToUnixSeconds(absl::Now()));
      if (!changed.ok()) return Fail(changed.status());
      std::printf("%s %s\n", *changed ? "stored" : "unchanged", job.name.c_str());
      return 0;
    });
  });

  auto remove_name = std::make_shared<std::string>();
  CLI::App* rm = schedule->add_subcommand("remove", "Remove a schedule");
  rm->add_option("name", *remove_name, "The schedule's name")->required();
  rm->callback([&global, exit_code, remove_name] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<bool> removed = backend.RemoveSchedule(*remove_name);
      if (!removed.ok()) return Fail(removed.status());
      if (!*removed) {
        return Fail(absl::NotFoundError(absl::StrFormat("no schedule \"%s\"", *remove_name)));
      }
      std::printf("removed %s\n", remove_name->c_str());
      return 0;
    });
  });

  auto file = std::make_shared<std::string>();
  CLI::App* load =
      schedule->add_subcommand("load", "Store every schedule of a schedule file (the others stay)");
  load->add_option("file", *file, "JSON: schedules by name, resque-scheduler's keys")->required();
  load->callback([&global, exit_code, file] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::StatusOr<int> loaded = LoadScheduleFile(backend, *file);
      if (!loaded.ok()) {
        return Fail(loaded.status(), absl::IsInvalidArgument(loaded.status()) ? kUsageExit : 1);
      }
      std::printf("%d stored\n", *loaded);
      return 0;
    });
  });
}

struct SchedulerArgs {
  double interval = 1;
  int64_t lock_timeout = 180;
  std::optional<int64_t> catch_up;  // default: the larger of 300 s and the lock timeout
  int batch = 100;
  std::string name;
  std::string schedule_file;
  bool once = false;
  std::string log_level;
};

// Stores every schedule of a schedule file (a JSON object of configs by name); one that is
// already stored as it is keeps counting its occurrences. Returns how many changed.
absl::StatusOr<int> LoadScheduleFile(Backend& backend, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrFormat("schedule file %s: cannot be read", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<RecurringJob>> jobs = ParseScheduleFile(text.str());
  if (!jobs.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("schedule file %s: %s", path, jobs.status().message()));
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  int changed = 0;
  for (const RecurringJob& job : *jobs) {
    RESQUE_ASSIGN_OR_RETURN(bool c, backend.SetSchedule(job.name, EncodeRecurring(job), now));
    changed += c ? 1 : 0;
  }
  return changed;
}

int RunScheduler(const GlobalOptions& global, const SchedulerArgs& args) {
  LogLevel level = global.log_level();
  if (!args.log_level.empty()) level = ParseLogLevel(args.log_level).value_or(level);
  const LogSink log = StderrLogSink(level);
  SchedulerOptions options{
      .name = args.name,
      .poll_interval = absl::Seconds(args.interval),
      .lock_timeout = absl::Seconds(args.lock_timeout),
      .batch = args.batch,
      .catch_up = absl::Seconds(args.catch_up.value_or(std::max<int64_t>(300, args.lock_timeout))),
      .log = log};
  if (absl::Status s = Scheduler::CheckOptions(options); !s.ok()) return Fail(s, kUsageExit);
  return WithBackend(global, [&](Backend& backend) {
    if (!args.schedule_file.empty()) {
      absl::StatusOr<int> loaded = LoadScheduleFile(backend, args.schedule_file);
      if (!loaded.ok()) return Fail(loaded.status());
      log(LogLevel::kInfo, absl::StrFormat("schedule file %s: %d schedules new or changed",
                                           args.schedule_file, *loaded));
    }
    Scheduler scheduler(backend, options);
    if (args.once) {
      absl::StatusOr<SchedulerTurn> turn = scheduler.RunOnce();
      if (!turn.ok()) return Fail(turn.status());
      if (turn->leader) (void)backend.ReleaseSchedulerLock(scheduler.name());
      std::printf("%s: %lld moved, %lld failed, %lld enqueued by schedules\n",
                  turn->leader ? "leader" : "not the leader", static_cast<long long>(turn->moved),
                  static_cast<long long>(turn->failed), static_cast<long long>(turn->enqueued));
      return 0;
    }
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::atomic<bool> done{false};
    std::thread signals([&] {
      const timespec tick{0, 100 * 1000 * 1000};
      while (!done.load()) {
        const int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig <= 0) continue;
        log(LogLevel::kInfo,
            absl::StrFormat("SIG%s: releasing the lock and exiting", sigabbrev_np(sig)));
        scheduler.Stop();
      }
    });
    log(LogLevel::kInfo, absl::StrFormat("scheduler %s started", scheduler.name()));
    absl::Status result = scheduler.Run();
    done.store(true);
    signals.join();
    return result.ok() ? 0 : Fail(result);
  });
}

}  // namespace

void AddScheduler(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<SchedulerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "scheduler",
      "Move due delayed jobs to their queues until a signal (TERM, INT, QUIT) stops it");
  cmd->add_option("-i,--interval", args->interval,
                  "Longest seconds between looks at the delayed queue")
      ->envname("RESQUE_SCHEDULER_INTERVAL")
      ->check(Seconds(0.01, kMaxSeconds))
      ->capture_default_str();
  cmd->add_option("--lock-timeout", args->lock_timeout,
                  "Seconds the leader lock lasts unless renewed: how long a fleet waits for a new "
                  "leader after one died")
      ->envname("LOCK_TIMEOUT")
      ->check(WholeNumber(1, 365 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--catch-up", args->catch_up,
                  "Seconds within which a missed occurrence of a recurring schedule is still "
                  "enqueued (late, once); older ones are skipped (default: 300, or the lock "
                  "timeout if longer)")
      ->check(WholeNumber(1, 365 * 24 * 3600));
  cmd->add_option("--schedule", args->schedule_file,
                  "A schedule file (JSON: schedules by name, resque-scheduler's keys) to store "
                  "before it starts")
      ->envname("RESQUE_SCHEDULE");
  cmd->add_option("--batch", args->batch, "Most jobs one atomic move takes")
      ->envname("DELAYED_REQUEUE_BATCH_SIZE")
      ->check(WholeNumber(1, kMaxBatch))
      ->capture_default_str();
  cmd->add_option("--name", args->name, "Leader lock holder name (default HOST:PID)");
  cmd->add_flag("--once", args->once, "One turn, then exit (prints what it moved)");
  cmd->add_option("--log-level", args->log_level, "error, warning, info or debug (default from -v)")
      ->envname("LOG_LEVEL")
      ->check(OneOf({"error", "warning", "warn", "info", "debug"}));
  cmd->callback([&global, args, exit_code] { *exit_code = RunScheduler(global, *args); });
  AddDelayed(app, global, exit_code);
  AddSchedule(app, global, exit_code);
}

}  // namespace resque::cli
