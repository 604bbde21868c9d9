#include "cli/exec_job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace resque::cli {
namespace {

constexpr size_t kStderrLinesKept = 20;

class ExecJob : public Job {
 public:
  explicit ExecJob(std::string command) : command_(std::move(command)) {}

  absl::Status Perform(const JobContext& ctx) override {
    // Everything the child needs is built before fork(): after it, only exec.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view var(*e);
      if (var.starts_with("RESQUE_JOB_ID=") || var.starts_with("RESQUE_QUEUE=") ||
          var.starts_with("RESQUE_CLASS=")) {
        continue;
      }
      env_strings.emplace_back(var);
    }
    env_strings.push_back(absl::StrFormat("RESQUE_JOB_ID=%s", ctx.id()));
    env_strings.push_back(absl::StrFormat("RESQUE_QUEUE=%s", ctx.queue()));
    env_strings.push_back(absl::StrFormat("RESQUE_CLASS=%s", ctx.class_name()));
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c";
    std::vector<char*> argv = {sh.data(), dash_c.data(), command_.data(), nullptr};

    int in[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
    if (pipe2(err, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return absl::InternalError("pipe failed");
    }
    const pid_t pid = fork();
    if (pid < 0) {
      for (int fd : {in[0], in[1], err[0], err[1]}) close(fd);
      return absl::InternalError(absl::StrFormat("fork: %s", std::strerror(errno)));
    }
    if (pid == 0) {
      // The worker blocks and ignores signals for its own handling; the command gets defaults.
      sigset_t none;
      sigemptyset(&none);
      pthread_sigmask(SIG_SETMASK, &none, nullptr);
      signal(SIGPIPE, SIG_DFL);
      dup2(in[0], 0);
      dup2(err[1], 2);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(err[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);

    std::string_view input = ctx.args();
    std::string tail;  // the stderr not yet split into lines
    std::deque<std::string> lines;
    int stdin_fd = in[1];
    if (input.empty()) {
      close(stdin_fd);
      stdin_fd = -1;
    }
    bool killed = false;
    char buf[4096];
    for (;;) {
      if (ctx.Cancelled() && !killed) {
        kill(pid, SIGKILL);
        killed = true;
      }
      pollfd fds[2] = {{err[0], POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
      const int ready = poll(fds, stdin_fd >= 0 ? 2 : 1, 100);
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      if (stdin_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t n = write(stdin_fd, input.data(), input.size());
        if (n > 0) input.remove_prefix(static_cast<size_t>(n));
        // A command that does not read its stdin is fine: EPIPE ends the input.
        if (input.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          close(stdin_fd);
          stdin_fd = -1;
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = read(err[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the command closed stderr: it is done (or detached it)
        (void)!write(2, buf, static_cast<size_t>(n));
        tail.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = tail.find('\n')) != std::string::npos) {
          lines.push_back(tail.substr(0, nl));
          tail.erase(0, nl + 1);
          if (lines.size() > kStderrLinesKept) lines.pop_front();
        }
      }
    }
    if (stdin_fd >= 0) close(stdin_fd);
    close(err[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!tail.empty()) lines.push_back(tail);
    if (lines.size() > kStderrLinesKept) lines.pop_front();
    const std::string stderr_tail = absl::StrJoin(lines, "\n");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
    const std::string how = WIFSIGNALED(status)
                                ? absl::StrFormat("killed by signal %d", WTERMSIG(status))
                                : absl::StrFormat("exited with %d", WEXITSTATUS(status));
    return absl::UnknownError(
        absl::StrFormat("command %s%s%s", how, stderr_tail.empty() ? "" : ": ", stderr_tail));
  }

 private:
  std::string command_;
};

}  // namespace

absl::Status RegisterExecJob(std::string_view spec, JobRegistry& registry) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--exec wants CLASS=COMMAND, got \"%s\"", spec));
  }
  std::string command(spec.substr(eq + 1));
  return registry.Register(spec.substr(0, eq),
                           [command] { return std::make_unique<ExecJob>(command); });
}

}  // namespace resque::cli
