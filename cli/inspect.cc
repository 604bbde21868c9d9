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

absl::Status Queues(Backend& backend, bool json) {
  absl::StatusOr<std::vector<std::string>> names = backend.Queues();
  if (!names.ok()) return names.status();
  std::string out = json ? "{" : "";
  for (size_t i = 0; i < names->size(); ++i) {
    absl::StatusOr<int64_t> size = backend.Size((*names)[i]);
    if (!size.ok()) return size.status();
    if (json) {
      absl::StrAppendFormat(&out, "%s%s:%d", i ? "," : "", json::Quote((*names)[i]), *size);
    } else {
      absl::StrAppendFormat(&out, "%s\t%d\n", EscapeField((*names)[i]), *size);
    }
  }
  if (json) out += "}\n";
  std::fputs(out.c_str(), stdout);
  return absl::OkStatus();
}

absl::Status Workers(Backend& backend, bool json) {
  absl::StatusOr<std::vector<std::string>> ids = backend.Workers();
  if (!ids.ok()) return ids.status();
  // Paused: marked so by its USR2 (ours only), or every worker while pause-all-workers is set
  // (docs/wire-format.md, "Paused workers").
  absl::StatusOr<bool> paused = backend.AllWorkersPaused();
  absl::StatusOr<std::vector<std::string>> marked = backend.PausedWorkers();
  if (!marked.ok()) return marked.status();
  const auto is_paused = [&](const std::string& id) {
    return (paused.ok() && *paused) || std::binary_search(marked->begin(), marked->end(), id);
  };
  std::string out = json ? "[" : "";
  for (size_t i = 0; i < ids->size(); ++i) {
    const std::string& id = (*ids)[i];
    absl::StatusOr<std::optional<std::string>> started = backend.WorkerStarted(id);
    absl::StatusOr<std::optional<std::string>> job = backend.WorkerJob(id);
    if (!started.ok()) return started.status();
    if (!job.ok()) return job.status();
    if (json) {
      // A record a peer wrote that is not JSON is shown as a string, so the output stays JSON.
      const std::string job_json = !job->has_value()            ? "null"
                                   : json::Validate(**job).ok() ? **job
                                                                : json::Quote(**job);
      absl::StrAppendFormat(&out, "%s{\"id\":%s,\"started\":%s,\"job\":%s,\"paused\":%s}",
                            i ? "," : "", json::Quote(id), json::Quote(started->value_or("")),
                            job_json, is_paused(id) ? "true" : "false");
    } else {
      absl::StrAppendFormat(&out, "%s\tstarted %s\t%s\n", EscapeField(id),
                            EscapeField(started->value_or("?")),
                            job->has_value() ? "working on " + EscapeJsonField(**job)
                            : is_paused(id)  ? "paused"
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

absl::Status Stats(Backend& backend, bool json) {
  absl::StatusOr<int64_t> processed = backend.GetStat("processed");
  absl::StatusOr<int64_t> failed = backend.GetStat("failed");
  absl::StatusOr<std::vector<std::string>> queues = backend.Queues();
  absl::StatusOr<std::vector<std::string>> workers = backend.Workers();
  for (const absl::Status& s :
       {processed.status(), failed.status(), queues.status(), workers.status()}) {
    if (!s.ok()) return s;
  }
  int64_t pending = 0;
  for (const std::string& q : *queues) {
    absl::StatusOr<int64_t> size = backend.Size(q);
    if (!size.ok()) return size.status();
    pending += *size;
  }
  int64_t working = 0;
  for (const std::string& w : *workers) {
    absl::StatusOr<std::optional<std::string>> job = backend.WorkerJob(w);
    if (!job.ok()) return job.status();
    working += job->has_value() ? 1 : 0;
  }
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
