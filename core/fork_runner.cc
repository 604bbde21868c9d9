#include "core/fork_runner.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace resque {
namespace {

// How often a slot looks at the timer while its child runs: the job timeout is decided on the
// worker's timer, which a test may move by hand.
constexpr absl::Duration kTimerCheckPeriod = absl::Milliseconds(100);

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The report: "O" complete, "S<reason>" skipped, "F<exception>\n<error>" failed, where a failure
// with a backtrace is "B<exception>\n<error length>\n<error><line>\n<line>\n...": the error may
// hold newlines, a backtrace line holds none.
std::string EncodeReport(const JobOutcome& outcome) {
  switch (outcome.kind) {
    case JobOutcome::kComplete:
      return "O";
    case JobOutcome::kSkipped:
      return "S" + outcome.error;
    case JobOutcome::kFailed:
      break;
  }
  if (outcome.backtrace.empty()) return "F" + outcome.exception + "\n" + outcome.error;
  std::string report =
      absl::StrFormat("B%s\n%d\n%s", outcome.exception, outcome.error.size(), outcome.error);
  for (const std::string& line : outcome.backtrace) absl::StrAppend(&report, line, "\n");
  return report;
}

JobOutcome DecodeReport(const std::string& report) {
  if (report[0] == 'O') return {};
  if (report[0] == 'S') return {JobOutcome::kSkipped, "", report.substr(1)};
  const size_t nl = report.find('\n');
  if (nl == std::string::npos) return {JobOutcome::kFailed, report.substr(1), ""};
  JobOutcome failed{JobOutcome::kFailed, report.substr(1, nl - 1), report.substr(nl + 1)};
  if (report[0] != 'B') return failed;
  // The child wrote the report itself: a length that does not fit is a report cut short.
  const size_t length_end = report.find('\n', nl + 1);
  size_t length = 0;
  if (length_end == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(report).substr(nl + 1, length_end - nl - 1), &length) ||
      length > report.size() - length_end - 1) {
    return failed;
  }
  failed.error = report.substr(length_end + 1, length);
  failed.backtrace = absl::StrSplit(report.substr(length_end + 1 + length), '\n');
  if (!failed.backtrace.empty() && failed.backtrace.back().empty()) failed.backtrace.pop_back();
  return failed;
}

}  // namespace

std::optional<JobOutcome> ForkRunner::Run(const std::function<JobOutcome()>& child,
                                          JobCancel& cancel) {
  // ChildProcess::Fork resets the control signals in the child, ends it with _exit (also when
  // the job calls exit()), and keeps the commands the job starts in the child's process group,
  // which a cancel kills whole.
  absl::StatusOr<std::unique_ptr<ChildProcess>> forked = ChildProcess::Fork(
      [&child](int report_fd) { return WriteAll(report_fd, EncodeReport(child())) ? 0 : 1; });
  if (!forked.ok()) {
    return JobOutcome{JobOutcome::kFailed, "resque::ForkError",
                      std::string(forked.status().message())};
  }
  ChildProcess& process = **forked;
  cancel.AttachChild(&process);  // a kill that came between the fork and here is honoured now
  const ChildExit exit = AwaitChild(cancel, process);
  cancel.DetachChild();

  // A child that reported and exited cleanly did its job, even if a kill came too late to stop it.
  if (exit.Succeeded() && !process.report().empty()) return DecodeReport(process.report());
  if (cancel.reason() != CancelReason::kNone) return std::nullopt;
  if (exit.signal != 0) {
    return JobOutcome{JobOutcome::kFailed, "resque::JobCrashed",
                      absl::StrFormat("job process killed by signal %d (%s)", exit.signal,
                                      strsignal(exit.signal))};
  }
  return JobOutcome{
      JobOutcome::kFailed, "resque::JobExited",
      absl::StrFormat("job process exited with code %d before finishing", exit.exit_code)};
}

ChildExit ForkRunner::AwaitChild(JobCancel& cancel, ChildProcess& process) {
  const absl::Time deadline =
      timeout_ > absl::ZeroDuration() ? timer_.MonotonicNow() + timeout_ : absl::InfiniteFuture();
  for (;;) {
    const absl::Duration left = deadline - timer_.MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      cancel.Cancel(CancelReason::kTimeout);  // kills the child's group
      return process.Terminate();
    }
    // The wait is on the real clock (it is how a child is watched); the deadline is the timer's.
    const absl::Time until = deadline == absl::InfiniteFuture()
                                 ? absl::InfiniteFuture()
                                 : absl::Now() + std::min(left, kTimerCheckPeriod);
    absl::StatusOr<ChildExit> exit = process.Wait(until);
    if (exit.ok()) return *exit;
    if (!absl::IsDeadlineExceeded(exit.status())) return process.Terminate();
  }
}

}  // namespace resque
