// `resque work`: runs workers against a backend until a signal (or --burst / --max-jobs) stops
// them. Flags fall back to php-resque's environment variables (QUEUE, INTERVAL, COUNT, BLOCKING,
// PIDFILE); a flag beats its variable.
//
// Signals, as php-resque: QUIT finish the running jobs, then exit; TERM/INT stop them now and
// exit; USR1 stop the running jobs, keep working; USR2 pause; CONT resume. They are taken by one
// thread with sigtimedwait, so no handler ever runs inside job or library code.
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/exec_job.h"
#include "core/child_process.h"
#include "core/liveness.h"
#include "core/process_title.h"
#include "core/status_macros.h"
#include "core/worker.h"

namespace resque::cli {
namespace {

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
  std::string pidfile;
  bool burst = false;
  int64_t max_jobs = 0;
  bool unreliable = false;
  double dead_after = 60;
  int64_t max_recoveries = 3;
  double peer_dead_after = 300;
};

sigset_t ControlSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCONT}) sigaddset(&set, sig);
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

absl::Status LoadJobs(const WorkArgs& args, JobRegistry& registry) {
  for (const std::string& path : args.load) {
    // dlopen reads a name without a '/' as a library to search for (LD_LIBRARY_PATH, the
    // system's directories), never as the file here that the user named.
    const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
    // RTLD_NODELETE: job code must stay mapped while factories it registered are alive.
    if (dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat("--load %s: %s", path, dlerror()));
    }
  }
  registry.Merge(JobRegistry::Global());
  for (const std::string& spec : args.exec) {
    RESQUE_RETURN_IF_ERROR(RegisterExecJob(spec, registry));
  }
  return absl::OkStatus();
}

class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  absl::Status Write() {
    if (path_.empty()) return absl::OkStatus();
    std::ofstream out(path_, std::ios::trunc);
    out << getpid() << "\n";
    if (!out) {
      const std::string path = path_;
      path_.clear();
      return absl::PermissionDeniedError(absl::StrFormat("cannot write pid file %s", path));
    }
    return absl::OkStatus();
  }
  ~PidFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }

 private:
  std::string path_;
};

int RunOneProcess(const GlobalOptions& global, const WorkArgs& args, JobRegistry& registry) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = Open(global, "redis://127.0.0.1:6379");
  if (!backend.ok()) return Fail(backend.status());
  WorkerOptions options;
  options.queues.clear();
  for (absl::string_view q : absl::StrSplit(args.queue, ',', absl::SkipWhitespace())) {
    options.queues.emplace_back(q);
  }
  options.blocking = args.blocking;
  options.interval = absl::Seconds(args.interval);
  options.concurrency = args.concurrency;
  options.batch = args.batch;
  options.fork = args.fork;
  options.job_timeout = absl::Seconds(args.timeout);
  options.burst = args.burst;
  options.max_jobs = args.max_jobs;
  options.reliable = !args.unreliable;
  options.dead_after = absl::Seconds(args.dead_after);
  options.max_recoveries = args.max_recoveries;
  options.peer_dead_after = absl::Seconds(args.peer_dead_after);
  options.log = StderrLogSink(global.log_level());
  Worker worker(**backend, registry, options);
  // In the peers' form, so that their pruning counts this process (and a forked job's, which
  // keeps the title) as a live worker of this host; docs/wire-format.md, "Worker ids".
  const std::string waiting = "Waiting for " + absl::StrJoin(options.queues, ",");
  SetProcessTitle(waiting);

  std::atomic<bool> done{false};
  std::thread signals([&] {
    SignalLoop(done, [&](int sig) {
      switch (sig) {
        case SIGQUIT:
          SetProcessTitle("Finishing its jobs, then exiting");
          worker.RequestStop(StopMode::kGraceful);
          break;
        case SIGTERM:
        case SIGINT:
          SetProcessTitle("Exiting");
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
  absl::Status result = worker.Run();
  done.store(true);
  signals.join();
  if (!result.ok()) return Fail(result);
  return 0;
}

// COUNT > 1: one worker process per count, as php-resque forks; signals are passed on.
int RunProcesses(const GlobalOptions& global, const WorkArgs& args, JobRegistry& registry) {
  SetProcessTitle(absl::StrFormat("Supervising %d workers for %s", args.count, args.queue));
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < args.count; ++i) {
    // The child keeps the blocked control signals (its own SignalLoop takes them), and its
    // jobs' commands get groups of their own: a QUIT passed on to it is not for them.
    absl::StatusOr<std::unique_ptr<ChildProcess>> child =
        ChildProcess::Fork([&](int) { return RunOneProcess(global, args, registry); },
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
  // Blocked in every thread (threads inherit the mask) so only SignalLoop takes them.
  const sigset_t set = ControlSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a dead peer (Redis, an --exec command) is an error, not death
  PidFile pidfile(args.pidfile);
  if (absl::Status s = pidfile.Write(); !s.ok()) return Fail(s);
  return args.count > 1 ? RunProcesses(global, args, registry)
                        : RunOneProcess(global, args, registry);
}

}  // namespace

void AddWork(CLI::App& app, GlobalOptions& global, JobRegistry& registry, int* exit_code) {
  auto args = std::make_shared<WorkArgs>();
  CLI::App* cmd = app.add_subcommand("work", "Run workers until a signal stops them");
  cmd->add_option("-q,--queue", args->queue, "Queues in priority order: q1,q2 or '*'")
      ->envname("QUEUE");
  cmd->add_option("-i,--interval", args->interval, "Seconds between polls of empty queues")
      ->envname("INTERVAL")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("-b,--blocking", args->blocking, "Wait for jobs (BLPOP) instead of polling")
      ->envname("BLOCKING");
  cmd->add_option("-c,--concurrency", args->concurrency, "Execution slots (threads) per process")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--batch", args->batch,
                  "Jobs a slot may reserve and record at once while they stay quick (1: one at "
                  "a time; see docs/worker.md)")
      ->envname("BATCH")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--count", args->count, "Worker processes (php-resque's COUNT)")
      ->envname("COUNT")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--fork", args->fork, "Perform each job in a child process");
  cmd->add_option("--timeout", args->timeout, "Per-job timeout in seconds (0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--load", args->load, "Shared library whose jobs register themselves")
      ->check(CLI::ExistingFile);
  cmd->add_option("--exec", args->exec, "CLASS=COMMAND: perform CLASS jobs with a shell command");
  cmd->add_option("--pidfile", args->pidfile, "Write the pid here")->envname("PIDFILE");
  cmd->add_flag("--burst", args->burst, "Exit once the queues are empty");
  cmd->add_option("--max-jobs", args->max_jobs, "Exit after this many jobs")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--unreliable", args->unreliable,
                "Take jobs with LPOP/BLPOP as php-resque does (no in-flight list: a worker "
                "killed mid-job loses its job)");
  cmd->add_option("--dead-after", args->dead_after,
                  "Seconds without a heartbeat after which this worker's slots count as dead "
                  "and their jobs are recovered (declared to every worker; at least 16)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-recoveries", args->max_recoveries,
                  "Times a worker may die running one job before it is failed (resque::PoisonJob)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_option(
         "--peer-dead-after", args->peer_dead_after,
         "Seconds a heartbeat with no declared dead-after (a Ruby resque worker's) may "
         "age before its worker counts as dead: Ruby's Resque.prune_interval (at least 60)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback(
      [&global, &registry, args, exit_code] { *exit_code = RunWork(global, *args, registry); });
}

}  // namespace resque::cli
