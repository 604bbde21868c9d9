#include "cli/exec_job.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/child_process.h"
#include "core/failure.h"
#include "core/log.h"

namespace resque::cli {
namespace {

// A failure's backtrace holds the last kStderrLinesKept lines of the command's stderr, each cut to
// kStderrLineBytes; its error names how the command ended and the last of those lines that is
// not empty.
constexpr size_t kStderrLinesKept = 20;
constexpr size_t kStderrLineBytes = 500;
// The stderr a job's failure may carry comes from this much of its end (and its start).
constexpr size_t kStderrBytesKept = 64 * 1024;
// How often a running command looks whether the worker cancelled its job.
constexpr absl::Duration kCancelCheck = absl::Milliseconds(100);

// The last kStderrLinesKept lines of `err`, bounded (a last line without its newline counts).
std::vector<std::string> LastLines(std::string_view err) {
  std::deque<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(AbslView(err), '\n')) {
    lines.push_back(line);
    if (lines.size() > kStderrLinesKept + 1) lines.pop_front();
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the final newline
  if (lines.size() > kStderrLinesKept) lines.pop_front();
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (absl::string_view line : lines)
    out.push_back(CutToBytes(std::string_view(line.data(), line.size()), kStderrLineBytes));
  return out;
}

// What every command gets of the worker's environment; the rest (REDIS_BACKEND and its
// password above all) stays in the worker unless --exec-env names it.
constexpr const char* kPassedVariables[] = {"PATH", "HOME", "LANG"};

bool IsVariableName(std::string_view name) {
  return !name.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(name[0])) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
}

// NAME=VALUE for each of kPassedVariables and `names` that this process has.
absl::StatusOr<std::vector<std::string>> CommandEnvironment(const std::vector<std::string>& names) {
  std::vector<std::string> wanted(std::begin(kPassedVariables), std::end(kPassedVariables));
  for (const std::string& name : names) {
    if (!IsVariableName(name)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--exec-env wants a variable name, got \"%s\"", name));
    }
    if (name == "REDIS_BACKEND") {
      return absl::InvalidArgumentError(
          "--exec-env REDIS_BACKEND: the Redis URL and its password stay in the worker; give "
          "jobs what they need under a name of their own");
    }
    wanted.push_back(name);
  }
  std::vector<std::string> env;
  for (const std::string& name : wanted) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr) {
      env.push_back(absl::StrCat(name, "=", value));
    }
  }
  return env;
}

class ExecJob : public Job {
 public:
  ExecJob(std::string command, std::vector<std::string> environment)
      : command_(std::move(command)), environment_(std::move(environment)) {}

  absl::Status Perform(const JobContext& ctx) override {
    ExecOptions options;
    options.argv = {"/bin/sh", "-c", command_};
    options.inherit_environment = false;
    options.env = environment_;
    options.env.push_back(absl::StrFormat("RESQUE_JOB_ID=%s", ctx.id()));
    options.env.push_back(absl::StrFormat("RESQUE_QUEUE=%s", ctx.queue()));
    options.env.push_back(absl::StrFormat("RESQUE_CLASS=%s", ctx.class_name()));
    options.stdin_data = std::string(ctx.args());
    // The worker's log shows the command's stderr as it comes, line by line bounded as its own
    // lines are; the failure keeps its end.
    options.stderr_to = Output::CaptureAndCopyTo(STDERR_FILENO, kMaxLogLineBytes);
    options.capture_limit = kStderrBytesKept;
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
    if (!child.ok()) return child.status();
    // A cancelled job (stop, USR1, --timeout) kills the command's whole process group: the
    // shell and what it started.
    absl::StatusOr<ChildExit> exit;
    while (absl::IsDeadlineExceeded((exit = (*child)->Wait(absl::Now() + kCancelCheck)).status())) {
      if (ctx.Cancelled()) {
        exit = (*child)->Terminate();
        break;
      }
    }
    if (!exit.ok()) return exit.status();
    if (exit->Succeeded()) return absl::OkStatus();
    const std::vector<std::string> stderr_tail = LastLines((*child)->err());
    std::string summary = exit->signal > 0
                              ? absl::StrFormat("command killed by signal %d", exit->signal)
                              : absl::StrFormat("command exited with %d", exit->exit_code);
    const auto last = std::find_if(stderr_tail.rbegin(), stderr_tail.rend(),
                                   [](const std::string& line) { return !line.empty(); });
    if (last != stderr_tail.rend()) absl::StrAppend(&summary, ": ", *last);
    return WithBacktrace(absl::UnknownError(summary), stderr_tail);
  }

 private:
  std::string command_;
  std::vector<std::string> environment_;  // NAME=VALUE, from CommandEnvironment
};

}  // namespace

absl::Status RegisterExecJob(std::string_view spec, JobRegistry& registry,
                             const std::vector<std::string>& pass_env) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--exec wants CLASS=COMMAND, got \"%s\"", spec));
  }
  std::string command(spec.substr(eq + 1));
  absl::StatusOr<std::vector<std::string>> env = CommandEnvironment(pass_env);
  if (!env.ok()) return env.status();
  return registry.Register(spec.substr(0, eq), [command, env = *std::move(env)] {
    return std::make_unique<ExecJob>(command, env);
  });
}

}  // namespace resque::cli
