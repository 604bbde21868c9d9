// `resque failed list|count|retry INDEX|retry-all|remove INDEX|clear [--json]`.
#include <cstdio>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "core/failure.h"

namespace resque::cli {
namespace {

struct Args {
  std::string action;
  int64_t index = -1;
  bool json = false;
};

absl::Status Run(FailureStore& failures, const Args& args) {
  if (args.action == "count") {
    absl::StatusOr<int64_t> n = failures.Count();
    if (!n.ok()) return n.status();
    std::printf("%lld\n", static_cast<long long>(*n));
    return absl::OkStatus();
  }
  if (args.action == "list") {
    absl::StatusOr<int64_t> n = failures.Count();
    if (!n.ok()) return n.status();
    absl::StatusOr<std::vector<Failure>> list = failures.List(0, *n);
    if (!list.ok()) return list.status();
    if (args.json) std::printf("[");
    for (size_t i = 0; i < list->size(); ++i) {
      const Failure& f = (*list)[i];
      if (args.json) {
        std::printf("%s%s", i ? "," : "", EncodeFailure(f).c_str());
      } else {
        std::printf("%zu\t%s\t%s\t%s: %s\t%s%s\n", i, f.failed_at.c_str(), f.queue.c_str(),
                    f.exception.c_str(), f.error.c_str(), f.payload.c_str(),
                    f.retried_at ? ("\tretried " + *f.retried_at).c_str() : "");
      }
    }
    if (args.json) std::printf("]\n");
    return absl::OkStatus();
  }
  if (args.action == "retry-all") {
    absl::StatusOr<int64_t> n = failures.RetryAll();
    if (!n.ok()) return n.status();
    std::printf("retried %lld\n", static_cast<long long>(*n));
    return absl::OkStatus();
  }
  if (args.action == "clear") return failures.Clear();
  if (args.index < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("failed %s needs an INDEX (0 is the oldest)", args.action));
  }
  if (args.action == "retry") return failures.Retry(args.index);
  return failures.Remove(args.index);  // "remove": the only action left after the check
}

}  // namespace

void AddFailed(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("failed", "List, count, retry, remove or clear failures");
  cmd->add_option("action", args->action, "list|count|retry|retry-all|remove|clear")
      ->required()
      ->check(CLI::IsMember({"list", "count", "retry", "retry-all", "remove", "clear"}));
  cmd->add_option("index", args->index, "For retry and remove: the failure's index")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print JSON (list)");
  cmd->callback([&global, args, exit_code] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      FailureStore failures(backend);
      absl::Status s = Run(failures, *args);
      return s.ok() ? 0 : Fail(s);
    });
  });
}

}  // namespace resque::cli
