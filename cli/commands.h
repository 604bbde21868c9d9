// Internal to cli/: the options every subcommand shares and one entry point per subcommand.
#ifndef RESQUE_CLI_COMMANDS_H_
#define RESQUE_CLI_COMMANDS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "core/backend.h"
#include "core/job_registry.h"
#include "core/log.h"

namespace resque::cli {

struct GlobalOptions {
  std::string redis;  // empty: REDIS_BACKEND, then the command's default
  std::string ns = "resque";
  int db = -1;
  int verbosity = 0;  // -v 1 (info), -vv 2 (debug); 0: warning
  // Ruby's FAILURE_BACKEND: "redis" (one failure list) or "redis_multi_queue" (one per queue).
  std::string failure_backend = "redis";
  bool json = false;

  LogLevel log_level() const {
    return verbosity >= 2   ? LogLevel::kDebug
           : verbosity == 1 ? LogLevel::kInfo
                            : LogLevel::kWarning;
  }
};

// Every parse error (an unknown command or flag, a missing or bad value) exits with this, after
// one line "resque: <what> (see resque CMD --help)" on stderr: the Unix convention.
inline constexpr int kUsageExit = 2;

// `resque status ID`'s exit codes beyond 0 (complete, or not finished without --watch) and 1.
inline constexpr int kStatusFailedExit = 3;
inline constexpr int kStatusUnknownExit = 4;
inline constexpr int kStatusTimeoutExit = 5;  // --watch --timeout SEC reached

// Opens the backend the options name; `fallback_url` when none is given.
absl::StatusOr<std::unique_ptr<Backend>> Open(const GlobalOptions& global,
                                              const std::string& fallback_url);

// Opens the backend (redis://127.0.0.1:6379 unless told otherwise) and runs `body` on it;
// returns `body`'s exit code, or 1 with the error printed when the backend cannot be opened.
int WithBackend(const GlobalOptions& global, const std::function<int(Backend&)>& body);

// Prints "resque: <message>" on stderr and returns `code`.
int Fail(const absl::Status& status, int code = 1);

// Each Add* registers a subcommand on `app`; its callback stores the exit code in `*exit_code`.
void AddWork(CLI::App& app, GlobalOptions& global, JobRegistry& registry, int* exit_code);
void AddEnqueue(CLI::App& app, GlobalOptions& global, int* exit_code);
void AddStatus(CLI::App& app, GlobalOptions& global, int* exit_code);
void AddInspect(CLI::App& app, GlobalOptions& global, int* exit_code);  // queues, workers, stats
void AddFailed(CLI::App& app, GlobalOptions& global, int* exit_code);
void AddDemo(CLI::App& app, GlobalOptions& global, int* exit_code);
void AddPause(CLI::App& app, GlobalOptions& global, int* exit_code);      // pause, resume
void AddScheduler(CLI::App& app, GlobalOptions& global, int* exit_code);  // scheduler, delayed
void AddWeb(CLI::App& app, GlobalOptions& global, int* exit_code);        // web, top

}  // namespace resque::cli

#endif  // RESQUE_CLI_COMMANDS_H_
