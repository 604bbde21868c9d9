#include "web/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/json.h"

namespace resque::web {
namespace {

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  absl::StrAppend(&out, "# HELP ", AbslView(name), " ", AbslView(help), "\n# TYPE ", AbslView(name),
                  " ", AbslView(type), "\n");
}

std::string Value(double v) { return absl::StrFormat("%.17g", v); }

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size();) {
    // Prometheus refuses a whole scrape over one label that is not UTF-8: such bytes (a peer's
    // queue name) become U+FFFD.
    const size_t n = json::Utf8SequenceLength(value, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(value.substr(i, n));
      i += n;
      continue;
    }
    const char c = value[i++];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MetricsText(const Snapshot& s, absl::Duration scrape) {
  const Totals& t = s.totals;
  std::string out;
  Family(out, "resque_processed_total", "counter", "Jobs processed (stat:processed).");
  absl::StrAppend(&out, "resque_processed_total ", t.processed, "\n");
  Family(out, "resque_failed_total", "counter", "Jobs failed (stat:failed).");
  absl::StrAppend(&out, "resque_failed_total ", t.failed, "\n");
  Family(out, "resque_queue_size", "gauge", "Jobs waiting in the queue.");
  for (const QueueView& q : s.queues) {
    if (!q.error.empty()) continue;  // its key holds another type: no size to report
    absl::StrAppend(&out, "resque_queue_size{queue=\"", EscapeLabelValue(q.name), "\"} ", q.size,
                    "\n");
  }
  Family(out, "resque_queue_oldest_job_age_seconds", "gauge",
         "Seconds since the oldest job of the queue was enqueued (payloads with queue_time).");
  for (const QueueView& q : s.queues) {
    if (!q.oldest_age.has_value()) continue;
    absl::StrAppend(&out, "resque_queue_oldest_job_age_seconds{queue=\"", EscapeLabelValue(q.name),
                    "\"} ", Value(*q.oldest_age), "\n");
  }
  Family(out, "resque_queues", "gauge", "Queues known (the queues set).");
  absl::StrAppend(&out, "resque_queues ", s.queues.size(), "\n");
  Family(out, "resque_pending_jobs", "gauge", "Jobs waiting in every queue.");
  absl::StrAppend(&out, "resque_pending_jobs ", t.pending, "\n");
  Family(out, "resque_workers", "gauge", "Registered workers by state.");
  absl::StrAppend(&out, "resque_workers{state=\"busy\"} ", t.busy, "\n");
  absl::StrAppend(&out, "resque_workers{state=\"idle\"} ", t.idle, "\n");
  absl::StrAppend(&out, "resque_workers{state=\"paused\"} ", t.paused, "\n");
  Family(out, "resque_all_workers_paused", "gauge", "1 while pause-all-workers is set.");
  absl::StrAppend(&out, "resque_all_workers_paused ", t.all_paused ? 1 : 0, "\n");
  Family(out, "resque_failed_jobs", "gauge", "Records in the failure list(s).");
  absl::StrAppend(&out, "resque_failed_jobs ", t.failed_list, "\n");
  Family(out, "resque_delayed_jobs", "gauge", "Jobs waiting in the delayed queue.");
  absl::StrAppend(&out, "resque_delayed_jobs ", t.delayed, "\n");
  Family(out, "resque_scheduler_lag_seconds", "gauge",
         "How long the earliest delayed job has been due (0 when none is due; absent when the "
         "delayed queue is empty).");
  if (t.scheduler_lag.has_value()) {
    absl::StrAppend(&out, "resque_scheduler_lag_seconds ", Value(*t.scheduler_lag), "\n");
  }
  Family(out, "resque_scrape_duration_seconds", "gauge", "How long this scrape read the backend.");
  absl::StrAppend(&out, "resque_scrape_duration_seconds ", Value(absl::ToDoubleSeconds(scrape)),
                  "\n");
  return out;
}

}  // namespace resque::web
