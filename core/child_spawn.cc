#include "core/child_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"

extern char** environ;

namespace resque::spawn {
namespace {

// The signals a worker takes for itself; a child gets their default action back.
constexpr int kControlSignals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT};

// Moves `fd` to a number >= 3 (closing the old one).
int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
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

// This process's environment, less the variables `options.env` names, plus `options.env`.
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

// What execve wants: pointers into `strings`, then nullptr.
std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// What a child that could not exec tells its parent on the exec-error pipe.
struct ExecFailure {
  int step;  // 0: chdir, 1: exec
  int err;
};

// Where `to` sends one stream of the child: `*child_fd`, and a captured one's read end in
// `*parent_fd`.
absl::Status PlanOutput(const Output& to, PipeEnds& ends, int* child_fd, int* parent_fd) {
  if (to.discarded()) {
    RESQUE_ASSIGN_OR_RETURN(*child_fd, ends.DevNull());
  } else if (to.captured()) {
    RESQUE_ASSIGN_OR_RETURN(*child_fd, ends.Pipe(/*child_reads=*/false, parent_fd));
  } else if (to.fd() >= 0) {
    *child_fd = to.fd();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ErrnoError(std::string_view what, int err) {
  return absl::InternalError(absl::StrFormat("%s: %s", what, std::strerror(err)));
}

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

void DropSignalsForTheOldGroup() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kControlSignals) sigaddset(&set, sig);
  // Only blocked signals can be pending; each call takes one, and each is pending once at most.
  const timespec now{0, 0};
  for (size_t i = 0; i <= std::size(kControlSignals); ++i) {
    if (sigtimedwait(&set, nullptr, &now) < 0) break;
  }
}

void ResetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : kControlSignals) sigaction(sig, &dfl, nullptr);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
}

PipeEnds::~PipeEnds() {
  CloseChildEnds();
  for (int& fd : parent_) CloseIfOpen(fd);
}

absl::StatusOr<int> PipeEnds::DevNull() {
  if (devnull_ < 0) {
    devnull_ = AboveStdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull_ < 0) return ErrnoError("open /dev/null", errno);
    child_.push_back(devnull_);
  }
  return devnull_;
}

absl::StatusOr<int> PipeEnds::Pipe(bool child_reads, int* parent_end) {
  int fds[2];
  RESQUE_RETURN_IF_ERROR(MakePipe(fds));
  *parent_end = fds[child_reads ? 1 : 0];
  parent_.push_back(*parent_end);
  child_.push_back(fds[child_reads ? 0 : 1]);
  return fds[child_reads ? 0 : 1];
}

void PipeEnds::CloseChildEnds() {
  for (int& fd : child_) CloseIfOpen(fd);
  child_.clear();
}

absl::Status PlanProgram(const ExecOptions& options, bool own_group, ExecPlan& plan) {
  if (options.argv.empty()) return absl::InvalidArgumentError("ChildProcess::Exec: empty argv");
  plan.args = options.argv;
  plan.env = ChildEnvironment(options);
  RESQUE_ASSIGN_OR_RETURN(plan.path, ResolveProgram(plan.args[0]));
  plan.argv = Pointers(plan.args);
  plan.envp = Pointers(plan.env);
  plan.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  plan.die_with_parent = options.die_with_parent;
  plan.own_group = own_group;
  plan.parent = getpid();
  return absl::OkStatus();
}

absl::Status PlanStdio(const ExecOptions& options, PipeEnds& ends, ExecPlan& plan) {
  if (options.stdin_data.empty()) {
    RESQUE_ASSIGN_OR_RETURN(plan.stdin_fd, ends.DevNull());
  } else {
    RESQUE_ASSIGN_OR_RETURN(plan.stdin_fd, ends.Pipe(/*child_reads=*/true, &plan.parent_stdin));
  }
  RESQUE_RETURN_IF_ERROR(PlanOutput(options.stdout_to, ends, &plan.stdout_fd, &plan.parent_stdout));
  RESQUE_RETURN_IF_ERROR(PlanOutput(options.stderr_to, ends, &plan.stderr_fd, &plan.parent_stderr));
  RESQUE_ASSIGN_OR_RETURN(plan.error_fd, ends.Pipe(/*child_reads=*/false, &plan.parent_error));
  return absl::OkStatus();
}

absl::Status ExecResult(const ExecPlan& plan, const ExecOptions& options) {
  ExecFailure failure{0, 0};
  ssize_t n;
  while ((n = read(plan.parent_error, &failure, sizeof(failure))) < 0 && errno == EINTR) {
  }
  close(plan.parent_error);
  if (n <= 0) return absl::OkStatus();
  return ErrnoError(failure.step == 0 ? absl::StrFormat("chdir %s", options.cwd)
                                      : absl::StrFormat("exec %s", plan.path),
                    failure.err);
}

[[noreturn]] void ExecInChild(const ExecPlan& plan) {
  if (plan.own_group) {
    setpgid(0, 0);
    DropSignalsForTheOldGroup();
  }
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

}  // namespace resque::spawn
