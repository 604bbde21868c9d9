// RunProcess: runs a program for a test (a peer such as node-resque) with a deadline, and hands
// back its exit code and output. The program runs in its own process group, which is killed
// (SIGKILL) when the deadline passes, so a hung peer cannot outlive its test.
//
//   absl::StatusOr<ProcessResult> r = RunProcess({"node", "work.js", "6400"}, absl::Seconds(30));
#ifndef RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
#define RESQUE_TESTS_SUPPORT_SUBPROCESS_H_

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

// Runs `argv` (argv[0] looked up in PATH) in `cwd` (empty: this directory) and waits for it to
// exit, at most `timeout`. An error status only when it cannot be started at all.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const std::string& cwd = "");

}  // namespace resque::testing

#endif  // RESQUE_TESTS_SUPPORT_SUBPROCESS_H_
