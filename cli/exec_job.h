// ExecJob: performs a job by running a shell command (`resque work --exec CLASS=COMMAND`), so
// jobs can be written in any language. The command runs under /bin/sh -c with the payload's args
// (JSON) on stdin; the payload never becomes part of a command line. Its environment is clean:
// RESQUE_JOB_ID, RESQUE_QUEUE, RESQUE_CLASS, the worker's PATH, HOME and LANG, and the variables
// `resque work --exec-env NAME` names, never the rest of the worker's (REDIS_BACKEND, with the
// Redis password, stays in the worker). Exit status 0 is complete; anything else is a failure
// whose record carries the last lines of the command's stderr as its backtrace, and how the
// command ended with its last stderr line as its error. The command runs in a process group of its
// own, which a cancel (TERM, USR1, --timeout) kills whole: the shell and what it started.
#ifndef RESQUE_CLI_EXEC_JOB_H_
#define RESQUE_CLI_EXEC_JOB_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/job_registry.h"

namespace resque::cli {

// Parses "CLASS=COMMAND" and registers an ExecJob for CLASS in `registry`, whose commands also
// get the variables `pass_env` names (their values now; one not set is left out).
// InvalidArgument for a spec without CLASS=COMMAND, a name that is not a variable name, and
// REDIS_BACKEND.
absl::Status RegisterExecJob(std::string_view spec, JobRegistry& registry,
                             const std::vector<std::string>& pass_env = {});

}  // namespace resque::cli

#endif  // RESQUE_CLI_EXEC_JOB_H_
