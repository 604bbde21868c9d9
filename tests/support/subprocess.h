// RunProcess: runs a program for a test (a peer such as node-resque) with a deadline, and hands
// back its exit code and output. The program runs in its own process group, which is killed
// (SIGKILL) when the deadline passes, so a hung peer cannot outlive its test.
//
//   absl::StatusOr<ProcessResult> r = RunProcess({"node", "work.js", "6400"}, absl::Seconds(30));
#ifndef RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
#define RESQUE_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resque::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when it was killed (by the deadline or a signal)
  bool timed_out = false;
  std::string out;  // everything it wrote to stdout
  std::string err;  // everything it wrote to stderr
};

// Starts `argv` (argv[0] looked up in PATH) in `cwd` (empty: this directory), in a process group
// of its own, with stdin from /dev/null and stdout/stderr on `stdout_fd`/`stderr_fd` (-1:
// /dev/null). The child gets SIGKILL if this process dies first. Returns its pid; the caller
// reaps it.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                            const std::string& cwd = "");

// Runs `argv` (argv[0] looked up in PATH) in `cwd` (empty: this directory) and waits for it to
// exit, at most `timeout`. An error status only when it cannot be started at all.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const std::string& cwd = "");

}  // namespace resque::testing

#endif  // RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
