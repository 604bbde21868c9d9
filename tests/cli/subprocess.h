// Subprocess: runs a program for a test, with its output captured and a deadline, and makes sure
// it is gone when the test ends.
#ifndef RESQUE_TESTS_CLI_SUBPROCESS_H_
#define RESQUE_TESTS_CLI_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace resque::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or at the deadline
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  // Starts `argv` with `env` added to this process's environment; stdout and stderr are captured.
  Subprocess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Subprocess();  // SIGKILLs and reaps the process if it still runs
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Reads output until the process exits or the deadline passes (then it is killed).
  RunResult Wait(absl::Duration deadline = absl::Seconds(30));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

// Runs to completion: Subprocess(argv, env).Wait(deadline).
RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
              absl::Duration deadline = absl::Seconds(30));

}  // namespace resque::testing

#endif  // RESQUE_TESTS_CLI_SUBPROCESS_H_
