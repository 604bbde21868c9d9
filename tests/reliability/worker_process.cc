#include "tests/reliability/worker_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace resque::testing {

absl::StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& env,
    const std::string& log_path) {
  const int log = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::InternalError(absl::StrFormat("open %s: %s", log_path, strerror(errno)));
  }
  ExecOptions options;
  options.argv = argv;
  options.env = env;
  options.stdout_to = Output::To(log);
  options.stderr_to = Output::To(log);
  options.die_with_parent = true;  // a crashed test leaves no worker behind
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
  close(log);
  if (!child.ok()) return child.status();
  return std::unique_ptr<WorkerProcess>(new WorkerProcess(*std::move(child)));
}

WorkerProcess::~WorkerProcess() { Kill(); }

void WorkerProcess::Kill() {
  if (child_ == nullptr) return;
  child_->Terminate();
  child_ = nullptr;
}

int WorkerProcess::Stop(int sig, absl::Duration timeout) {
  if (child_ == nullptr) return -1;
  (void)child_->Signal(sig);
  absl::StatusOr<ChildExit> exit = Wait(timeout);
  return exit.ok() ? exit->exit_code : -1;
}

absl::StatusOr<ChildExit> WorkerProcess::Wait(absl::Duration timeout) {
  if (child_ == nullptr) return absl::FailedPreconditionError("the worker was reaped already");
  absl::StatusOr<ChildExit> exit = child_->Wait(absl::Now() + timeout);
  if (!exit.ok()) {
    Kill();
    return exit.status();
  }
  child_ = nullptr;
  return exit;
}

}  // namespace resque::testing
