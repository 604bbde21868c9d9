// How the `resque` command takes names: a queue, class or namespace that not every worker can
// use (core/names.h) is a usage error, refused before anything reaches Redis.
//
//   if (absl::Status s = CheckQueueName(queue); !s.ok()) return Fail(s, kUsageExit);
//   CheckNamespaceParsed(global);  // in Main, once the command line is read
#ifndef RESQUE_CLI_NAMES_H_
#define RESQUE_CLI_NAMES_H_

#include "CLI/CLI.hpp"
#include "cli/commands.h"

namespace resque::cli {

// Checks --namespace (or PREFIX) once the command line is read, before any command runs: a
// namespace CheckNamespace refuses (a trailing ':' is dropped first, as Open does) is printed as
// one line, and CLI::RuntimeError(kUsageExit) is thrown to end the parse with nothing more
// printed. An empty PREFIX is unset, as php-resque takes it.
void CheckNamespaceParsed(const GlobalOptions& global);

}  // namespace resque::cli

#endif  // RESQUE_CLI_NAMES_H_
