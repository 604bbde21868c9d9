// The `resque` command as a library: a program that embeds the worker with its own jobs calls
// resque::cli::Main from its main(), and gets every subcommand and flag of `resque`.
//
//   int main(int argc, char** argv) {
//     resque::JobRegistry registry;
//     (void)registry.Register<SendEmail>("SendEmail");
//     return resque::cli::Main(argc, argv, registry);  // e.g. `./myapp work --queue mail`
//   }
#ifndef RESQUE_CLI_CLI_H_
#define RESQUE_CLI_CLI_H_

#include "core/job_registry.h"

namespace resque::cli {

// Parses the command line, runs the subcommand, returns the process exit code. Jobs come from
// `registry`, from JobRegistry::Global() (RESQUE_REGISTER_JOB) and from `work --load` libraries.
int Main(int argc, char** argv, JobRegistry& registry);

}  // namespace resque::cli

#endif  // RESQUE_CLI_CLI_H_
