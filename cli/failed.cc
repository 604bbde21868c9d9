// `resque failed list|count|retry INDEX|retry-all|remove INDEX|clear|queues [--queue Q]
// [--class C] [--remove] [--again] [--start N] [--count N] [--json]`.
// With `--failure-backend redis_multi_queue` failures are kept per queue: --queue picks one
// queue's list (needed by retry and remove), and without it list, count, retry-all and clear
// work on every queue's. With one list --queue takes the records of that queue.
// A record that does not decode is named on stderr and stepped over; the exit code is then
// kSkippedExit, so that a script tells "done, but not everything" from "done" and from "failed".
// Records are peers' too and may hold anything: text output escapes each field (core/names.h),
// so that each record stays one line.
#include <cstdio>
#include <limits>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/names.h"
#include "core/failure.h"
#include "core/json.h"
#include "core/names.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque::cli {
namespace {

// The exit code when the command did all it could but stepped over records (docs/cli.md).
constexpr int kSkippedExit = 3;  // 2 is every command's usage error
// Past any list Redis can hold (2^32 - 1 elements), and within what an int64_t index holds.
constexpr int64_t kMaxIndex = int64_t{1} << 40;

struct Args {
  std::string action;
  int64_t index = -1;
  std::string queue;
  std::string job_class;
  bool remove = false;
  bool again = false;
  int64_t start = 0;
  int64_t count = -1;  // every record
  bool json = false;

  FailureFilter filter() const { return {.queue = queue, .job_class = job_class}; }
};

// " of queue Q" where a list is one queue's.
std::string OfList(const FailureEntry& entry) {
  return entry.list.empty() ? "" : absl::StrFormat(" of queue %s", EscapeField(entry.list));
}

std::string ClassOf(const Failure& f) {
  absl::StatusOr<Payload> payload = DecodePayload(f.payload);
  return payload.ok() ? EscapeField(payload->class_name) : "?";
}

// Names a record that does not decode on stderr; a record listed by index can be removed by it.
void ReportUndecodable(const FailureEntry& entry) {
  std::fprintf(stderr, "resque: %s; skipped (`resque failed remove %lld%s` drops it)\n",
               std::string(entry.failure.status().message()).c_str(),
               static_cast<long long>(entry.index),
               entry.list.empty() ? "" : (" --queue " + EscapeField(entry.list)).c_str());
}

absl::StatusOr<int> List(FailureStore& failures, const Args& args) {
  const int64_t count = args.count < 0 ? std::numeric_limits<int64_t>::max() : args.count;
  if (args.json) std::printf("[");
  bool first = true;
  int64_t skipped = 0;
  absl::Status walked =
      failures.ForEach(args.filter(), args.start, count, [&](const FailureEntry& entry) {
        if (!entry.failure.ok()) {
          ++skipped;
          ReportUndecodable(entry);
          return absl::OkStatus();
        }
        const Failure& f = *entry.failure;
        if (args.json) {
          std::printf("%s%s", first ? "" : ",", EncodeFailure(f).c_str());
        } else {
          // The index is within the record's list: what retry and remove take (with --queue).
          std::printf("%lld\t%s\t%s\t%s: %s\t%s%s\n", static_cast<long long>(entry.index),
                      EscapeField(f.failed_at).c_str(), EscapeField(f.queue).c_str(),
                      EscapeField(f.exception).c_str(), EscapeField(f.error).c_str(),
                      EscapeJsonField(f.payload).c_str(),
                      f.retried_at ? ("\tretried " + EscapeField(*f.retried_at)).c_str() : "");
        }
        first = false;
        return absl::OkStatus();
      });
  if (args.json) std::printf("]\n");
  if (!walked.ok()) return walked;
  return skipped > 0 ? kSkippedExit : 0;
}

absl::StatusOr<int> Count(FailureStore& failures, const Args& args) {
  // The list lengths answer unless a filter has to read the records.
  if (args.job_class.empty() &&
      (args.queue.empty() || failures.layout() == FailureLayout::kPerQueue)) {
    absl::StatusOr<int64_t> n = failures.Count(args.queue);
    if (!n.ok()) return n.status();
    std::printf("%lld\n", static_cast<long long>(*n));
    return 0;
  }
  int64_t n = 0;
  int64_t skipped = 0;
  absl::Status walked = failures.ForEach(args.filter(), 0, std::numeric_limits<int64_t>::max(),
                                         [&](const FailureEntry& entry) {
                                           if (entry.failure.ok()) {
                                             ++n;
                                           } else {
                                             ++skipped;
                                             ReportUndecodable(entry);
                                           }
                                           return absl::OkStatus();
                                         });
  if (!walked.ok()) return walked;
  std::printf("%lld\n", static_cast<long long>(n));
  return skipped > 0 ? kSkippedExit : 0;
}

// Prints each record retried (stdout) or skipped (stderr) as it goes, then a summary, also
// when a backend error stopped the walk halfway.
absl::StatusOr<int> RetryAll(FailureStore& failures, const Args& args) {
  RetryAllResult counts;
  absl::StatusOr<RetryAllResult> result = failures.RetryAll(
      {.filter = args.filter(), .remove = args.remove, .again = args.again},
      [&](const FailureEntry& entry, RetryOutcome outcome, std::string_view reason) {
        switch (outcome) {
          case RetryOutcome::kRetried:
            ++counts.retried;
            std::printf("retried\t%lld\t%s\t%s\n", static_cast<long long>(entry.index),
                        EscapeField(entry.failure->queue).c_str(), ClassOf(*entry.failure).c_str());
            break;
          case RetryOutcome::kAlreadyRetried:
            ++counts.already_retried;
            break;
          case RetryOutcome::kSkipped:
            ++counts.skipped;
            if (!entry.failure.ok()) {
              ReportUndecodable(entry);
            } else {
              std::fprintf(stderr, "resque: failure %lld%s cannot be retried: %s; skipped\n",
                           static_cast<long long>(entry.index), OfList(entry).c_str(),
                           std::string(reason).c_str());
            }
            break;
          case RetryOutcome::kGone:
            ++counts.gone;
            std::fprintf(stderr,
                         "resque: failure %lld%s was removed or changed meanwhile; not retried\n",
                         static_cast<long long>(entry.index), OfList(entry).c_str());
            break;
        }
        std::fflush(stdout);
      });
  std::string summary = absl::StrFormat("retried %d", counts.retried);
  if (args.remove) summary += " (removed from the failed list)";
  if (counts.skipped > 0) summary += absl::StrFormat(", skipped %d", counts.skipped);
  if (counts.already_retried > 0) {
    summary +=
        absl::StrFormat(", %d retried before (--again retries them)", counts.already_retried);
  }
  if (counts.gone > 0) summary += absl::StrFormat(", %d removed or changed meanwhile", counts.gone);
  std::printf("%s\n", summary.c_str());
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrFormat("retry-all stopped after %d retried: %s", counts.retried,
                                        result.status().message()));
  }
  return counts.skipped > 0 ? kSkippedExit : 0;
}

// The flags an action takes beyond --queue and --json.
absl::Status CheckFlags(const Args& args) {
  const std::string& a = args.action;
  auto refuse = [&](const char* flag, const char* takers) {
    return absl::InvalidArgumentError(
        absl::StrFormat("failed %s takes no %s (%s do)", a, flag, takers));
  };
  if ((args.start != 0 || args.count >= 0) && a != "list") {
    return refuse("--start or --count", "list");
  }
  if ((args.remove || args.again) && a != "retry" && a != "retry-all") {
    return refuse("--remove or --again", "retry and retry-all");
  }
  if (args.again && a == "retry") return refuse("--again", "retry-all");
  if (!args.job_class.empty() && (a == "clear" || a == "queues")) {
    return refuse("--class", "list, count, retry, retry-all and remove");
  }
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
      std::printf("%s\t%lld\n", EscapeField((*queues)[i]).c_str(), static_cast<long long>(*n));
    }
  }
  if (args.json) std::printf("}\n");
  return absl::OkStatus();
}

absl::StatusOr<int> Run(FailureStore& failures, const Args& args) {
  RESQUE_RETURN_IF_ERROR(CheckFlags(args));
  if (args.action == "count") return Count(failures, args);
  if (args.action == "list") return List(failures, args);
  if (args.action == "queues") {
    RESQUE_RETURN_IF_ERROR(Queues(failures, args));
    return 0;
  }
  if (args.action == "retry-all") return RetryAll(failures, args);
  if (args.action == "clear") {
    RESQUE_RETURN_IF_ERROR(failures.Clear(args.queue));
    return 0;
  }
  if (args.index < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("failed %s needs an INDEX (0 is the oldest)", args.action));
  }
  if (args.action == "retry") {
    absl::StatusOr<Failure> retried = failures.Retry(args.index, args.filter(), args.remove);
    if (absl::IsDataLoss(retried.status())) {
      return absl::DataLossError(absl::StrFormat(
          "%s (`resque failed remove %d%s` drops it)", retried.status().message(), args.index,
          failures.layout() == FailureLayout::kPerQueue ? " --queue " + EscapeField(args.queue)
                                                        : ""));
    }
    RESQUE_ASSIGN_OR_RETURN(Failure f, std::move(retried));
    std::printf("retried\t%lld\t%s\t%s%s\n", static_cast<long long>(args.index),
                EscapeField(f.queue).c_str(), ClassOf(f).c_str(),
                args.remove ? "\t(removed from the failed list)" : "");
    return 0;
  }
  // "remove": the only action left
  RESQUE_RETURN_IF_ERROR(failures.Remove(args.index, args.filter()).status());
  std::printf("removed\t%lld\n", static_cast<long long>(args.index));
  return 0;
}

// A filter given empty would take every record: `failed clear --queue "$Q"` with Q unset must
// not clear them all. Any other value is looked for as it is, since peers may have written it.
absl::Status CheckFilterGiven(const CLI::Option& option, const std::string& value,
                              const char* name) {
  if (option.count() == 0 || !value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("%s is empty: give a name, or leave %s out for every record", name, name));
}

}  // namespace

void AddFailed(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("failed", "List, count, retry, remove or clear failures");
  cmd->add_option("action", args->action, "list|count|retry|retry-all|remove|clear|queues")
      ->required()
      ->check(CLI::IsMember({"list", "count", "retry", "retry-all", "remove", "clear", "queues"}));
  cmd->add_option("index", args->index, "For retry and remove: the failure's index")
      ->check(WholeNumber(0, kMaxIndex));
  const CLI::Option* queue =
      cmd->add_option("-q,--queue", args->queue,
                      "The failures of this job queue: with --failure-backend redis_multi_queue "
                      "its list (<ns>:<queue>_failed), with one list the records of that queue");
  const CLI::Option* job_class =
      cmd->add_option("--class", args->job_class,
                      "Only the failures whose payload is of this class (list, count, retry-all; a "
                      "check for retry and remove)");
  cmd->add_flag("--remove", args->remove,
                "retry, retry-all: remove each retried record from the failed list (in one step "
                "with its push), so that no later retry queues it again");
  cmd->add_flag("--again", args->again,
                "retry-all: retry records that were retried before too (left alone otherwise)");
  cmd->add_option("--start", args->start, "list: the first index shown (0 is the oldest)")
      ->check(WholeNumber(0, kMaxIndex));
  cmd->add_option("--count", args->count, "list: how many records at most (of each list)")
      ->check(WholeNumber(0, kMaxIndex));
  cmd->add_flag("--json", args->json, "Print JSON (list, queues)");
  cmd->callback([&global, args, exit_code, queue, job_class] {
    for (const absl::Status& s : {CheckFilterGiven(*queue, args->queue, "--queue"),
                                  CheckFilterGiven(*job_class, args->job_class, "--class")}) {
      if (!s.ok()) {
        *exit_code = Fail(s, kUsageExit);
        return;
      }
    }
    *exit_code = WithBackend(global, [&](Backend& backend) {
      FailureStore failures(backend);
      absl::StatusOr<int> code = Run(failures, *args);
      return code.ok() ? *code : Fail(code.status());
    });
  });
}

}  // namespace resque::cli
