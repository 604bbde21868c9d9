// `resque status ID [--watch] [--json]`: "Status of ID is: N (name)". The exit code tells a
// script what it needs without reading the line: 0 complete (or not finished, without --watch),
// kStatusFailedExit failed, kStatusUnknownExit never tracked or expired, kStatusTimeoutExit at
// --watch's --timeout, 1 for an error (Redis).
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "core/failure.h"
#include "core/status.h"

namespace resque::cli {
namespace {

void Print(const std::string& id, const JobStatus& status, bool json) {
  if (json) {
    std::printf("%s\n", EncodeStatus(status).c_str());
  } else {
    std::string retry;
    if (status.state == JobState::kWaiting && status.retry_at.has_value()) {
      retry = absl::StrFormat(", retry %d at %s after: %s", status.retry_count,
                              FormatIsoTime(absl::FromUnixSeconds(*status.retry_at)), status.error);
    }
    std::printf("Status of %s is: %d (%.*s%s)\n", id.c_str(), static_cast<int>(status.state),
                static_cast<int>(JobStateName(status.state).size()),
                JobStateName(status.state).data(), retry.c_str());
  }
  std::fflush(stdout);
}

bool Finished(JobState state) { return state == JobState::kFailed || state == JobState::kComplete; }

int ExitCodeOf(JobState state) { return state == JobState::kFailed ? kStatusFailedExit : 0; }

struct StatusArgs {
  std::string id;
  bool watch = false, json = false;
  double timeout = 0;
};

int Watch(Backend& backend, const StatusArgs& args) {
  StatusTracker tracker(backend);
  const absl::Time deadline =
      args.timeout > 0 ? absl::Now() + absl::Seconds(args.timeout) : absl::InfiniteFuture();
  std::optional<JobState> last;
  for (;;) {
    absl::StatusOr<JobStatus> status = tracker.Get(args.id);
    if (absl::IsNotFound(status.status())) return Fail(status.status(), kStatusUnknownExit);
    if (!status.ok()) return Fail(status.status());
    if (!last.has_value() || *last != status->state) Print(args.id, *status, args.json);
    last = status->state;
    if (!args.watch || Finished(status->state)) return ExitCodeOf(status->state);
    if (absl::Now() >= deadline) {
      return Fail(absl::DeadlineExceededError("job still not finished"), kStatusTimeoutExit);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace

void AddStatus(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* cmd = app.add_subcommand("status", "Show a tracked job's status");
  cmd->add_option("id", args->id, "Job id")->required();
  cmd->add_flag("--watch", args->watch, "Print each change until the job fails or completes");
  cmd->add_option("--timeout", args->timeout, "With --watch: give up after SEC (0: never)")
      ->check(Seconds(0, kMaxSeconds));
  cmd->add_flag("--json", args->json, "Print the status JSON");
  cmd->callback([&global, args, exit_code] {
    *exit_code = WithBackend(global, [&](Backend& backend) { return Watch(backend, *args); });
  });
}

}  // namespace resque::cli
