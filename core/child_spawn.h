// The two halves of starting an exec'd child, for core/child_process.cc only: what is made
// before the fork (program path, argv and environment, the stdio pipes) and what the child does
// between fork and exec (async-signal-safe calls only).
#ifndef RESQUE_CORE_CHILD_SPAWN_H_
#define RESQUE_CORE_CHILD_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/child_process.h"

namespace resque::spawn {

// Internal, naming the call: "pipe: Too many open files".
absl::Status ErrnoError(std::string_view what, int err);
// A close-on-exec pipe whose ends are both above stdio, so that dup2 onto 0, 1 and 2 in the
// child cannot overwrite one.
absl::Status MakePipe(int fds[2]);
void CloseIfOpen(int& fd);  // and sets it to -1
void SetNonBlocking(int fd);
// The control signals (TERM, INT, QUIT, HUP, USR1, USR2, CONT) back to their default action,
// every signal unblocked. Async-signal-safe.
void ResetSignals();
// In a child that has just left its parent's process group: takes back the control signals that
// reached it, blocked, while it was still in that group (a TERM to the worker's group as the
// child was forked): they were for the group, not for the child.
void DropSignalsForTheOldGroup();

// Everything an exec child needs, made before the fork.
struct ExecPlan {
  std::vector<std::string> args;  // what `argv` points into
  std::vector<std::string> env;   // what `envp` points into
  std::string path;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd = nullptr;
  bool die_with_parent = false;
  bool own_group = true;
  pid_t parent = 0;
  // The child's stdio (-1: keep the inherited one) and its end of the exec-error pipe.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int error_fd = -1;
  // This process's ends of the same pipes (-1: none).
  int parent_stdin = -1;
  int parent_stdout = -1;
  int parent_stderr = -1;
  int parent_error = -1;
};

// The descriptors made for one child before the fork: the child's ends (and /dev/null), closed
// here once it has them, and this process's ends, closed too unless released to the child's
// ChildProcess.
class PipeEnds {
 public:
  PipeEnds() = default;
  PipeEnds(const PipeEnds&) = delete;
  PipeEnds& operator=(const PipeEnds&) = delete;
  ~PipeEnds();

  absl::StatusOr<int> DevNull();
  // A pipe: returns the child's end and puts this process's in `*parent_end`.
  absl::StatusOr<int> Pipe(bool child_reads, int* parent_end);
  void CloseChildEnds();
  void ReleaseParentEnds() { parent_.clear(); }

 private:
  int devnull_ = -1;
  std::vector<int> child_;
  std::vector<int> parent_;
};

// The program (argv[0] looked up in PATH: NotFound if it is nowhere), argv and environment.
absl::Status PlanProgram(const ExecOptions& options, bool own_group, ExecPlan& plan);
// The child's stdin, stdout and stderr, and the exec-error pipe.
absl::Status PlanStdio(const ExecOptions& options, PipeEnds& ends, ExecPlan& plan);
// The child's side: process group, signals, stdio, cwd, exec. Never returns.
[[noreturn]] void ExecInChild(const ExecPlan& plan);
// In this process after the fork: waits for the exec (EOF on the exec-error pipe, which is
// close-on-exec) and says why it failed if it did; closes the pipe.
absl::Status ExecResult(const ExecPlan& plan, const ExecOptions& options);

}  // namespace resque::spawn

#endif  // RESQUE_CORE_CHILD_SPAWN_H_
