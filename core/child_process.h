// ChildProcess: one child process, owned. Started by exec of an argv (with its stdin fed and its
// output captured) or by running a function in a forked copy of this process; in a process group
// of its own (or, started from a forked job process, in that one's: see ForkOptions), so that a
// signal reaches whatever the child started too (the command under /bin/sh -c); killed and
// reaped at the latest when the object goes.
//
//   ExecOptions options;
//   options.argv = {"/bin/sh", "-c", "tr a-z A-Z"};
//   options.stdin_data = "hello";
//   options.stdout_to = Output::Capture();
//   RESQUE_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Exec(options));
//   absl::StatusOr<ChildExit> exit = child->Wait(absl::Now() + absl::Seconds(5));
//   if (absl::IsDeadlineExceeded(exit.status())) exit = child->Terminate();
//   // child->out() == "HELLO", exit->Succeeded()
//
// Threads: any number of threads may start children at once. Every pipe end is opened O_CLOEXEC,
// which keeps it out of an exec'd child, but a forked child that does not exec keeps every
// descriptor of this process; so the parent's ends of all pipes of live ChildProcess objects are
// registered under one process-wide mutex, which is also held from the pipes' creation to the
// parent's closing of the child's ends, and a function child closes all of them first thing. So
// no child holds another child's pipe: a slot always sees EOF on its own child's pipes.
// Signal() may be called from another thread while one thread is in Wait() (a stop request
// kills a child that a slot waits for); everything else is for one thread at a time.
//
// A fork() made elsewhere in the process (not through Fork) while another thread starts a child
// may copy the mutex held into its child: such a child must exec or _exit, not start children.
//
// Waiting uses a pidfd (poll(2) tells when the child ends), never SIGCHLD, so no handler or lost
// signal is involved; this process must not set SIGCHLD to SIG_IGN nor reap with waitpid(-1).
// Without pidfd_open (Linux < 5.3) Wait() looks with waitid at growing intervals up to 50 ms.
#ifndef RESQUE_CORE_CHILD_PROCESS_H_
#define RESQUE_CORE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <csignal>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/bounded_text.h"

namespace resque {

// How a child ended: exited with a code, or killed by a signal.
struct ChildExit {
  int exit_code = -1;  // 0..255 when it exited, else -1
  int signal = 0;      // the signal that ended it, else 0

  bool Succeeded() const { return exit_code == 0; }
  // "exited with 3" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

// Where a child's stdout or stderr goes.
class Output {
 public:
  static Output Inherit() { return Output(kInherit, -1); }  // this process's own stream
  static Output Discard() { return Output(kDiscard, -1); }  // /dev/null
  static Output Capture() { return Output(kCapture, -1); }  // kept, read with out() / err()
  // Kept, and also written to `fd` as it comes (a live log); `fd` stays the caller's. With a
  // `line_limit`, the copy of a line stops at that many bytes and says "..." (what is kept is
  // not cut).
  static Output CaptureAndCopyTo(int fd, size_t line_limit = 0) {
    return Output(kCapture, fd, line_limit);
  }
  // Straight to `fd` (a log file), which stays the caller's.
  static Output To(int fd) { return Output(kFd, fd); }

  bool discarded() const { return kind_ == kDiscard; }
  bool captured() const { return kind_ == kCapture; }
  // The descriptor of To(), or the copy's of CaptureAndCopyTo(); else -1.
  int fd() const { return fd_; }
  size_t line_limit() const { return line_limit_; }  // the copy's; 0: none

 private:
  enum Kind { kInherit, kDiscard, kCapture, kFd };
  Output(Kind kind, int fd, size_t line_limit = 0)
      : kind_(kind), fd_(fd), line_limit_(line_limit) {}
  Kind kind_;
  int fd_;
  size_t line_limit_;
};

struct ExecOptions {
  // argv[0] is a path, or a name looked up in PATH (before the fork: NotFound if it is nowhere).
  std::vector<std::string> argv;
  // NAME=VALUE entries added to this process's environment; each replaces a variable of its name.
  std::vector<std::string> env;
  bool inherit_environment = true;  // false: the child gets `env` only
  std::string cwd;                  // empty: this process's
  // Written to the child's stdin while its output is read (Wait), then closed; a child that stops
  // reading ends the input, it is not an error. Empty: stdin is /dev/null.
  std::string stdin_data;
  Output stdout_to = Output::Inherit();
  Output stderr_to = Output::Inherit();
  // Bytes kept per captured stream: the first and the last half of it; what lies between is
  // replaced by a line "[... N bytes not kept ...]".
  size_t capture_limit = 1 << 20;
  // SIGKILL the child when the thread that started it ends (PR_SET_PDEATHSIG), so that a crashed
  // test leaves nothing behind. Only for children started from a long-lived thread.
  bool die_with_parent = false;
};

struct ForkOptions {
  // Set the control signals (TERM, INT, QUIT, HUP, USR1, USR2, CONT) back to their default
  // action and unblock every signal in the child, as a job's process wants: a handler or a
  // signal-taking thread of the parent does not exist there. False: the child keeps this
  // process's dispositions and mask (a worker process with its own signal thread).
  bool reset_signals = true;
  // Children that the forked child starts with Exec stay in its process group instead of each
  // getting one of their own, so that a kill of this child's group ends them too (a job's
  // process and the command it runs). False: they get their own groups (a worker process, whose
  // signals are not for its jobs' commands).
  bool exec_children_join_group = true;
};

class ChildProcess {
 public:
  // Starts `options.argv`. InvalidArgument for an empty argv, NotFound when argv[0] is not found,
  // Internal naming the call when a pipe, fork, chdir or exec fails (an exec failure is seen
  // here, not as an exit code).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Exec(const ExecOptions& options);

  // Runs `body(report_fd)` in a forked child, which then _exit()s with what it returned: the
  // child never returns into the caller's stack, an exception out of `body` ends it with code 70,
  // and exit() from job code skips this program's atexit handlers and static destructors (they
  // belong to the parent). `body` may write to `report_fd`, a pipe that Wait() reads into
  // report(). stdout and stderr are this process's (flushed before the fork, so nothing buffered
  // is written twice). Only async-signal-safe work is certain in a child of a threaded process:
  // make what `body` needs (objects, allocations under another thread's lock) before the call.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Fork(const std::function<int(int)>& body,
                                                            const ForkOptions& options = {});

  // Kills the child's process group and reaps the child, if it was not reaped yet; bounded by
  // Terminate()'s bound.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `sig` to the child's process group (the child and what it started that did not leave
  // the group). Thread-safe, also while another thread is in Wait(). FailedPrecondition once the
  // child was reaped (its pid may belong to another process by then).
  absl::Status Signal(int sig);
  absl::Status Kill() { return Signal(SIGKILL); }

  // Feeds stdin and reads the captured output and the report until the child has ended and its
  // captured output is at EOF, then reaps it. A child is over when it has ended: what it left
  // running in its process group (`cmd &` under the shell) is killed then (SIGKILL), and output
  // held open by a process outside the group is read for at most about 2 s more. DeadlineExceeded
  // if `deadline` passes first: the child is left as it is, and Wait may be called again. Once
  // reaped, returns the same ChildExit each time.
  absl::StatusOr<ChildExit> Wait(absl::Time deadline = absl::InfiniteFuture());

  // SIGKILLs the process group and waits for the child (at most about 2 s for output held open
  // by a process outside the group, then it stops reading), reaps it and says how it ended.
  ChildExit Terminate();

  // Captured stdout and stderr, and what a Fork() child wrote to its report pipe: complete once
  // Wait() returned a ChildExit.
  const std::string& out() const { return out_.text.text(); }
  const std::string& err() const { return err_.text.text(); }
  const std::string& report() const { return report_.text.text(); }

 private:
  // A stream read from the child.
  struct Capture {
    int fd = -1;
    int copy_to = -1;  // also written here as it comes (-1: not)
    size_t copy_line_limit = 0;
    size_t copy_line_bytes = 0;  // of the line being copied, seen so far
    BoundedText text;
  };

  ChildProcess() = default;
  void OpenPidfd();  // pidfd_, registered; stays -1 where pidfd_open is missing
  // Reads one chunk of `c`; closes it at EOF or on an error.
  void ReadSome(Capture& c);
  // Writes `data` to c.copy_to, each line cut to c.copy_line_limit.
  static void Copy(Capture& c, std::string_view data);
  void WriteSomeStdin();
  void ClosePipe(int& fd);
  void CloseAllPipes();
  // Reaps the child, which has ended or is about to (blocks until it has).
  ChildExit Reap();
  // Once the child has ended: kills what is left in its group and starts the bound on reading
  // output that something else holds open.
  void EndLeftovers();

  pid_t pid_ = -1;
  int pidfd_ = -1;  // -1 where pidfd_open is not available: then Wait polls at short intervals
  int stdin_fd_ = -1;
  std::string stdin_data_;
  size_t stdin_written_ = 0;
  Capture out_;
  Capture err_;
  Capture report_;
  bool ended_ = false;      // the child has ended (a zombie until reaped)
  bool own_group_ = false;  // the child leads a process group of its own
  // Set as the end is seen: output still open then is not read past this.
  absl::Time drain_end_ = absl::InfiniteFuture();

  std::mutex mu_;        // orders Signal() against the reaping in Wait()
  bool reaped_ = false;  // guarded by mu_
  ChildExit exit_;
};

}  // namespace resque

#endif  // RESQUE_CORE_CHILD_PROCESS_H_
