#include "core/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string_view>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/child_spawn.h"
#include "core/status_macros.h"

namespace resque {
namespace {

using spawn::CloseIfOpen;
using spawn::ErrnoError;
using spawn::ExecPlan;
using spawn::MakePipe;
using spawn::PipeEnds;
using spawn::SetNonBlocking;

// A function child whose body throws ends with this code (sysexits' EX_SOFTWARE).
constexpr int kExceptionExitCode = 70;
// How long Terminate(), and Wait() once the child has ended, read output that something outside
// the child's group holds open before they give up on EOF.
constexpr absl::Duration kTerminateBound = absl::Seconds(2);
// Without a pidfd, how often Wait() looks whether the child ended, at most.
constexpr absl::Duration kMaxEndCheck = absl::Milliseconds(50);
constexpr size_t kReadChunk = 64 * 1024;  // read from a child, written to its stdin

// Set in a function child made with ForkOptions::exec_children_join_group: Exec then leaves its
// children in this process's group. Written only between fork and the body, read by Exec.
bool exec_children_join_group = false;

// The mutex is held from the creation of a child's pipes to the parent's closing of the child's
// ends, and over every change to `parent_ends`: the parent's ends of the pipes of live children
// (and their pidfds), which a function child closes (see the header). Never destroyed: a
// ChildProcess in a static object may be destroyed after any other static.
struct SpawnState {
  std::mutex mu;
  std::vector<int> parent_ends;
};

SpawnState& Spawning() {
  static SpawnState* const state = new SpawnState;
  return *state;
}

std::mutex& SpawnMutex() { return Spawning().mu; }
std::vector<int>& ParentEnds() { return Spawning().parent_ends; }

// Adds `fd` to ParentEnds(); the caller holds SpawnMutex().
void RegisterLocked(int fd) {
  if (fd >= 0) ParentEnds().push_back(fd);
}

// Takes `fd` out of ParentEnds() and closes it, under the mutex so that its number, once free,
// cannot be registered by another thread before it is removed here.
void UnregisterAndClose(int fd) {
  std::lock_guard lock(SpawnMutex());
  std::vector<int>& fds = ParentEnds();
  if (auto it = std::find(fds.begin(), fds.end(), fd); it != fds.end()) fds.erase(it);
  close(fd);
}

}  // namespace

std::string ChildExit::Describe() const {
  if (exit_code >= 0) return absl::StrFormat("exited with %d", exit_code);
  if (signal > 0) {
    const char* name = sigdescr_np(signal);
    return absl::StrFormat("killed by signal %d (%s)", signal, name != nullptr ? name : "?");
  }
  return "ended in a way not known (reaped elsewhere)";
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Exec(const ExecOptions& options) {
  ExecPlan plan;
  RESQUE_RETURN_IF_ERROR(spawn::PlanProgram(options, !exec_children_join_group, plan));
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->stdin_data_ = options.stdin_data;
  child->out_.text.set_limit(options.capture_limit);
  child->err_.text.set_limit(options.capture_limit);
  if (options.stdout_to.captured()) {
    child->out_.copy_to = options.stdout_to.fd();
    child->out_.copy_line_limit = options.stdout_to.line_limit();
  }
  if (options.stderr_to.captured()) {
    child->err_.copy_to = options.stderr_to.fd();
    child->err_.copy_line_limit = options.stderr_to.line_limit();
  }

  PipeEnds ends;  // destroyed after `lock`: closing them needs no mutex
  std::unique_lock lock(SpawnMutex());
  RESQUE_RETURN_IF_ERROR(spawn::PlanStdio(options, ends, plan));
  const pid_t pid = fork();
  if (pid == 0) spawn::ExecInChild(plan);
  const int fork_errno = errno;
  ends.CloseChildEnds();
  if (pid < 0) return ErrnoError("fork", fork_errno);
  ends.ReleaseParentEnds();
  child->pid_ = pid;
  child->stdin_fd_ = plan.parent_stdin;
  child->out_.fd = plan.parent_stdout;
  child->err_.fd = plan.parent_stderr;
  for (int fd : {child->stdin_fd_, child->out_.fd, child->err_.fd}) RegisterLocked(fd);
  lock.unlock();
  if (plan.own_group) setpgid(pid, pid);  // also here, so that the group exists whoever runs first
  child->own_group_ = plan.own_group;

  if (absl::Status started = spawn::ExecResult(plan, options); !started.ok()) {
    child->CloseAllPipes();
    (void)child->Reap();
    return started;
  }
  child->OpenPidfd();
  for (int fd : {child->stdin_fd_, child->out_.fd, child->err_.fd}) SetNonBlocking(fd);
  return child;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Fork(
    const std::function<int(int)>& body, const ForkOptions& options) {
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->report_.text.set_limit(16 << 20);
  std::fflush(stdout);
  std::fflush(stderr);
  std::unique_lock lock(SpawnMutex());
  int fds[2];
  RESQUE_RETURN_IF_ERROR(MakePipe(fds));
  const pid_t pid = fork();
  if (pid == 0) {
    // This thread held the mutex at the fork; the child's copy is released for its own children.
    lock.unlock();
    for (int fd : ParentEnds()) close(fd);
    ParentEnds().clear();
    close(fds[0]);
    setpgid(0, 0);
    spawn::DropSignalsForTheOldGroup();
    exec_children_join_group = options.exec_children_join_group;
    if (options.reset_signals) spawn::ResetSignals();
    // exit() in job code would run this program's atexit handlers and static destructors here,
    // against state the parent owns. Registered last, this handler runs first and ends it.
    on_exit(
        [](int code, void*) {
          std::fflush(stdout);
          std::fflush(stderr);
          _exit(code);
        },
        nullptr);
    int code = kExceptionExitCode;
    try {
      code = body(fds[1]);
    } catch (...) {
    }
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
  }
  const int fork_errno = errno;
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return ErrnoError("fork", fork_errno);
  }
  child->pid_ = pid;
  child->report_.fd = fds[0];
  RegisterLocked(fds[0]);
  lock.unlock();
  setpgid(pid, pid);
  child->own_group_ = true;
  child->OpenPidfd();
  SetNonBlocking(child->report_.fd);
  return child;
}

void ChildProcess::OpenPidfd() {
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) return;
  std::lock_guard lock(SpawnMutex());
  RegisterLocked(pidfd_);
}

ChildProcess::~ChildProcess() {
  bool reaped;
  {
    std::lock_guard lock(mu_);
    reaped = reaped_ || pid_ <= 0;
  }
  if (!reaped) (void)Terminate();
  CloseAllPipes();
}

absl::Status ChildProcess::Signal(int sig) {
  std::lock_guard lock(mu_);
  if (reaped_ || pid_ <= 0) {
    return absl::FailedPreconditionError(absl::StrFormat("child %d was reaped", pid_));
  }
  // The group's id is the child's pid, which stays taken until the child is reaped.
  int sent = kill(-pid_, sig);
  // A child that moved to a group of its own choosing is signalled too.
  if (getpgid(pid_) != pid_) sent = kill(pid_, sig);
  if (sent != 0 && errno != ESRCH) return ErrnoError(absl::StrFormat("kill %d", pid_), errno);
  return absl::OkStatus();
}

void ChildProcess::ClosePipe(int& fd) {
  if (fd < 0) return;
  UnregisterAndClose(fd);
  fd = -1;
}

void ChildProcess::CloseAllPipes() {
  for (int* fd : {&stdin_fd_, &out_.fd, &err_.fd, &report_.fd, &pidfd_}) ClosePipe(*fd);
}

namespace {

// Writes all of `data` to `fd` unless it fails: a broken log must not stop the child's output
// being read.
void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data.remove_prefix(static_cast<size_t>(w));
  }
}

}  // namespace

void ChildProcess::Copy(Capture& c, std::string_view data) {
  if (c.copy_line_limit == 0) return WriteAll(c.copy_to, data);
  constexpr std::string_view kCutMark = "...";
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const std::string_view line = data.substr(0, newline);  // without its newline
    const bool cut_already = c.copy_line_bytes > c.copy_line_limit;
    const size_t room = cut_already ? 0 : c.copy_line_limit - c.copy_line_bytes;
    if (line.size() <= room) {
      WriteAll(c.copy_to, line);
    } else if (!cut_already) {
      // Cut at the start of a UTF-8 character: the log stays valid text.
      size_t end = room;
      while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) --end;
      WriteAll(c.copy_to, line.substr(0, end));
      WriteAll(c.copy_to, kCutMark);
    }
    c.copy_line_bytes += line.size();
    if (newline == std::string_view::npos) return;
    WriteAll(c.copy_to, "\n");
    c.copy_line_bytes = 0;
    data.remove_prefix(newline + 1);
  }
}

void ChildProcess::ReadSome(Capture& c) {
  char buf[kReadChunk];
  const ssize_t n = read(c.fd, buf, sizeof(buf));
  if (n > 0) {
    if (c.copy_to >= 0) Copy(c, std::string_view(buf, static_cast<size_t>(n)));
    c.text.Append(std::string_view(buf, static_cast<size_t>(n)));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    ClosePipe(c.fd);
  }
}

void ChildProcess::WriteSomeStdin() {
  // A write to a pipe whose reader is gone raises SIGPIPE in this thread: blocked here, and
  // taken if it came, so that the child's not reading is EPIPE and not this process's death.
  sigset_t pipe_signal, old_mask;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  const size_t left = stdin_data_.size() - stdin_written_;
  const ssize_t n =
      write(stdin_fd_, stdin_data_.data() + stdin_written_, std::min(left, kReadChunk));
  const int err = errno;
  if (n < 0 && err == EPIPE) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &now);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (n > 0) stdin_written_ += static_cast<size_t>(n);
  if (stdin_written_ == stdin_data_.size() || (n < 0 && err != EAGAIN && err != EINTR)) {
    ClosePipe(stdin_fd_);
  }
}

absl::StatusOr<ChildExit> ChildProcess::Wait(absl::Time deadline) {
  {
    std::lock_guard lock(mu_);
    if (reaped_) return exit_;
  }
  absl::Duration end_check = absl::Milliseconds(1);
  for (bool polled = false;; polled = true) {
    if (ended_) {
      if (drain_end_ == absl::InfiniteFuture()) EndLeftovers();
      // The child is gone: what it reported is all there, and nobody needs its stdin now.
      while (report_.fd >= 0) ReadSome(report_);
      ClosePipe(stdin_fd_);
      // Output still open past the bound is held by a process that left the group: not waited for.
      if (absl::Now() >= drain_end_) CloseAllPipes();
      if (out_.fd < 0 && err_.fd < 0) return Reap();
    }
    const absl::Duration left = deadline - absl::Now();
    if (polled && left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrFormat("child %d still running at the deadline", pid_));
    }
    pollfd fds[5];
    nfds_t n = 0;
    auto add = [&](int fd, short events) {
      if (fd >= 0) fds[n++] = {fd, events, 0};
    };
    add(ended_ ? -1 : pidfd_, POLLIN);
    add(stdin_fd_, POLLOUT);
    add(out_.fd, POLLIN);
    add(err_.fd, POLLIN);
    add(report_.fd, POLLIN);
    absl::Duration timeout = std::max(left, absl::ZeroDuration());
    if (ended_)
      timeout = std::min(timeout, std::max(drain_end_ - absl::Now(), absl::ZeroDuration()));
    const bool check_by_hand = !ended_ && pidfd_ < 0;
    if (check_by_hand) {
      timeout = std::min(timeout, end_check);
      end_check = std::min(end_check * 2, kMaxEndCheck);
    }
    const timespec ts = absl::ToTimespec(timeout);
    const int ready = ppoll(fds, n, timeout == absl::InfiniteDuration() ? nullptr : &ts, nullptr);
    if (ready < 0 && errno != EINTR) return ErrnoError("ppoll", errno);
    if (check_by_hand) {
      siginfo_t info{};
      const int r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      ended_ = (r == 0 && info.si_pid == pid_) || (r != 0 && errno == ECHILD);
    }
    if (ready <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      if (fd == pidfd_) {
        ended_ = true;
      } else if (fd == stdin_fd_) {
        WriteSomeStdin();
      } else if (fd == out_.fd) {
        ReadSome(out_);
      } else if (fd == err_.fd) {
        ReadSome(err_);
      } else if (fd == report_.fd) {
        ReadSome(report_);
      }
    }
  }
}

void ChildProcess::EndLeftovers() {
  drain_end_ = absl::Now() + kTerminateBound;
  // The child is a zombie, not reaped: its pid, the group's id, cannot have been reused. What it
  // left running in its group (`cmd &` under the shell) would otherwise hold its output open and
  // outlive it.
  if (own_group_) (void)kill(-pid_, SIGKILL);
}

ChildExit ChildProcess::Terminate() {
  {
    std::lock_guard lock(mu_);
    if (reaped_ || pid_ <= 0) return exit_;
  }
  (void)Signal(SIGKILL);
  absl::StatusOr<ChildExit> exit = Wait(absl::Now() + kTerminateBound);
  if (exit.ok()) return *exit;
  // Output held open by a process that left the group: stop reading it.
  CloseAllPipes();
  return Reap();
}

ChildExit ChildProcess::Reap() {
  siginfo_t info{};
  if (!ended_) {
    // Waits, without reaping, so that Signal() never meets a pid that could be another's.
    while (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    ended_ = true;
  }
  std::lock_guard lock(mu_);
  info = {};
  int r;
  while ((r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED)) != 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (r == 0 && info.si_code == CLD_EXITED) exit_.exit_code = info.si_status;
  if (r == 0 && (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)) {
    exit_.signal = info.si_status;
  }
  CloseAllPipes();
  for (Capture* c : {&out_, &err_, &report_}) c->text.Finish();
  return exit_;
}

}  // namespace resque
