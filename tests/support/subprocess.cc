#include "tests/support/subprocess.h"

#include "absl/time/clock.h"

namespace resque::testing {
namespace {

// Enough for any test's output; past it the middle is cut, with a note.
constexpr size_t kCaptureLimit = 64 << 20;

ExecOptions TestProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        const std::string& cwd) {
  ExecOptions options;
  options.argv = argv;
  options.env = env;
  options.cwd = cwd;
  options.stdout_to = Output::Capture();
  options.stderr_to = Output::Capture();
  options.capture_limit = kCaptureLimit;
  options.die_with_parent = true;  // a crashed test leaves nothing behind
  return options;
}

}  // namespace

Subprocess::Subprocess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& cwd)
    : child_(ChildProcess::Exec(TestProcess(argv, env, cwd))) {}

Subprocess::~Subprocess() = default;

void Subprocess::Signal(int sig) {
  if (child_.ok()) (void)(*child_)->Signal(sig);
}

RunResult Subprocess::Wait(absl::Duration deadline) {
  RunResult result;
  if (!child_.ok()) {
    result.err = child_.status().ToString();
    return result;
  }
  ChildProcess& child = **child_;
  absl::StatusOr<ChildExit> exit = child.Wait(absl::Now() + deadline);
  if (!exit.ok()) {
    result.timed_out = true;
    exit = child.Terminate();
  }
  result.exit_code = exit->exit_code;
  result.signal = exit->signal;
  result.out = child.out();
  result.err = child.err();
  return result;
}

RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              absl::Duration deadline) {
  return Subprocess(argv, env).Wait(deadline);
}

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const std::string& cwd) {
  Subprocess process(argv, {}, cwd);
  if (!process.status().ok()) return process.status();
  return process.Wait(timeout);
}

}  // namespace resque::testing
