// `resque work`: runs workers against a backend until a signal (or --burst / --max-jobs) stops
// them. Flags fall back to php-resque's environment variables (QUEUE, INTERVAL, COUNT, BLOCKING,
// PIDFILE); a flag beats its variable.
//
// Signals, as php-resque: QUIT finish the running jobs, then exit; TERM/INT stop them now and
// exit (with --shutdown-timeout: wait that long for them, then hand them back); USR1 stop the
// running jobs, keep working; USR2 pause; CONT resume. HUP (a closed terminal, a
// `systemctl kill -s HUP`) is a stop as TERM, as Ruby resque takes it, logged once, never a death
// that leaves the registration behind; a worker started with HUP ignored (nohup) keeps ignoring
// it. They are taken by one thread with sigtimedwait, so no handler ever runs inside job or
// library code; with --count the parent passes each on to every worker process.
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/exec_job.h"
#include "cli/flag_checks.h"
#include "cli/names.h"
#include "core/child_process.h"
#include "core/liveness.h"
#include "core/names.h"
#include "core/process_title.h"
#include "core/retry.h"
#include "core/scheduler.h"
#include "core/status_macros.h"
#include "core/worker.h"

namespace resque::cli {
namespace {

// A shorter poll interval is a busy loop against Redis; 0 is php-resque's and Ruby's "exit once
// the queues are empty".
constexpr double kMinInterval = 0.01;
// More jobs than a worker could take in centuries: a larger --max-jobs is a typo.
constexpr int64_t kMaxJobsLimit = 1'000'000'000'000'000;

struct WorkArgs {
  std::string queue;
  double interval = 5;
  bool blocking = false;
  int concurrency = 1;
  int batch = 1;
  int count = 1;
  bool fork = false;
  double timeout = 0;
  std::vector<std::string> load;
  std::vector<std::string> exec;
  std::vector<std::string> exec_env;
  std::vector<std::string> retry;     // CLASS=N, "*=N"
  std::optional<double> retry_delay;  // seconds between tries; default: Sidekiq's backoff
  std::string pidfile;
  bool burst = false;
  bool scheduler = false;  // run a Scheduler beside the worker
  int64_t max_jobs = 0;
  bool unreliable = false;
  double dead_after = 60;
  int64_t max_recoveries = 3;
  double peer_dead_after = 300;
  std::optional<double> shutdown_timeout;
  std::string log_level;  // empty: from -v (GlobalOptions::log_level)
  std::string log_format = "text";
  double summary_interval = 10;
};

// --log-level beats -v/-vv (and php's VERBOSE) when both are given.
LogLevel WorkLogLevel(const GlobalOptions& global, const WorkArgs& args) {
  if (args.log_level.empty()) return global.log_level();
  absl::StatusOr<LogLevel> level = ParseLogLevel(args.log_level);
  return level.ok() ? *level : global.log_level();  // the flag's check admits the four
}

// What a signal does, for its log line.
const char* SignalMeaning(int sig, bool shutdown_timeout) {
  switch (sig) {
    case SIGQUIT:
      return "finishing the running jobs, then exiting";
    case SIGHUP:
      return "stopping as for TERM";
    case SIGTERM:
    case SIGINT:
      return shutdown_timeout ? "exiting once the running jobs finish or go back"
                              : "stopping the running jobs and exiting";
    case SIGUSR1:
      return "stopping the running jobs, going on";
    case SIGUSR2:
      return "pausing";
    case SIGCONT:
      return "resuming";
  }
  return "ignored";
}

// HUP is taken too unless the worker was started with it ignored (nohup), which it honours.
sigset_t ControlSignals() {
  static const bool hup_ignored = [] {
    struct sigaction old {};
    return sigaction(SIGHUP, nullptr, &old) == 0 && old.sa_handler == SIG_IGN;
  }();
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCONT}) sigaddset(&set, sig);
  if (!hup_ignored) sigaddset(&set, SIGHUP);
  return set;
}

// Waits for control signals and hands each to `on_signal` until `done`.
void SignalLoop(const std::atomic<bool>& done, const std::function<void(int)>& on_signal) {
  const sigset_t set = ControlSignals();
  const timespec tick{0, 100 * 1000 * 1000};
  while (!done.load()) {
    const int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) on_signal(sig);
  }
}

// Loads each --load library. A class that two of them register, or one of them and the program
// (an embedding one), is refused naming both, as a --load/--exec clash is: the first would win
// silently and the other's jobs would run the wrong code.
absl::Status LoadJobs(const WorkArgs& args, JobRegistry& registry) {
  absl::flat_hash_map<std::string, std::string> registered_by;  // class -> "--load LIB"
  for (std::string& name : JobRegistry::Global().ClassNames()) {
    registered_by.try_emplace(name, "the program");
  }
  (void)internal::TakeRefusedRegistrations();  // the program's own, not ours to judge
  for (const std::string& path : args.load) {
    // dlopen reads a name without a '/' as a library to search for (LD_LIBRARY_PATH, the
    // system's directories), never as the file here that the user named.
    const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
    // RTLD_NODELETE: job code must stay mapped while factories it registered are alive.
    if (dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat("--load %s: %s", path, dlerror()));
    }
    std::vector<std::string> clashes = internal::TakeRefusedRegistrations();
    for (std::string& name : JobRegistry::Global().ClassNames()) {
      const bool added_now = registered_by.try_emplace(name, "--load " + path).second;
      if (added_now && registry.Contains(name)) {  // the embedding program's own class
        registered_by[name] = "the program";
        clashes.push_back(name);
      }
    }
    for (const std::string& name : clashes) {
      const std::string& first = registered_by[name];
      if (first == "--load " + path) {
        return absl::InvalidArgumentError(
            absl::StrFormat("--load %s registers job class \"%s\" twice", path, name));
      }
      return absl::InvalidArgumentError(absl::StrFormat(
          "job class \"%s\" is registered by both %s and --load %s: give each class one library",
          name, first, path));
    }
  }
  registry.Merge(JobRegistry::Global());
  for (const std::string& spec : args.exec) {
    RESQUE_RETURN_IF_ERROR(RegisterExecJob(spec, registry, args.exec_env));
  }
  return absl::OkStatus();
}

// --log-format json: whatever this process and its children write to stderr (an --exec
// command's lines, a --load job's std::cerr, a forked job's) goes through a pipe and comes out
// as JSON lines ("source":"stderr", level info, shown at every level as in text), so that every
// line of the stream parses; the worker's own lines are written to the real stderr directly.
// The pipe is read by a relay process, not a thread: what a worker writes just before it dies
// (an abort's message, a sanitizer's report) is in the pipe when it dies, and the relay, which
// reads until every writer is gone, still passes it on.
class JsonStderr {
 public:
  JsonStderr() = default;
  JsonStderr(const JsonStderr&) = delete;
  JsonStderr& operator=(const JsonStderr&) = delete;

  // Starts the relay; returns the descriptor of the real stderr, for the log sink. Called while
  // the process has one thread and holds nothing a relay must not keep (the pid file's lock).
  absl::StatusOr<int> Start() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Error("pipe");
    real_ = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (real_ < 0) {
      const absl::Status error = Error("dup");
      close(fds[0]);
      close(fds[1]);
      return error;
    }
    relay_ = fork();
    if (relay_ < 0) {
      const absl::Status error = Error("fork");
      close(fds[0]);
      close(fds[1]);
      close(std::exchange(real_, -1));
      return error;
    }
    if (relay_ == 0) {
      // The control signals stay blocked (the caller blocked them): a TERM to the process group
      // stops the worker, and the relay ends when the worker and its children are gone.
      close(fds[1]);
      Copy(fds[0], real_);
      _exit(0);
    }
    close(fds[0]);
    if (dup2(fds[1], STDERR_FILENO) < 0) {
      const absl::Status error = Error("dup");
      close(fds[1]);
      return error;  // the relay ends at once: no writer
    }
    close(fds[1]);
    return real_;
  }

  // Puts the real stderr back, which ends the relay once this process's children are gone too;
  // waits for it a moment so that its last lines come before the shell's prompt.
  ~JsonStderr() {
    if (real_ < 0) return;
    dup2(real_, STDERR_FILENO);
    close(real_);
    if (relay_ <= 0) return;
    for (int i = 0; i < 100; ++i) {  // 1 s at most: a job's stray process may hold the pipe
      const pid_t r = waitpid(relay_, nullptr, WNOHANG);
      if (r == relay_ || (r < 0 && errno != EINTR)) return;
      usleep(10 * 1000);
    }
  }

 private:
  static absl::Status Error(const char* what) {
    return absl::InternalError(
        absl::StrFormat("--log-format json: %s: %s", what, std::strerror(errno)));
  }

  static void Copy(int from, int to) {
    const LogSink sink = FdLogSink(to, LogLevel::kDebug, LogFormat::kJson);
    std::string pending;
    const auto flush = [&](std::string_view line) {
      sink(LogLevel::kInfo, line, {.source = "stderr"});
    };
    char buf[4096];
    for (;;) {
      const ssize_t n = read(from, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // every writer is gone
      pending.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        flush(std::string_view(pending).substr(start, nl - start));
      }
      pending.erase(0, start);
      // A line without an end is cut where a log line would be.
      if (pending.size() >= kMaxLogLineBytes) {
        flush(pending);
        pending.clear();
      }
    }
    if (!pending.empty()) flush(pending);
  }

  int real_ = -1;
  pid_t relay_ = -1;
};

// The pid file, held with an exclusive flock on a descriptor kept open for the process's life:
// a second worker given the same file is refused while this one (or a worker process of its
// --count, which shares the lock) lives, and a file whose worker died, lock and all, is taken
// over. Only its owner removes it, and only while the name still points at the file it locked.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  absl::Status Take() {
    if (path_.empty()) return absl::OkStatus();
    // An owner that is exiting unlinks the file we may have just opened: open the new one.
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return Error("cannot open", errno);
      if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char pid[32] = {};
        const ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        close(fd);
        if (err != EWOULDBLOCK) return Error("cannot lock", err);
        return absl::FailedPreconditionError(absl::StrFormat(
            "pid file %s is held by a running worker (pid %s): give each worker its own", path_,
            n > 0 ? absl::StripAsciiWhitespace(absl::string_view(pid, n)) : "unknown"));
      }
      fd_ = fd;
      if (!Named()) {
        close(std::exchange(fd_, -1));
        continue;
      }
      owner_ = getpid();
      const std::string pid = absl::StrFormat("%d\n", owner_);
      if (ftruncate(fd_, 0) != 0 ||
          pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        Release();
        return Error("cannot write", err);
      }
      return absl::OkStatus();
    }
    return absl::UnavailableError(absl::StrFormat("pid file %s keeps being replaced", path_));
  }

  ~PidFile() { Release(); }

 private:
  absl::Status Error(const char* what, int err) const {
    return absl::PermissionDeniedError(
        absl::StrFormat("%s pid file %s: %s", what, path_, std::strerror(err)));
  }

  // Whether path_ still names the file fd_ locked.
  bool Named() const {
    struct stat held {};
    struct stat named {};
    return fstat(fd_, &held) == 0 && stat(path_.c_str(), &named) == 0 &&
           held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  }

  // Unlinked before the lock goes, so a worker waiting on this file sees it is gone.
  void Release() {
    if (fd_ < 0) return;
    if (getpid() == owner_ && Named()) unlink(path_.c_str());
    close(std::exchange(fd_, -1));
  }

  std::string path_;
  int fd_ = -1;
  pid_t owner_ = 0;  // a forked worker process of --count never removes its parent's file
};

int RunOneProcess(const GlobalOptions& global, const WorkArgs& args, JobRegistry& registry,
                  int log_fd) {
  const bool json_log = args.log_format == "json";
  const LogSink log =
      FdLogSink(log_fd, WorkLogLevel(global, args), json_log ? LogFormat::kJson : LogFormat::kText);
  // In JSON, the error it ends with is a line of the stream as any other.
  const auto fail = [&](const absl::Status& error) {
    if (!json_log) return Fail(error);
    log(LogLevel::kError, std::string_view(error.message().data(), error.message().size()));
    return 1;
  };
  absl::StatusOr<std::unique_ptr<Backend>> backend = Open(global, "redis://127.0.0.1:6379");
  if (!backend.ok()) return fail(backend.status());
  WorkerOptions options;
  options.queues =
      ParseQueueList(args.queue).value_or(std::vector<std::string>{});  // RunWork checked it
  options.blocking = args.blocking;
  options.interval = absl::Seconds(args.interval);
  options.concurrency = args.concurrency;
  options.batch = args.batch;
  options.fork = args.fork;
  options.job_timeout = absl::Seconds(args.timeout);
  options.burst = args.burst;  // the Worker takes a polling --interval 0 as burst, too
  options.max_jobs = args.max_jobs;
  options.reliable = !args.unreliable;
  options.dead_after = absl::Seconds(args.dead_after);
  options.max_recoveries = args.max_recoveries;
  options.peer_dead_after = absl::Seconds(args.peer_dead_after);
  options.log = log;
  options.summary_interval = absl::Seconds(args.summary_interval);
  if (args.shutdown_timeout) options.shutdown_timeout = absl::Seconds(*args.shutdown_timeout);
  for (const std::string& flag : args.retry) {
    absl::StatusOr<std::pair<std::string, int>> retry = ParseRetryFlag(flag);  // RunWork checked it
    if (!retry.ok()) continue;
    RetryPolicy policy{.retries = retry->second};
    if (args.retry_delay.has_value()) {
      policy.delay = [wait = absl::Seconds(*args.retry_delay)](int) { return wait; };
    }
    options.retry.insert_or_assign(retry->first, std::move(policy));
  }
  Worker worker(**backend, registry, options);
  // In the peers' form, so that their pruning counts this process (and a forked job's, which
  // keeps the title) as a live worker of this host; docs/wire-format.md, "Worker ids".
  const std::string waiting = "Waiting for " + absl::StrJoin(options.queues, ",");
  SetProcessTitle(waiting);

  std::atomic<bool> done{false};
  std::thread signals([&] {
    SignalLoop(done, [&](int sig) {
      // HUP is a stop nobody may have meant (a closed terminal): said louder.
      options.log(sig == SIGHUP ? LogLevel::kWarning : LogLevel::kInfo,
                  absl::StrFormat("SIG%s: %s", sigabbrev_np(sig),
                                  SignalMeaning(sig, args.shutdown_timeout.has_value())));
      switch (sig) {
        case SIGQUIT:
          SetProcessTitle("Finishing its jobs, then exiting");
          worker.RequestStop(StopMode::kGraceful);
          break;
        case SIGHUP:  // a stop as for TERM, said once: see the header
          [[fallthrough]];
        case SIGTERM:
        case SIGINT:  // with --shutdown-timeout, a second one ends the wait (Worker::RequestStop)
          SetProcessTitle(args.shutdown_timeout ? "Exiting once its jobs finish or go back"
                                                : "Exiting");
          worker.RequestStop(StopMode::kImmediate);
          break;
        case SIGUSR1:
          worker.KillRunningJobs();
          break;
        case SIGUSR2:
          SetProcessTitle("Paused");
          worker.Pause();
          break;
        case SIGCONT:
          SetProcessTitle(waiting);
          worker.Resume();
          break;
      }
    });
  });
  // A scheduler beside the slots: it leads only while it holds the fleet's leader lock, so every
  // worker of a fleet may be given --scheduler.
  std::unique_ptr<Scheduler> scheduler;
  std::thread scheduling;
  if (args.scheduler) {
    scheduler = std::make_unique<Scheduler>(**backend, SchedulerOptions{.log = log});
    scheduling = std::thread([&] { (void)scheduler->Run(); });
  }
  absl::Status result = worker.Run();
  if (scheduler != nullptr) {
    scheduler->Stop();
    scheduling.join();
  }
  done.store(true);
  signals.join();
  return result.ok() ? 0 : fail(result);
}

// COUNT > 1: one worker process per count, as php-resque forks; signals are passed on.
int RunProcesses(const GlobalOptions& global, const WorkArgs& args, JobRegistry& registry,
                 int log_fd) {
  SetProcessTitle(absl::StrFormat("Supervising %d workers for %s", args.count, args.queue));
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < args.count; ++i) {
    // The child keeps the blocked control signals (its own SignalLoop takes them), and its
    // jobs' commands get groups of their own: a QUIT passed on to it is not for them.
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Fork([&](int) { return RunOneProcess(global, args, registry, log_fd); },
                           {.reset_signals = false, .exec_children_join_group = false});
    if (!child.ok()) {
      Fail(child.status());
      for (auto& started : children) (void)started->Signal(SIGTERM);
      break;
    }
    children.push_back(*std::move(child));
  }
  std::atomic<bool> done{false};
  std::thread signals([&] {
    SignalLoop(done, [&](int sig) {
      for (auto& child : children) (void)child->Signal(sig);
    });
  });
  int code = 0;
  for (auto& child : children) {
    absl::StatusOr<ChildExit> exit = child->Wait();
    if (!exit.ok() || !exit->Succeeded()) code = 1;
  }
  done.store(true);
  signals.join();
  return children.size() == static_cast<size_t>(args.count) ? code : 1;
}

int RunWork(const GlobalOptions& global, const WorkArgs& args, JobRegistry& registry) {
  // A job's output reaches a pipe (systemd, docker, a log collector) line by line, as on a
  // terminal, rather than in blocks at exit, when a kill -9 would lose it.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (args.queue.empty()) {
    return Fail(absl::InvalidArgumentError("work needs --queue (or QUEUE): q1,q2 or '*'"));
  }
  if (absl::Status s = ParseQueueList(args.queue).status(); !s.ok()) return Fail(s, kUsageExit);
  // Checked before anything starts, once for every process of --count.
  if (absl::Status s =
          CheckLivenessOptions({.heartbeat_interval = WorkerOptions().heartbeat_interval,
                                .dead_after = absl::Seconds(args.dead_after),
                                .peer_dead_after = absl::Seconds(args.peer_dead_after)});
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = LoadJobs(args, registry); !s.ok()) return Fail(s);
  if (registry.ClassNames().empty()) {
    return Fail(absl::FailedPreconditionError(
        "no job classes: give --load LIB.so or --exec CLASS=COMMAND, or embed the worker"));
  }
  for (const std::string& flag : args.retry) {
    absl::StatusOr<std::pair<std::string, int>> retry = ParseRetryFlag(flag);
    if (!retry.ok()) return Fail(retry.status(), kUsageExit);
    if (retry->first != "*" && !registry.Contains(retry->first)) {
      return Fail(absl::InvalidArgumentError(absl::StrFormat(
                      "--retry %s: no job class of this worker is named \"%s\" (it has %s)", flag,
                      retry->first, absl::StrJoin(registry.ClassNames(), ", "))),
                  kUsageExit);
    }
  }
  // Blocked in every thread (threads inherit the mask) so only SignalLoop takes them.
  const sigset_t set = ControlSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a dead peer (Redis, an --exec command) is an error, not death
  // The relay first: it must not inherit the pid file's lock, which would outlive the worker.
  JsonStderr json_stderr;
  int log_fd = STDERR_FILENO;
  if (args.log_format == "json") {
    absl::StatusOr<int> real = json_stderr.Start();
    if (!real.ok()) return Fail(real.status());
    log_fd = *real;
  }
  PidFile pidfile(args.pidfile);
  if (absl::Status s = pidfile.Take(); !s.ok()) return Fail(s);
  return args.count > 1 ? RunProcesses(global, args, registry, log_fd)
                        : RunOneProcess(global, args, registry, log_fd);
}

}  // namespace

void AddWork(CLI::App& app, GlobalOptions& global, JobRegistry& registry, int* exit_code) {
  auto args = std::make_shared<WorkArgs>();
  CLI::App* cmd = app.add_subcommand("work", "Run workers until a signal stops them");
  cmd->add_option("-q,--queue", args->queue, "Queues in priority order: q1,q2 or '*'")
      ->envname("QUEUE");
  cmd->add_option("-i,--interval", args->interval, "Seconds between polls of empty queues")
      ->envname("INTERVAL")
      ->check(Seconds(0, kMaxSeconds))
      ->check(ZeroOrAtLeast(kMinInterval, "polling: exit once the queues are empty"))
      ->capture_default_str();
  cmd->add_flag("-b,--blocking", args->blocking, "Wait for jobs (BLPOP) instead of polling")
      ->envname("BLOCKING");
  cmd->add_option("-c,--concurrency", args->concurrency, "Execution slots (threads) per process")
      ->check(WholeNumber(1, 1024))
      ->capture_default_str();
  cmd->add_option("--batch", args->batch,
                  "Jobs a slot may reserve and record at once while they stay quick (1: one at "
                  "a time; see docs/worker.md)")
      ->envname("BATCH")
      ->check(WholeNumber(1, 1000))
      ->capture_default_str();
  cmd->add_option("--count", args->count, "Worker processes (php-resque's COUNT)")
      ->envname("COUNT")
      ->check(WholeNumber(1, 256))
      ->capture_default_str();
  cmd->add_flag("--fork", args->fork, "Perform each job in a child process");
  cmd->add_option("--timeout", args->timeout, "Per-job timeout in seconds (0: none)")
      ->check(Seconds(0, kMaxSeconds));
  cmd->add_option("--load", args->load,
                  "Shared library whose jobs register themselves (php-resque's APP_INCLUDE names "
                  "one; repeatable)")
      ->envname("APP_INCLUDE")
      ->check(CLI::ExistingFile);
  cmd->add_option("--exec", args->exec, "CLASS=COMMAND: perform CLASS jobs with a shell command");
  cmd->add_option("--exec-env", args->exec_env,
                  "NAME: pass this variable of the worker's environment to --exec commands too "
                  "(repeatable; they get only PATH, HOME, LANG and their RESQUE_* otherwise)");
  cmd->add_option("--retry", args->retry,
                  "CLASS=N: retry a failed CLASS job up to N times, with backoff, through the "
                  "delayed jobs (\"*=N\": every class without a policy of its own; repeatable)");
  cmd->add_option("--retry-delay", args->retry_delay,
                  "Seconds between the tries of --retry (default: Sidekiq's backoff, "
                  "retry^4 + 15 + rand(10) * (retry + 1))")
      ->check(Seconds(0, kMaxSeconds));
  cmd->add_option("--pidfile", args->pidfile, "Write the pid here")->envname("PIDFILE");
  cmd->add_flag("--burst", args->burst, "Exit once the queues are empty");
  cmd->add_flag("--scheduler", args->scheduler,
                "Also move due delayed jobs to their queues (as `resque scheduler`, leading only "
                "while it holds the fleet's leader lock)");
  cmd->add_option("--max-jobs", args->max_jobs, "Exit after this many jobs (0: no limit)")
      ->check(WholeNumber(0, kMaxJobsLimit));
  cmd->add_option("--shutdown-timeout", args->shutdown_timeout,
                  "On TERM/INT, seconds to wait for running jobs, then hand them back to their "
                  "queues (default: fail them at once, resque::JobKilled; needs reliable reserve)")
      ->check(Seconds(0, kMaxSeconds));
  cmd->add_flag("--unreliable", args->unreliable,
                "Take jobs with LPOP/BLPOP as php-resque does (no in-flight list: a worker "
                "killed mid-job loses its job)");
  cmd->add_option("--dead-after", args->dead_after,
                  "Seconds without a heartbeat after which this worker's slots count as dead "
                  "and their jobs are recovered (declared to every worker; at least 16)")
      ->check(Seconds(0, kMaxSeconds))
      ->capture_default_str();
  cmd->add_option("--max-recoveries", args->max_recoveries,
                  "Times a worker may die running one job before it is failed (resque::PoisonJob)")
      ->check(WholeNumber(1, 1000000))
      ->capture_default_str();
  cmd->add_option(
         "--peer-dead-after", args->peer_dead_after,
         "Seconds a heartbeat with no declared dead-after (a Ruby resque worker's) may "
         "age before its worker counts as dead: Ruby's Resque.prune_interval (at least 60)")
      ->check(Seconds(0, kMaxSeconds))
      ->capture_default_str();
  cmd->add_option("--log-level", args->log_level,
                  "Log this level and the ones above it: error, warning, info (each job's start "
                  "and end), debug (default: warning; -v info, -vv debug)")
      ->envname("LOG_LEVEL")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
  cmd->add_option("--log-format", args->log_format,
                  "text, or json: one object a line (time, level, msg, worker, class, id, queue, "
                  "duration_ms, ...) for log shippers")
      ->envname("LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--summary-interval", args->summary_interval,
                  "Seconds between summary lines at info while jobs run: jobs, jobs/s, failures, "
                  "busy slots (0: none; nothing while idle)")
      ->check(Seconds(0, kMaxSeconds))
      ->capture_default_str();
  cmd->callback(
      [&global, &registry, args, exit_code] { *exit_code = RunWork(global, *args, registry); });
}

}  // namespace resque::cli
