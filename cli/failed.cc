// `resque failed list|count|retry INDEX|retry-all|remove INDEX|clear|queues [--queue Q] [--json]`.
// With `--failure-backend redis_multi_queue` failures are kept per queue: --queue picks one
// queue's list (needed by retry and remove), and without it list, count, retry-all and clear
// work on every queue's.
#include <cstdio>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "core/failure.h"
#include "core/json.h"

namespace resque::cli {
namespace {

struct Args {
  std::string action;
  int64_t index = -1;
  std::string queue;
  bool json = false;
};

// The failure lists `list` prints: the one list, the --queue one, or every queue's.
absl::StatusOr<std::vector<std::string>> ListsToShow(FailureStore& failures, const Args& args) {
  if (!args.queue.empty() || failures.layout() == FailureLayout::kOneList) {
    return std::vector<std::string>{args.queue};
  }
  return failures.Queues();
}

absl::Status List(FailureStore& failures, const Args& args) {
  absl::StatusOr<std::vector<std::string>> lists = ListsToShow(failures, args);
  if (!lists.ok()) return lists.status();
  if (args.json) std::printf("[");
  bool first = true;
  for (const std::string& queue : *lists) {
    absl::StatusOr<int64_t> n = failures.Count(queue);
    if (!n.ok()) return n.status();
    absl::StatusOr<std::vector<Failure>> list = failures.List(0, *n, queue);
    if (!list.ok()) return list.status();
    for (size_t i = 0; i < list->size(); ++i) {
      const Failure& f = (*list)[i];
      if (args.json) {
        std::printf("%s%s", first ? "" : ",", EncodeFailure(f).c_str());
      } else {
        // The index is within the record's list: what retry and remove take (with --queue).
        std::printf("%zu\t%s\t%s\t%s: %s\t%s%s\n", i, f.failed_at.c_str(), f.queue.c_str(),
                    f.exception.c_str(), f.error.c_str(), f.payload.c_str(),
                    f.retried_at ? ("\tretried " + *f.retried_at).c_str() : "");
      }
      first = false;
    }
  }
  if (args.json) std::printf("]\n");
  return absl::OkStatus();
}

absl::Status Queues(FailureStore& failures, const Args& args) {
  if (failures.layout() == FailureLayout::kOneList) {
    return absl::FailedPreconditionError(
        "failures are kept in one list: `failed queues` needs --failure-backend "
        "redis_multi_queue");
  }
  absl::StatusOr<std::vector<std::string>> queues = failures.Queues();
  if (!queues.ok()) return queues.status();
  if (args.json) std::printf("{");
  for (size_t i = 0; i < queues->size(); ++i) {
    absl::StatusOr<int64_t> n = failures.Count((*queues)[i]);
    if (!n.ok()) return n.status();
    if (args.json) {
      std::printf("%s%s:%lld", i ? "," : "", json::Quote((*queues)[i]).c_str(),
                  static_cast<long long>(*n));
    } else {
      std::printf("%s\t%lld\n", (*queues)[i].c_str(), static_cast<long long>(*n));
    }
  }
  if (args.json) std::printf("}\n");
  return absl::OkStatus();
}

absl::Status Run(FailureStore& failures, const Args& args) {
  if (args.action == "count") {
    absl::StatusOr<int64_t> n = failures.Count(args.queue);
    if (!n.ok()) return n.status();
    std::printf("%lld\n", static_cast<long long>(*n));
    return absl::OkStatus();
  }
  if (args.action == "list") return List(failures, args);
  if (args.action == "queues") return Queues(failures, args);
  if (args.action == "retry-all") {
    absl::StatusOr<int64_t> n = failures.RetryAll(args.queue);
    if (!n.ok()) return n.status();
    std::printf("retried %lld\n", static_cast<long long>(*n));
    return absl::OkStatus();
  }
  if (args.action == "clear") return failures.Clear(args.queue);
  if (args.index < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("failed %s needs an INDEX (0 is the oldest)", args.action));
  }
  if (args.action == "retry") return failures.Retry(args.index, args.queue);
  return failures.Remove(args.index, args.queue);  // "remove": the only action left
}

}  // namespace

void AddFailed(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("failed", "List, count, retry, remove or clear failures");
  cmd->add_option("action", args->action, "list|count|retry|retry-all|remove|clear|queues")
      ->required()
      ->check(CLI::IsMember({"list", "count", "retry", "retry-all", "remove", "clear", "queues"}));
  cmd->add_option("index", args->index, "For retry and remove: the failure's index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-q,--queue", args->queue,
                  "With --failure-backend redis_multi_queue: the job queue whose failures "
                  "(<ns>:<queue>_failed) are meant");
  cmd->add_flag("--json", args->json, "Print JSON (list, queues)");
  cmd->callback([&global, args, exit_code] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      FailureStore failures(backend);
      absl::Status s = Run(failures, *args);
      return s.ok() ? 0 : Fail(s);
    });
  });
}

}  // namespace resque::cli
