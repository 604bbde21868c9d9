// Worker: takes jobs from queues in priority order and performs them, recording statuses, stats,
// worker registrations and failures as php-resque, Ruby resque and node-resque do.
//
// A Worker runs N execution slots (threads); each slot is one registered Resque worker with its
// own id, so dashboards show N workers. With `fork`, each job runs in a child process, so that a
// job that crashes or calls exit() is a failure record and the worker goes on.
//
//   resque::JobRegistry registry;
//   registry.Register<SendEmail>("SendEmail");
//   resque::Worker worker(*backend, registry, {.queues = {"high", "default"}, .concurrency = 4});
//   absl::Status done = worker.Run();  // until RequestStop(), or the queues are empty (burst)
#ifndef RESQUE_CORE_WORKER_H_
#define RESQUE_CORE_WORKER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/hooks.h"
#include "core/job_registry.h"
#include "core/log.h"
#include "core/queue.h"

namespace resque {

struct WorkerOptions {
  // Queues in priority order; "*" means every known queue, sorted by name.
  std::vector<std::string> queues = {"*"};
  // Blocking: each reserve waits (up to `interval`, at most 1 s so that a stop is seen) for a
  // job to arrive. Polling: each reserve returns at once and an empty round sleeps `interval`.
  bool blocking = false;
  absl::Duration interval = absl::Seconds(5);
  int concurrency = 1;  // execution slots (threads), each a registered worker
  bool fork = false;    // perform each job in a child process
  // Zero: none. With `fork` the child is killed at the deadline; in-process the job is told to
  // stop (JobContext::Cancelled) and is recorded as failed when it returns late.
  absl::Duration job_timeout = absl::ZeroDuration();
  bool burst = false;    // stop once the queues are found empty
  int64_t max_jobs = 0;  // stop after this many jobs in all (0: no limit)
  std::string hostname;  // default: this host's name
  Clock* clock = RealClock();
  const Hooks* hooks = nullptr;  // not owned; may be null
  LogSink log = StderrLogSink(LogLevel::kError);
};

// What a worker has done so far.
struct WorkerCounts {
  int64_t processed = 0;  // jobs recorded, failed ones included
  int64_t failed = 0;
};

enum class StopMode {
  kGraceful,   // QUIT: finish the running jobs, then stop
  kImmediate,  // TERM/INT: stop the running jobs now (kill children), record them, stop
};

class Worker {
 public:
  // `backend` and `registry` are not owned and must outlive the Worker.
  Worker(Backend& backend, const JobRegistry& registry, WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers the slots, prunes dead workers of this host, works until stopped, unregisters.
  // InvalidArgument for bad options; otherwise OK (backend errors are logged and retried).
  absl::Status Run();

  // Reserves, performs and records at most one job as slot 0, waiting up to `wait` for one.
  // Returns whether a job was performed. Registers slot 0 on first use; the destructor
  // unregisters it. For embedding and tests; do not mix with a running Run().
  absl::StatusOr<bool> WorkOne(absl::Duration wait);

  // Thread-safe and async-signal-unsafe: call from a signal-handling thread, not a handler.
  void RequestStop(StopMode mode);
  void Pause();   // USR2: take no new jobs
  void Resume();  // CONT
  // USR1: stop the running jobs (kill children in fork mode, cancel in-process), keep working.
  void KillRunningJobs();

  // Slot ids: "<host>:<pid>:<queues>" for one slot, "<host>:<pid>-<slot>:<queues>" for more.
  const std::vector<std::string>& worker_ids() const { return worker_ids_; }
  WorkerCounts counts() const;

 private:
  struct Slot;
  struct Outcome;

  void SlotLoop(Slot& slot);
  // Returns whether a job was taken; errors are logged and reported for backoff.
  absl::StatusOr<bool> WorkOnce(Slot& slot, absl::Duration wait);
  absl::StatusOr<std::vector<std::string>> ResolveQueues();
  void Process(Slot& slot, const ReservedJob& job);
  Outcome Perform(Slot& slot, const ReservedJob& job, const Payload& payload);
  Outcome PerformInProcess(Slot& slot, const ReservedJob& job, const Payload& payload);
  Outcome PerformForked(Slot& slot, const ReservedJob& job, const Payload& payload);
  void Record(Slot& slot, const ReservedJob& job, const Payload* payload, const Outcome& outcome);
  void PruneDeadWorkers();
  bool Sleep(absl::Duration d);  // false when woken by a stop
  void Log(LogLevel level, std::string_view message) const;

  Backend& backend_;
  const JobRegistry& registry_;
  WorkerOptions options_;
  Queue queue_api_;
  std::vector<std::string> worker_ids_;
  std::vector<std::unique_ptr<Slot>> slots_;
  bool slot0_registered_ = false;

  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> tickets_{0};  // jobs started, against max_jobs

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_flag_{false};
};

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_H_
