// `resque queues | workers | stats [--json]`: what resque-web's overview shows. Names and records
// come from Redis, where peers may have written anything: text output escapes each field
// (core/names.h) so that every queue and worker stays one line, and --json stays JSON.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "core/json.h"
#include "core/names.h"

namespace resque::cli {
namespace {

// Every queue's size, in two round trips however many queues (Backend::QueueSummaries); a queue
// whose key holds another type fails the command with that key's error, as a single read would.
absl::StatusOr<std::vector<QueueSummary>> QueueSizes(Backend& backend) {
  absl::StatusOr<std::vector<QueueSummary>> queues =
      backend.QueueSummaries(Backend::QueueParts::kSizesOnly);
  if (!queues.ok()) return queues.status();
  for (const QueueSummary& q : *queues) {
    if (!q.error.empty()) return absl::FailedPreconditionError(q.error);
  }
  return queues;
}

absl::Status Queues(Backend& backend, bool json) {
  absl::StatusOr<std::vector<QueueSummary>> queues = QueueSizes(backend);
  if (!queues.ok()) return queues.status();
  std::string out = json ? "{" : "";
  for (size_t i = 0; i < queues->size(); ++i) {
    const QueueSummary& q = (*queues)[i];
    if (json) {
      absl::StrAppendFormat(&out, "%s%s:%d", i ? "," : "", json::Quote(q.name), q.size);
    } else {
      absl::StrAppendFormat(&out, "%s\t%d\n", EscapeField(q.name), q.size);
    }
  }
  if (json) out += "}\n";
  std::fputs(out.c_str(), stdout);
  return absl::OkStatus();
}

// Workers are read in two round trips however many (Backend::WorkerSummaries); a worker key a
// peer overwrote with another type reads as missing (idle, started unknown), not as an error.
absl::Status Workers(Backend& backend, bool json) {
  absl::StatusOr<std::vector<WorkerSummary>> workers = backend.WorkerSummaries();
  if (!workers.ok()) return workers.status();
  // Paused: marked so by its USR2 (ours only), or every worker while pause-all-workers is set
  // (docs/wire-format.md, "Paused workers").
  absl::StatusOr<bool> paused = backend.AllWorkersPaused();
  absl::StatusOr<std::vector<std::string>> marked = backend.PausedWorkers();
  if (!marked.ok()) return marked.status();
  const auto is_paused = [&](const std::string& id) {
    return (paused.ok() && *paused) || std::binary_search(marked->begin(), marked->end(), id);
  };
  std::string out = json ? "[" : "";
  for (size_t i = 0; i < workers->size(); ++i) {
    const WorkerSummary& w = (*workers)[i];
    if (json) {
      // A record a peer wrote that is not JSON is shown as a string, so the output stays JSON.
      const std::string job_json = !w.job.has_value()            ? "null"
                                   : json::Validate(*w.job).ok() ? *w.job
                                                                 : json::Quote(*w.job);
      absl::StrAppendFormat(&out, "%s{\"id\":%s,\"started\":%s,\"job\":%s,\"paused\":%s}",
                            i ? "," : "", json::Quote(w.id), json::Quote(w.started.value_or("")),
                            job_json, is_paused(w.id) ? "true" : "false");
    } else {
      absl::StrAppendFormat(&out, "%s\tstarted %s\t%s\n", EscapeField(w.id),
                            EscapeField(w.started.value_or("?")),
                            w.job.has_value() ? "working on " + EscapeJsonField(*w.job)
                            : is_paused(w.id) ? "paused"
                                              : "idle");
    }
  }
  if (json) out += "]\n";
  std::fputs(out.c_str(), stdout);
  // On stderr, so that the list itself keeps its form for scripts.
  if (!json && paused.ok() && *paused) {
    std::fputs("all workers are paused (pause-all-workers is set; `resque resume` clears it)\n",
               stderr);
  }
  return absl::OkStatus();
}

// A bounded number of round trips at any number of queues and workers (six).
absl::Status Stats(Backend& backend, bool json) {
  absl::StatusOr<int64_t> processed = backend.GetStat("processed");
  absl::StatusOr<int64_t> failed = backend.GetStat("failed");
  absl::StatusOr<std::vector<QueueSummary>> queues = QueueSizes(backend);
  absl::StatusOr<std::vector<WorkerSummary>> workers = backend.WorkerSummaries();
  for (const absl::Status& s :
       {processed.status(), failed.status(), queues.status(), workers.status()}) {
    if (!s.ok()) return s;
  }
  int64_t pending = 0;
  for (const QueueSummary& q : *queues) pending += q.size;
  int64_t working = 0;
  for (const WorkerSummary& w : *workers) working += w.job.has_value() ? 1 : 0;
  if (json) {
    std::printf(
        "{\"processed\":%lld,\"failed\":%lld,\"pending\":%lld,\"queues\":%zu,\"workers\":%zu,"
        "\"working\":%lld}\n",
        static_cast<long long>(*processed), static_cast<long long>(*failed),
        static_cast<long long>(pending), queues->size(), workers->size(),
        static_cast<long long>(working));
  } else {
    std::printf(
        "processed\t%lld\nfailed\t%lld\npending\t%lld\nqueues\t%zu\nworkers\t%zu\n"
        "working\t%lld\n",
        static_cast<long long>(*processed), static_cast<long long>(*failed),
        static_cast<long long>(pending), queues->size(), workers->size(),
        static_cast<long long>(working));
  }
  return absl::OkStatus();
}

void Add(CLI::App& app, GlobalOptions& global, int* exit_code, const char* name,
         const char* description, absl::Status (*run)(Backend&, bool)) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([&global, json, exit_code, run] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      absl::Status s = run(backend, *json);
      return s.ok() ? 0 : Fail(s);
    });
  });
}

}  // namespace

void AddInspect(CLI::App& app, GlobalOptions& global, int* exit_code) {
  Add(app, global, exit_code, "queues", "List queues and their sizes", &Queues);
  Add(app, global, exit_code, "workers", "List registered workers and what they work on", &Workers);
  Add(app, global, exit_code, "stats", "Show processed/failed totals, pending jobs, workers",
      &Stats);
}

}  // namespace resque::cli
