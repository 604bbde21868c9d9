#include "core/fork_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"

namespace resque {
namespace {

// How often a slot checks that its child is still there while the child's report pipe stays
// open (a grandchild may hold it).
constexpr absl::Duration kChildCheckPeriod = absl::Milliseconds(100);

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Appends what can be read from non-blocking `fd` now; false once it is at EOF (or broken).
bool ReadAvailable(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Whether child `pid` has ended; it is left unreaped, so its pid cannot be recycled yet.
bool ChildEnded(pid_t pid, bool block) {
  siginfo_t info{};
  const int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  while (waitid(P_PID, static_cast<id_t>(pid), &info, flags) != 0) {
    if (errno != EINTR) return true;  // ECHILD: someone reaped it (SIGCHLD ignored)
  }
  return info.si_pid == pid;
}

// The report: "O" complete, "S<reason>" skipped, "F<exception>\n<error>" failed.
std::string EncodeReport(const JobOutcome& outcome) {
  switch (outcome.kind) {
    case JobOutcome::kComplete:
      return "O";
    case JobOutcome::kSkipped:
      return "S" + outcome.error;
    case JobOutcome::kFailed:
      break;
  }
  return "F" + outcome.exception + "\n" + outcome.error;
}

JobOutcome DecodeReport(const std::string& report) {
  if (report[0] == 'O') return {};
  if (report[0] == 'S') return {JobOutcome::kSkipped, "", report.substr(1)};
  const size_t nl = report.find('\n');
  if (nl == std::string::npos) return {JobOutcome::kFailed, report.substr(1), ""};
  return {JobOutcome::kFailed, report.substr(1, nl - 1), report.substr(nl + 1)};
}

// In the child, after fork(): runs the job, writes its report, ends the process.
[[noreturn]] void BeChild(const std::function<JobOutcome()>& child, int report_fd) {
  // Signals reach the job's process with their default effect: a handler of the parent would
  // run here against the parent's state, and a blocked mask would make them ignored.
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT}) {
    signal(sig, SIG_DFL);
  }
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
  // A job that calls exit() would run this program's atexit handlers and static destructors in
  // the child, against state the parent owns (servers it started, files it writes). Registered
  // last, this handler runs first and ends the child with the job's exit code.
  on_exit(
      [](int code, void*) {
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(code);
      },
      nullptr);
  const std::string report = EncodeReport(child());
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(WriteAll(report_fd, report) ? 0 : 1);
}

}  // namespace

std::optional<JobOutcome> ForkRunner::Run(const std::function<JobOutcome()>& child,
                                          JobCancel& cancel) {
  // Output still buffered in this process would be written twice: by the child too.
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  pid_t pid = -1;
  {
    std::lock_guard fork_lock(fork_mu_);
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return JobOutcome{JobOutcome::kFailed, "resque::ForkError",
                        absl::StrFormat("pipe: %s", std::strerror(errno))};
    }
    pid = fork();
    if (pid == 0) {
      close(fds[0]);
      BeChild(child, fds[1]);
    }
    close(fds[1]);
  }
  if (pid < 0) {
    close(fds[0]);
    return JobOutcome{JobOutcome::kFailed, "resque::ForkError",
                      absl::StrFormat("fork: %s", std::strerror(errno))};
  }
  cancel.AttachChild(pid);  // a kill that came between the fork and here is honoured now
  std::string report;
  const int wstatus = AwaitChild(cancel, pid, fds[0], &report);
  close(fds[0]);

  // A child that reported and exited cleanly did its job, even if a kill came too late to stop it.
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && !report.empty()) {
    return DecodeReport(report);
  }
  if (cancel.reason() != CancelReason::kNone) return std::nullopt;
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    return JobOutcome{JobOutcome::kFailed, "resque::JobCrashed",
                      absl::StrFormat("job process killed by signal %d (%s)", sig, strsignal(sig))};
  }
  return JobOutcome{JobOutcome::kFailed, "resque::JobExited",
                    absl::StrFormat("job process exited with code %d before finishing",
                                    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)};
}

int ForkRunner::AwaitChild(JobCancel& cancel, pid_t pid, int report_fd, std::string* report) {
  fcntl(report_fd, F_SETFL, fcntl(report_fd, F_GETFL) | O_NONBLOCK);
  const absl::Time deadline =
      timeout_ > absl::ZeroDuration() ? timer_.MonotonicNow() + timeout_ : absl::InfiniteFuture();
  bool pipe_open = true;
  // Once the pipe is at EOF the child is in _exit: check on it at short, growing intervals.
  absl::Duration after_eof = absl::Microseconds(100);
  for (;;) {
    const absl::Duration left = deadline - timer_.MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      cancel.Cancel(CancelReason::kTimeout);
      ChildEnded(pid, /*block=*/true);
      break;
    }
    absl::Duration tick = std::min(left, kChildCheckPeriod);
    if (!pipe_open) {
      if (deadline == absl::InfiniteFuture()) {
        ChildEnded(pid, /*block=*/true);
        break;
      }
      tick = std::min(tick, after_eof);
      after_eof = std::min(after_eof * 2, kChildCheckPeriod);
    }
    // The poll waits on the real clock: it is how a pipe is read, not time the worker decides.
    pollfd p{report_fd, POLLIN, 0};
    const timespec ts = absl::ToTimespec(tick);
    if (ppoll(pipe_open ? &p : nullptr, pipe_open ? 1 : 0, &ts, nullptr) > 0) {
      pipe_open = ReadAvailable(report_fd, report);
    }
    if (ChildEnded(pid, /*block=*/false)) break;
  }
  if (pipe_open) ReadAvailable(report_fd, report);  // what the child wrote before it ended
  cancel.DetachChild();
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return wstatus;
}

}  // namespace resque
