#include "web/dashboard.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/job_filter.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/recurring.h"
#include "core/status_macros.h"
#include "core/worker_id.h"

namespace resque::web {
namespace {

// `raw` when it is JSON, else the bytes as a JSON string: a peer's record stays visible and the
// answer stays JSON.
std::string JsonOrString(std::string_view raw) {
  return json::Validate(raw).ok() ? std::string(raw) : json::Quote(raw);
}

// JSON has no inf or NaN: a value a peer's odd date made infinite is unknown.
std::string Number(std::optional<double> v) {
  return v.has_value() && std::isfinite(*v) ? absl::StrFormat("%.3f", *v) : "null";
}

std::string OptionalQuote(const std::optional<std::string>& v) {
  return v.has_value() ? json::Quote(*v) : "null";
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

double UnixSeconds(absl::Time t) { return static_cast<double>(absl::ToUnixMicros(t)) / 1e6; }

std::optional<double> AgeOfHead(const std::optional<std::string>& head, absl::Time now) {
  if (!head.has_value()) return std::nullopt;
  absl::StatusOr<Payload> p = DecodePayload(*head);
  if (!p.ok() || !p->queue_time.has_value()) return std::nullopt;
  return std::max(0.0, UnixSeconds(now) - *p->queue_time);
}

// "host:pid:queue,queue": Ruby's form, which every peer writes; ours adds ":slot" with several
// slots (core/worker_id.h).
void SplitWorkerId(WorkerView& w) {
  if (absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(w.id); parts.ok()) {
    w.host = parts->host;
    w.pid = absl::StrCat(parts->pid);
    if (parts->slot.has_value()) absl::StrAppend(&w.pid, " slot ", *parts->slot);
    w.queues = absl::StrSplit(parts->queues, ',', absl::SkipEmpty());
    return;
  }
  const size_t a = w.id.find(':');
  const size_t b = a == std::string::npos ? a : w.id.find(':', a + 1);
  if (b == std::string::npos) {
    w.host = w.id;
    return;
  }
  w.host = w.id.substr(0, a);
  w.pid = w.id.substr(a + 1, b - a - 1);
  const std::string rest = w.id.substr(b + 1);
  for (size_t from = 0; from <= rest.size();) {
    const size_t comma = std::min(rest.find(',', from), rest.size());
    if (comma > from) w.queues.push_back(rest.substr(from, comma - from));
    from = comma + 1;
  }
}

std::optional<absl::Time> RunAtOf(const std::string& working_json) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(working_json);
  if (!fields.ok()) return std::nullopt;
  const json::Field* run_at = json::FindField(*fields, "run_at");
  if (run_at == nullptr) return std::nullopt;
  if (run_at->type == json::Type::kNumber) {
    absl::StatusOr<double> v = json::DoubleValue(run_at->raw);
    // Seconds() saturates: a run_at of 1e300 is the infinite future, never an overflow.
    if (v.ok() && std::isfinite(*v)) return absl::UnixEpoch() + absl::Seconds(*v);
    return std::nullopt;
  }
  absl::StatusOr<std::string> text = json::StringValue(run_at->raw);
  if (!text.ok()) return std::nullopt;
  return ParsePeerTime(*text);
}

// The payload's class, args and id as JSON members (`"class":..,"args":..,"id":..`), nulls
// when it does not decode.
std::string PayloadMembers(std::string_view raw) {
  absl::StatusOr<Payload> p = DecodePayload(raw);
  if (!p.ok()) return "\"class\":null,\"args\":null,\"id\":null";
  return absl::StrCat("\"class\":", json::Quote(p->class_name), ",\"args\":", p->args,
                      ",\"id\":", p->id.empty() ? "null" : json::Quote(p->id));
}

std::string WorkerJobJson(const std::optional<std::string>& job) {
  if (!job.has_value()) return "null";
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(*job);
  if (!fields.ok()) {
    return absl::StrCat("{\"queue\":null,\"run_at\":null,\"class\":null,\"args\":null,\"id\":null,",
                        "\"raw\":", json::Quote(*job), "}");
  }
  const json::Field* queue = json::FindField(*fields, "queue");
  const json::Field* run_at = json::FindField(*fields, "run_at");
  const json::Field* payload = json::FindField(*fields, "payload");
  return absl::StrCat("{\"queue\":", queue != nullptr ? queue->raw : "null",
                      ",\"run_at\":", run_at != nullptr ? run_at->raw : "null", ",",
                      PayloadMembers(payload != nullptr ? payload->raw : ""),
                      ",\"raw\":", json::Quote(*job), "}");
}

std::string WorkerJson(const WorkerView& w) {
  std::string queues = "[";
  for (size_t i = 0; i < w.queues.size(); ++i) {
    absl::StrAppend(&queues, i ? "," : "", json::Quote(w.queues[i]));
  }
  queues += "]";
  return absl::StrCat("{\"id\":", json::Quote(w.id), ",\"host\":", json::Quote(w.host),
                      ",\"pid\":", json::Quote(w.pid), ",\"queues\":", queues,
                      ",\"started\":", json::Quote(w.started), ",\"state\":", json::Quote(w.state),
                      ",\"paused\":", w.paused ? "true" : "false",
                      ",\"job\":", WorkerJobJson(w.job), ",\"running_for\":", Number(w.running_for),
                      ",\"heartbeat_age\":", Number(w.heartbeat_age),
                      ",\"processed\":", w.processed, ",\"failed\":", w.failed, "}");
}

// Far past any list Redis can hold, and far from overflowing start + count.
constexpr int64_t kMaxStart = int64_t{1} << 40;

absl::Status PageArgs(int64_t start, int64_t count) {
  if (start < 0 || start > kMaxStart) {
    return absl::InvalidArgumentError(absl::StrFormat("start must be 0 to %d", kMaxStart));
  }
  if (count < 1 || count > kMaxPage) {
    return absl::InvalidArgumentError(absl::StrFormat("count must be 1 to %d", kMaxPage));
  }
  return absl::OkStatus();
}

std::string_view LayoutName(FailureLayout layout) {
  return layout == FailureLayout::kPerQueue ? "per_queue" : "one_list";
}

std::string FailureJson(const FailureEntry& e) {
  std::string out = absl::StrCat("{\"index\":", e.index, ",\"list\":", json::Quote(e.list), ",");
  if (!e.failure.ok()) {
    absl::StrAppend(&out,
                    "\"failed_at\":null,\"queue\":null,\"class\":null,\"args\":null,\"id\":null,"
                    "\"exception\":null,\"error\":",
                    json::Quote(std::string(e.failure.status().message())),
                    ",\"backtrace\":[],\"worker\":null,\"retried_at\":null");
  } else {
    const Failure& f = *e.failure;
    std::string backtrace = "[";
    for (size_t i = 0; i < f.backtrace.size(); ++i) {
      absl::StrAppend(&backtrace, i ? "," : "", json::Quote(f.backtrace[i]));
    }
    backtrace += "]";
    absl::StrAppend(
        &out, "\"failed_at\":", json::Quote(f.failed_at), ",\"queue\":", json::Quote(f.queue), ",",
        PayloadMembers(f.payload), ",\"exception\":", json::Quote(f.exception),
        ",\"error\":", json::Quote(f.error), ",\"backtrace\":", backtrace,
        ",\"worker\":", json::Quote(f.worker), ",\"retried_at\":", OptionalQuote(f.retried_at));
  }
  absl::StrAppend(&out, ",\"raw\":", json::Quote(e.raw), "}");
  return out;
}

// The record at `index` of `list`, checked to be `raw`.
absl::Status CheckRecord(Backend& backend, int64_t index, std::string_view list,
                         std::string_view raw) {
  if (index < 0) return absl::InvalidArgumentError("index must be 0 or more");
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> at, backend.Failures(index, 1, list));
  if (at.empty() || at[0] != raw) {
    return absl::NotFoundError(absl::StrFormat(
        "failure %d is no longer the record shown (the list changed): reload", index));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

std::optional<absl::Time> ParseAnyPeerTime(std::string_view text) {
  if (absl::StatusOr<absl::Time> t = ParseHeartbeat(text); t.ok()) return *t;
  absl::Time t;
  std::string err;
  const std::string s(text);
  for (const char* format : {"%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%E*S%Ez",
                             "%Y-%m-%d %H:%M:%E*S%Ez", "%Y/%m/%d %H:%M:%S UTC"}) {
    if (absl::ParseTime(format, s, absl::UTCTimeZone(), &t, &err)) return t;
  }
  // php-resque: strftime('%a %b %d %H:%M:%S %Z %Y'), whose zone name absl cannot read.
  const std::string php = absl::StrReplaceAll(s, {{" UTC ", " +0000 "}, {" GMT ", " +0000 "}});
  if (absl::ParseTime("%a %b %d %H:%M:%S %z %Y", php, absl::UTCTimeZone(), &t, &err)) return t;
  // node-resque: JavaScript's Date#toString, "Tue Dec 01 2026 10:00:00 GMT+0000 (Coordinated
  // Universal Time)".
  const std::string js = s.substr(0, s.find(" ("));
  if (absl::ParseTime("%a %b %d %Y %H:%M:%S GMT%z", js, absl::UTCTimeZone(), &t, &err)) return t;
  return std::nullopt;
}

}  // namespace

std::optional<absl::Time> ParsePeerTime(std::string_view text) {
  std::optional<absl::Time> t = ParseAnyPeerTime(text);
  // absl reads "infinite-past"; no peer means that.
  if (!t.has_value() || *t == absl::InfinitePast() || *t == absl::InfiniteFuture()) {
    return std::nullopt;
  }
  return t;
}

absl::StatusOr<Snapshot> TakeSnapshot(Backend& backend, absl::Time now) {
  Snapshot s{.now = now};
  RESQUE_ASSIGN_OR_RETURN(std::vector<QueueSummary> queues, backend.QueueSummaries());
  RESQUE_ASSIGN_OR_RETURN(std::vector<WorkerSummary> workers, backend.WorkerSummaries());
  RESQUE_ASSIGN_OR_RETURN(s.totals.processed, backend.GetStat("processed"));
  RESQUE_ASSIGN_OR_RETURN(s.totals.failed, backend.GetStat("failed"));
  RESQUE_ASSIGN_OR_RETURN(s.totals.failed_list, backend.FailureCount());
  RESQUE_ASSIGN_OR_RETURN(s.totals.delayed, backend.DelayedCount());
  RESQUE_ASSIGN_OR_RETURN(std::vector<DelayedTime> first, backend.DelayedTimes(0, 1));
  RESQUE_ASSIGN_OR_RETURN(auto beats, backend.Heartbeats());
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> marked, backend.PausedWorkers());
  RESQUE_ASSIGN_OR_RETURN(s.totals.all_paused, backend.AllWorkersPaused());
  if (!first.empty()) {
    s.totals.scheduler_lag = std::max(0.0, UnixSeconds(now) - static_cast<double>(first[0].at));
  }
  for (QueueSummary& q : queues) {
    s.totals.pending += q.size;
    s.queues.push_back({.name = std::move(q.name),
                        .size = q.size,
                        .oldest_age = AgeOfHead(q.head, now),
                        .error = std::move(q.error)});
  }
  std::sort(beats.begin(), beats.end());
  std::sort(marked.begin(), marked.end());
  for (WorkerSummary& summary : workers) {
    WorkerView w{.id = std::move(summary.id)};
    SplitWorkerId(w);
    w.started = summary.started.value_or("");
    w.job = std::move(summary.job);
    w.processed = summary.processed;
    w.failed = summary.failed;
    const bool paused =
        s.totals.all_paused || std::binary_search(marked.begin(), marked.end(), w.id);
    w.paused = paused;  // a paused worker may still be finishing its job: busy and paused
    w.state = w.job.has_value() ? "busy" : paused ? "paused" : "idle";
    if (w.job.has_value()) {
      if (std::optional<absl::Time> at = RunAtOf(*w.job)) {
        w.running_for = std::max(0.0, Seconds(now - *at));
      }
    }
    auto beat = std::lower_bound(beats.begin(), beats.end(), std::make_pair(w.id, std::string()));
    if (beat != beats.end() && beat->first == w.id) {
      if (std::optional<absl::Time> at = ParsePeerTime(beat->second)) {
        w.heartbeat_age = std::max(0.0, Seconds(now - *at));
      }
    }
    (w.state == "busy" ? s.totals.busy : w.state == "paused" ? s.totals.paused : s.totals.idle)++;
    s.workers.push_back(std::move(w));
  }
  return s;
}

std::string TotalsJson(const Totals& t, size_t queues, size_t workers) {
  return absl::StrCat("{\"processed\":", t.processed, ",\"failed\":", t.failed,
                      ",\"failed_list\":", t.failed_list, ",\"pending\":", t.pending,
                      ",\"queues\":", queues, ",\"workers\":", workers, ",\"busy\":", t.busy,
                      ",\"idle\":", t.idle, ",\"paused\":", t.paused, ",\"delayed\":", t.delayed,
                      ",\"scheduler_lag\":", Number(t.scheduler_lag),
                      ",\"all_paused\":", t.all_paused ? "true" : "false", "}");
}

std::string QueuesJson(const Snapshot& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.queues.size(); ++i) {
    const QueueView& q = s.queues[i];
    absl::StrAppend(&out, i ? "," : "", "{\"name\":", json::Quote(q.name), ",\"size\":", q.size,
                    ",\"oldest_age\":", Number(q.oldest_age),
                    ",\"error\":", q.error.empty() ? "null" : json::Quote(q.error), "}");
  }
  return out + "]";
}

std::string WorkersJson(const Snapshot& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.workers.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", WorkerJson(s.workers[i]));
  }
  return out + "]";
}

std::string OverviewJson(const Snapshot& s, const std::vector<Sample>& history) {
  std::string samples = "[";
  for (size_t i = 0; i < history.size(); ++i) {
    absl::StrAppend(&samples, i ? "," : "", "{\"t\":", history[i].t,
                    ",\"processed\":", history[i].processed, ",\"failed\":", history[i].failed,
                    "}");
  }
  samples += "]";
  return absl::StrCat("{\"now\":", Number(UnixSeconds(s.now)),
                      ",\"totals\":", TotalsJson(s.totals, s.queues.size(), s.workers.size()),
                      ",\"queues\":", QueuesJson(s), ",\"workers\":", WorkersJson(s),
                      ",\"history\":", samples, "}");
}

std::string StatsJson(const Snapshot& s, std::string_view backend_name) {
  std::string workers = "[";
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const WorkerView& w = s.workers[i];
    absl::StrAppend(&workers, i ? "," : "", "{\"id\":", json::Quote(w.id),
                    ",\"processed\":", w.processed, ",\"failed\":", w.failed, "}");
  }
  workers += "]";
  return absl::StrCat("{\"totals\":", TotalsJson(s.totals, s.queues.size(), s.workers.size()),
                      ",\"workers\":", workers, ",\"backend\":", json::Quote(backend_name), "}");
}

absl::StatusOr<std::string> QueueJobsJson(Backend& backend, std::string_view queue, int64_t start,
                                          int64_t count) {
  RESQUE_RETURN_IF_ERROR(PageArgs(start, count));
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> names, backend.Queues());
  if (!std::binary_search(names.begin(), names.end(), queue)) {
    return absl::NotFoundError(absl::StrFormat("no queue \"%s\"", std::string(queue)));
  }
  RESQUE_ASSIGN_OR_RETURN(int64_t size, backend.Size(queue));
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> items, backend.Peek(queue, start, count));
  std::string jobs = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StatusOr<Payload> p = DecodePayload(items[i]);
    absl::StrAppend(&jobs, i ? "," : "", "{\"index\":", start + static_cast<int64_t>(i), ",",
                    PayloadMembers(items[i]),
                    ",\"enqueued_at\":", Number(p.ok() ? p->queue_time : std::nullopt),
                    ",\"raw\":", json::Quote(items[i]), "}");
  }
  jobs += "]";
  return absl::StrCat("{\"name\":", json::Quote(queue), ",\"size\":", size, ",\"start\":", start,
                      ",\"count\":", count, ",\"jobs\":", jobs, "}");
}

absl::StatusOr<std::string> FailedJson(Backend& backend, const FailedQuery& q) {
  RESQUE_RETURN_IF_ERROR(PageArgs(q.start, q.count));
  FailureStore store(backend);
  const FailureLayout layout = store.layout();
  // The queues the filter offers: those with a failure list (per queue), or every queue.
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> queues,
                          layout == FailureLayout::kPerQueue ? store.Queues() : backend.Queues());
  // A queue without a failure list has nothing to show, but the page still answers.
  const bool no_such_list = !q.queue.empty() && layout == FailureLayout::kPerQueue &&
                            !std::binary_search(queues.begin(), queues.end(), q.queue);
  RESQUE_ASSIGN_OR_RETURN(int64_t total, store.Count());
  const bool filtered = !q.queue.empty() || !q.job_class.empty() || !q.exception.empty() ||
                        layout == FailureLayout::kPerQueue;
  std::string failures = "[";
  int64_t matched = 0;
  const auto add = [&](const FailureEntry& e) {
    absl::StrAppend(&failures, failures.size() > 1 ? "," : "", FailureJson(e));
  };
  const FailureFilter filter{.queue = q.queue, .job_class = q.job_class};
  if (!filtered) {
    RESQUE_RETURN_IF_ERROR(store.ForEach(filter, q.start, q.count, [&](const FailureEntry& e) {
      add(e);
      return absl::OkStatus();
    }));
  } else if (!no_such_list) {
    // Every record is read (a page of 500 at a time) so that `matched` counts them all.
    RESQUE_RETURN_IF_ERROR(
        store.ForEach(filter, 0, std::numeric_limits<int64_t>::max(), [&](const FailureEntry& e) {
          if (!q.exception.empty() &&
              (!e.failure.ok() || e.failure->exception.find(q.exception) == std::string::npos)) {
            return absl::OkStatus();
          }
          if (matched >= q.start && matched - q.start < q.count) add(e);
          ++matched;
          return absl::OkStatus();
        }));
  }
  std::string queue_names = "[";
  for (size_t i = 0; i < queues.size(); ++i) {
    absl::StrAppend(&queue_names, i ? "," : "", json::Quote(queues[i]));
  }
  queue_names += "]";
  return absl::StrCat("{\"total\":", total,
                      ",\"matched\":", filtered ? absl::StrCat(matched) : "null",
                      ",\"start\":", q.start, ",\"count\":", q.count,
                      ",\"layout\":", json::Quote(LayoutName(layout)), ",\"queues\":", queue_names,
                      ",\"failures\":", failures, "]}");
}

absl::StatusOr<std::string> DelayedJson(Backend& backend, int64_t start, int64_t count) {
  RESQUE_RETURN_IF_ERROR(PageArgs(start, count));
  RESQUE_ASSIGN_OR_RETURN(int64_t total, backend.DelayedCount());
  // One more than asked, to tell whether a next page exists.
  RESQUE_ASSIGN_OR_RETURN(std::vector<DelayedTime> all, backend.DelayedTimes(start, count + 1));
  const bool more = static_cast<int64_t>(all.size()) > count;
  if (more) all.pop_back();
  std::string times = "[";
  for (size_t i = 0; i < all.size(); ++i) {
    const DelayedTime& t = all[i];
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> items, backend.DelayedItems(t.at, 0, 50));
    std::string jobs = "[";
    for (size_t j = 0; j < items.size(); ++j) {
      absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(items[j]);
      const auto member = [&](std::string_view key) -> std::string {
        if (!fields.ok()) return "null";
        const json::Field* f = json::FindField(*fields, key);
        return f != nullptr ? f->raw : "null";
      };
      absl::StrAppend(&jobs, j ? "," : "", "{", PayloadMembers(items[j]),
                      ",\"queue\":", member("queue"), ",\"retry_count\":", member("retry_count"),
                      ",\"error\":", member("error_message"), ",\"raw\":", json::Quote(items[j]),
                      "}");
    }
    jobs += "]";
    absl::StrAppend(&times, i ? "," : "", "{\"at\":", t.at, ",\"size\":", t.size,
                    ",\"jobs\":", jobs, "}");
  }
  times += "]";
  return absl::StrCat("{\"total\":", total, ",\"more\":", more ? "true" : "false",
                      ",\"start\":", start, ",\"count\":", count, ",\"times\":", times, "}");
}

absl::StatusOr<std::string> SchedulesJson(Backend& backend, absl::Time now) {
  RESQUE_ASSIGN_OR_RETURN(std::vector<ScheduleEntry> all, backend.Schedules());
  std::string out = "{\"schedules\":[";
  for (size_t i = 0; i < all.size(); ++i) {
    const ScheduleEntry& e = all[i];
    absl::StatusOr<RecurringJob> job = ParseRecurring(e.name, e.config);
    std::optional<double> next;
    std::string error;
    if (job.ok()) {
      absl::StatusOr<Occurrences> when = Occurrences::Of(*job);
      if (when.ok()) {
        const absl::Time from = e.last_occurrence.has_value()
                                    ? when->SkipTo(absl::FromUnixSeconds(*e.last_occurrence), now)
                                    : now;
        if (std::optional<absl::Time> n = when->Next(from)) next = UnixSeconds(*n);
      } else {
        error = std::string(when.status().message());
      }
    } else {
      error = std::string(job.status().message());
    }
    const auto text = [&](const std::string& v) { return v.empty() ? "null" : json::Quote(v); };
    std::optional<double> last;
    if (e.last_occurrence.has_value()) last = static_cast<double>(*e.last_occurrence);
    absl::StrAppend(&out, i ? "," : "", "{\"name\":", json::Quote(e.name));
    if (job.ok()) {
      absl::StrAppend(&out, ",\"class\":", json::Quote(job->class_name),
                      ",\"queue\":", json::Quote(job->queue), ",\"args\":", job->args,
                      ",\"cron\":", text(job->cron), ",\"every\":", text(job->every),
                      ",\"description\":", json::Quote(job->description));
    } else {
      absl::StrAppend(&out, ",\"class\":null,\"queue\":null,\"args\":null,\"cron\":null,",
                      "\"every\":null,\"description\":\"\"");
    }
    absl::StrAppend(&out, ",\"next\":", Number(next), ",\"last\":", Number(last),
                    ",\"last_enqueued_at\":", text(e.last_enqueued_at),
                    ",\"config\":", JsonOrString(e.config), ",\"error\":", text(error), "}");
  }
  return out + "]}";
}

absl::StatusOr<int64_t> RemoveQueueJob(Backend& backend, std::string_view queue,
                                       std::string_view payload) {
  absl::StatusOr<Payload> p = DecodePayload(payload);
  if (!p.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the job to remove does not decode: ", p.status().message()));
  }
  JobFilter filter{.class_name = p->class_name, .args = p->args};
  if (!p->id.empty()) filter.id = p->id;
  return backend.RemoveJobs(queue, filter);
}

absl::Status RetryFailure(Backend& backend, int64_t index, std::string_view list,
                          std::string_view raw) {
  RESQUE_RETURN_IF_ERROR(CheckRecord(backend, index, list, raw));
  FailureStore store(backend);
  return store.Retry(index, FailureFilter{.queue = std::string(list)}, false).status();
}

absl::Status RemoveFailure(Backend& backend, int64_t index, std::string_view list,
                           std::string_view raw) {
  if (index < 0) return absl::InvalidArgumentError("index must be 0 or more");
  // One step that checks the record is still `raw` where it was read (or nearby).
  RESQUE_ASSIGN_OR_RETURN(
      bool done, backend.EditFailure({.index = index, .record = raw, .replacement = ""}, list));
  if (!done) {
    return absl::NotFoundError(absl::StrFormat(
        "failure %d is no longer the record shown (the list changed): reload", index));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RetryAllFailures(Backend& backend, std::string_view queue,
                                             std::string_view job_class) {
  FailureStore store(backend);
  RESQUE_ASSIGN_OR_RETURN(
      RetryAllResult r,
      store.RetryAll(RetryAllOptions{
          .filter = {.queue = std::string(queue), .job_class = std::string(job_class)}}));
  return absl::StrCat("{\"retried\":", r.retried, ",\"skipped\":", r.skipped,
                      ",\"already_retried\":", r.already_retried, ",\"gone\":", r.gone, "}");
}

absl::StatusOr<int64_t> ClearFailures(Backend& backend, std::string_view queue) {
  FailureStore store(backend);
  if (queue.empty() || store.layout() == FailureLayout::kPerQueue) {
    RESQUE_ASSIGN_OR_RETURN(int64_t n, store.Count(queue));
    RESQUE_RETURN_IF_ERROR(store.Clear(queue));
    return n;
  }
  // One list: the queue's records, newest first so that the indexes read stay true.
  std::vector<std::pair<int64_t, std::string>> found;
  RESQUE_RETURN_IF_ERROR(store.ForEach(FailureFilter{.queue = std::string(queue)}, 0,
                                       std::numeric_limits<int64_t>::max(),
                                       [&](const FailureEntry& e) {
                                         if (e.failure.ok()) found.emplace_back(e.index, e.raw);
                                         return absl::OkStatus();
                                       }));
  int64_t removed = 0;
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    RESQUE_ASSIGN_OR_RETURN(bool done,
                            backend.EditFailure({.index = it->first, .record = it->second}, ""));
    removed += done ? 1 : 0;
  }
  return removed;
}

}  // namespace resque::web
