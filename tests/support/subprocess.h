// Programs that tests run (the `resque` binary, peers such as node-resque), on
// core/child_process.h: each in a process group of its own, SIGKILLed with everything it started
// at its deadline or when the test ends, and SIGKILLed if the test process dies first.
//
//   RunResult r = Run({RESQUE_BINARY, "--redis", url, "queues"});      // to its end, 30 s at most
//   Subprocess worker({RESQUE_BINARY, "work", "-q", "q"}, {"QUEUE=q"});  // kept running
//   worker.Signal(SIGQUIT);
//   RunResult done = worker.Wait(absl::Seconds(15));
#ifndef RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
#define RESQUE_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/child_process.h"

namespace resque::testing {

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or at the deadline, or it could not start
  int signal = 0;      // the signal that ended it, else 0
  bool timed_out = false;
  std::string out;  // everything it wrote to stdout
  std::string err;  // everything it wrote to stderr (or why it could not start)
};
using RunResult = ProcessResult;

class Subprocess {
 public:
  // Starts `argv` (argv[0] a path or a name in PATH) in `cwd` (empty: this directory) with `env`
  // (NAME=VALUE) replacing or adding to this process's environment, stdin from /dev/null, stdout
  // and stderr captured. A program that cannot start shows as such in Wait()'s result.
  Subprocess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
             const std::string& cwd = "");
  ~Subprocess();  // SIGKILLs its process group and reaps it if it still runs

  // OK, or why it could not start.
  absl::Status status() const { return child_.status(); }
  // 0 when it could not start.
  pid_t pid() const { return child_.ok() ? (*child_)->pid() : 0; }
  // `sig` to its process group.
  void Signal(int sig);
  // Reads its output until it exits, or until `deadline` has passed (then it is killed).
  RunResult Wait(absl::Duration deadline = absl::Seconds(30));

 private:
  absl::StatusOr<std::unique_ptr<ChildProcess>> child_;
};

// Runs to completion: Subprocess(argv, env).Wait(deadline).
RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
              absl::Duration deadline = absl::Seconds(30));

// Runs `argv` in `cwd` (empty: this directory) and waits for it to exit, at most `timeout`. An
// error status only when it cannot be started at all.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const std::string& cwd = "");

}  // namespace resque::testing

#endif  // RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
