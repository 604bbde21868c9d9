#include "core/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"

extern char** environ;

namespace resque {
namespace {

// The signals a worker takes for itself; a child gets their default action back.
constexpr int kControlSignals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT};
// A function child whose body throws ends with this code (sysexits' EX_SOFTWARE).
constexpr int kExceptionExitCode = 70;
// How long Terminate() reads output after the kill before it gives up on EOF.
constexpr absl::Duration kTerminateBound = absl::Seconds(2);
// Without a pidfd, how often Wait() looks whether the child ended, at most.
constexpr absl::Duration kMaxEndCheck = absl::Milliseconds(50);
constexpr size_t kReadChunk = 64 * 1024;

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

absl::Status ErrnoError(std::string_view what, int err) {
  return absl::InternalError(absl::StrFormat("%s: %s", what, std::strerror(err)));
}

// Moves `fd` to a number >= 3, so that dup2 onto 0, 1 and 2 in the child cannot overwrite it.
int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

// A close-on-exec pipe whose ends are both above stdio.
absl::Status MakePipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  fds[0] = AboveStdio(fds[0]);
  fds[1] = AboveStdio(fds[1]);
  if (fds[0] < 0 || fds[1] < 0) {
    const int err = errno;
    for (int i : {0, 1}) {
      if (fds[i] >= 0) close(fds[i]);
    }
    return ErrnoError("fcntl", err);
  }
  return absl::OkStatus();
}

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void SetNonBlocking(int fd) {
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// argv[0] as execve wants it: a path as given, a bare name looked up in PATH.
absl::StatusOr<std::string> ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate = absl::StrFormat("%s/%s", dir.empty() ? "." : dir, name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrFormat("%s: not found in PATH", name));
}

std::string_view VariableName(std::string_view entry) { return entry.substr(0, entry.find('=')); }

std::vector<std::string> ChildEnvironment(const ExecOptions& options) {
  std::vector<std::string> env;
  if (options.inherit_environment) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view name = VariableName(*e);
      const bool replaced =
          std::any_of(options.env.begin(), options.env.end(),
                      [&](const std::string& v) { return VariableName(v) == name; });
      if (!replaced) env.emplace_back(*e);
    }
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void ResetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : kControlSignals) sigaction(sig, &dfl, nullptr);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
}

// What a child that could not exec tells its parent on the exec-error pipe.
struct ExecFailure {
  int step;  // 0: chdir, 1: exec
  int err;
};

// Everything an exec child needs, made before the fork.
struct ExecPlan {
  std::string path;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd = nullptr;
  bool die_with_parent = false;
  bool own_group = true;
  pid_t parent = 0;
  int stdin_fd = -1;  // -1: keep
  int stdout_fd = -1;
  int stderr_fd = -1;
  int error_fd = -1;
};

// The child's side of Exec(): only async-signal-safe calls, and it never returns.
[[noreturn]] void ExecInChild(const ExecPlan& plan) {
  if (plan.own_group) setpgid(0, 0);
  if (plan.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan.parent) _exit(127);  // the parent died before the prctl
  }
  ResetSignals();
  // Exec keeps an ignored signal ignored; a command expects SIGPIPE's default.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, nullptr);
  if (plan.stdin_fd >= 0) dup2(plan.stdin_fd, STDIN_FILENO);
  if (plan.stdout_fd >= 0) dup2(plan.stdout_fd, STDOUT_FILENO);
  if (plan.stderr_fd >= 0) dup2(plan.stderr_fd, STDERR_FILENO);
  ExecFailure failure{0, 0};
  if (plan.cwd == nullptr || chdir(plan.cwd) == 0) {
    execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
    failure.step = 1;
  }
  failure.err = errno;
  (void)!write(plan.error_fd, &failure, sizeof(failure));
  _exit(127);
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

void ChildProcess::Capture::Append(const char* data, size_t n) {
  for (size_t done = 0; copy_to >= 0 && done < n;) {
    const ssize_t w = write(copy_to, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // a broken log must not stop the child's output being read
    done += static_cast<size_t>(w);
  }
  const size_t head = limit / 2;
  const size_t tail_limit = limit - head;
  if (!cut) {
    text.append(data, n);
    if (text.size() <= limit) return;
    cut = true;
    tail = text.substr(head);
    text.resize(head);
  } else {
    tail.append(data, n);
  }
  // Trimmed in steps, so that a long output is not moved for each chunk.
  if (tail.size() > tail_limit + kReadChunk) {
    dropped += tail.size() - tail_limit;
    tail.erase(0, tail.size() - tail_limit);
  }
}

void ChildProcess::Capture::Finish() {
  if (!cut) return;
  const size_t tail_limit = limit - limit / 2;
  if (tail.size() > tail_limit) {
    dropped += tail.size() - tail_limit;
    tail.erase(0, tail.size() - tail_limit);
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  absl::StrAppendFormat(&text, "[... %d bytes not kept ...]\n", dropped);
  text += tail;
  tail.clear();
  cut = false;
  dropped = 0;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Exec(const ExecOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("ChildProcess::Exec: empty argv");
  ExecPlan plan;
  std::vector<std::string> args = options.argv;
  std::vector<std::string> env = ChildEnvironment(options);
  {
    absl::StatusOr<std::string> path = ResolveProgram(args[0]);
    if (!path.ok()) return path.status();
    plan.path = *std::move(path);
  }
  plan.argv = Pointers(args);
  plan.envp = Pointers(env);
  plan.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  plan.die_with_parent = options.die_with_parent;
  plan.own_group = !exec_children_join_group;
  plan.parent = getpid();

  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->stdin_data_ = options.stdin_data;
  child->out_.limit = child->err_.limit = options.capture_limit;
  // The child's ends of its pipes, and /dev/null: closed here once the child has them.
  std::vector<int> child_ends;
  auto close_child_ends = [&child_ends] {
    for (int& fd : child_ends) CloseIfOpen(fd);
    child_ends.clear();
  };
  int devnull = -1;
  auto need_devnull = [&]() -> absl::StatusOr<int> {
    if (devnull < 0) {
      devnull = AboveStdio(open("/dev/null", O_RDWR | O_CLOEXEC));
      if (devnull < 0) return ErrnoError("open /dev/null", errno);
      child_ends.push_back(devnull);
    }
    return devnull;
  };
  // Where one output stream goes in the child; a captured one gets a pipe.
  auto plan_output = [&](const Output& to, Capture& capture, int* child_fd) -> absl::Status {
    switch (to.kind_) {
      case Output::kInherit:
        return absl::OkStatus();
      case Output::kDiscard: {
        absl::StatusOr<int> fd = need_devnull();
        if (!fd.ok()) return fd.status();
        *child_fd = *fd;
        return absl::OkStatus();
      }
      case Output::kFd:
        *child_fd = to.fd_;
        return absl::OkStatus();
      case Output::kCapture: {
        int fds[2];
        RESQUE_RETURN_IF_ERROR(MakePipe(fds));
        capture.fd = fds[0];
        capture.copy_to = to.fd_;
        child_ends.push_back(fds[1]);
        *child_fd = fds[1];
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  };

  std::unique_lock lock(SpawnMutex());
  absl::Status planned = absl::OkStatus();
  int error_pipe[2] = {-1, -1};
  if (child->stdin_data_.empty()) {
    absl::StatusOr<int> fd = need_devnull();
    planned = fd.status();
    if (fd.ok()) plan.stdin_fd = *fd;
  } else {
    int fds[2];
    planned = MakePipe(fds);
    if (planned.ok()) {
      child->stdin_fd_ = fds[1];
      child_ends.push_back(fds[0]);
      plan.stdin_fd = fds[0];
    }
  }
  if (planned.ok()) planned = plan_output(options.stdout_to, child->out_, &plan.stdout_fd);
  if (planned.ok()) planned = plan_output(options.stderr_to, child->err_, &plan.stderr_fd);
  if (planned.ok()) planned = MakePipe(error_pipe);
  if (!planned.ok()) {
    close_child_ends();
    lock.unlock();
    child->CloseAllPipes();
    return planned;
  }
  plan.error_fd = error_pipe[1];
  child_ends.push_back(error_pipe[1]);

  const pid_t pid = fork();
  if (pid == 0) ExecInChild(plan);
  const int fork_errno = errno;
  close_child_ends();
  if (pid < 0) {
    close(error_pipe[0]);
    lock.unlock();
    child->CloseAllPipes();
    return ErrnoError("fork", fork_errno);
  }
  child->pid_ = pid;
  for (int fd : {child->stdin_fd_, child->out_.fd, child->err_.fd}) RegisterLocked(fd);
  lock.unlock();
  if (plan.own_group) setpgid(pid, pid);  // also here, so that the group exists whoever runs first

  // EOF: the exec happened (the pipe is close-on-exec); a record: it failed, and why.
  ExecFailure failure{0, 0};
  ssize_t n;
  while ((n = read(error_pipe[0], &failure, sizeof(failure))) < 0 && errno == EINTR) {
  }
  close(error_pipe[0]);
  if (n > 0) {
    child->CloseAllPipes();
    (void)child->Reap();
    return ErrnoError(failure.step == 0 ? absl::StrFormat("chdir %s", options.cwd)
                                        : absl::StrFormat("exec %s", plan.path),
                      failure.err);
  }
  child->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child->pidfd_ >= 0) {
    std::lock_guard relock(SpawnMutex());
    RegisterLocked(child->pidfd_);
  }
  for (int fd : {child->stdin_fd_, child->out_.fd, child->err_.fd}) SetNonBlocking(fd);
  return child;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Fork(
    const std::function<int(int)>& body, const ForkOptions& options) {
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->report_.limit = 16 << 20;
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
    exec_children_join_group = options.exec_children_join_group;
    if (options.reset_signals) ResetSignals();
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
  child->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child->pidfd_ >= 0) {
    std::lock_guard relock(SpawnMutex());
    RegisterLocked(child->pidfd_);
  }
  SetNonBlocking(child->report_.fd);
  return child;
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

void ChildProcess::ReadSome(Capture& c) {
  char buf[kReadChunk];
  const ssize_t n = read(c.fd, buf, sizeof(buf));
  if (n > 0) {
    c.Append(buf, static_cast<size_t>(n));
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
      // The child is gone: what it reported is all there, and nobody needs its stdin now.
      while (report_.fd >= 0) ReadSome(report_);
      ClosePipe(stdin_fd_);
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
  out_.Finish();
  err_.Finish();
  report_.Finish();
  return exit_;
}

}  // namespace resque
