#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace resque::testing {
namespace {

// Reads what is available on `fd` into `out`; false at EOF or on an error.
bool Drain(int fd, std::string* out) {
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) {
    out->append(buf, static_cast<size_t>(n));
    return true;
  }
  return n < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                            const std::string& cwd) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  std::vector<std::string> words = argv;
  std::vector<char*> cargv;
  for (std::string& w : words) cargv.push_back(w.data());
  cargv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrFormat("fork: %s", strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    const int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    dup2(stdout_fd >= 0 ? stdout_fd : devnull, STDOUT_FILENO);
    dup2(stderr_fd >= 0 ? stderr_fd : devnull, STDERR_FILENO);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so that the group exists whoever runs first
  return pid;
}

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const std::string& cwd) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProcess: empty argv");
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrFormat("pipe: %s", strerror(errno)));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError(absl::StrFormat("pipe: %s", strerror(errno)));
  }
  absl::StatusOr<pid_t> spawned = Spawn(argv, out_pipe[1], err_pipe[1], cwd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!spawned.ok()) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;

  ProcessResult result;
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  bool open_out = true;
  bool open_err = true;
  while (open_out || open_err) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.timed_out = true;
      break;
    }
    fds[0].fd = open_out ? out_pipe[0] : -1;
    fds[1].fd = open_err ? err_pipe[0] : -1;
    const int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (open_out && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      open_out = Drain(out_pipe[0], &result.out);
    }
    if (open_err && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      open_err = Drain(err_pipe[0], &result.err);
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);

  int status = 0;
  if (result.timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return result;
  }
  // Both pipes closed: it is exiting. Give it until the deadline, then kill it.
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return result;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace resque::testing
