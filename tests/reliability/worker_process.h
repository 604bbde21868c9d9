// WorkerProcess: one `resque work` process for the crash and outage tests, its output in a log
// file (read when a test fails), killed and reaped at the latest when the object goes.
#ifndef RESQUE_TESTS_RELIABILITY_WORKER_PROCESS_H_
#define RESQUE_TESTS_RELIABILITY_WORKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/child_process.h"

namespace resque::testing {

class WorkerProcess {
 public:
  // Starts `argv` with `env` added to the environment, stdout and stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<WorkerProcess>> Start(const std::vector<std::string>& argv,
                                                              const std::vector<std::string>& env,
                                                              const std::string& log_path);
  ~WorkerProcess();  // SIGKILL and reap if it still runs
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return child_ != nullptr ? child_->pid() : -1; }

  // SIGKILL (to its process group), then reaps it: once this returns its pid is gone.
  void Kill();
  // Sends `sig` and waits up to `timeout` for it to exit (then SIGKILL). Returns its exit code,
  // or -1 if it did not exit by itself.
  int Stop(int sig, absl::Duration timeout);
  // Waits up to `timeout` for it to end by itself: how it ended, or DeadlineExceeded (it is then
  // killed).
  absl::StatusOr<ChildExit> Wait(absl::Duration timeout);

 private:
  explicit WorkerProcess(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace resque::testing

#endif  // RESQUE_TESTS_RELIABILITY_WORKER_PROCESS_H_
