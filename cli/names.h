// How the `resque` command takes names: a queue, class or namespace that not every worker can
// use (core/names.h) is a usage error, refused before anything reaches Redis.
//
//   if (absl::Status s = CheckQueueName(queue); !s.ok()) return Fail(s, kUsageExit);
//   CheckNamespaceOnceParsed(app, global);  // in Main, before app.parse
#ifndef RESQUE_CLI_NAMES_H_
#define RESQUE_CLI_NAMES_H_

#include "CLI/CLI.hpp"
#include "cli/commands.h"

namespace resque::cli {

// The exit code of a usage error, a refused name among them (docs/cli.md).
inline constexpr int kUsageExit = 2;

// Checks --namespace (or PREFIX) once the command line is read, before any command runs: a
// namespace CheckNamespace refuses (a trailing ':' is dropped first, as Open does) is printed as
// one line and the command exits kUsageExit. An empty PREFIX is unset, as php-resque takes it.
void CheckNamespaceOnceParsed(CLI::App& app, const GlobalOptions& global);

}  // namespace resque::cli

#endif  // RESQUE_CLI_NAMES_H_
