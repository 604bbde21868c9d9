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
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
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
  // Reliable reserve: each slot's job waits in the backend's in-flight list of the slot until it
  // is recorded, so that a worker killed mid-job leaves it to be recovered (docs/reliability.md).
  bool reliable = true;
  // How often each process refreshes its slots' heartbeats and looks for dead workers (zero:
  // never; then nothing is recovered but at start), and how old a heartbeat must be for its
  // worker to count as dead, on any host.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  absl::Duration dead_after = absl::Seconds(60);
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

  // Writes this worker's heartbeats, then recovers every other worker whose heartbeat is older
  // than `dead_after` by the options' clock: unregisters it and hands its in-flight jobs back to
  // their queues. Returns how many jobs went back. Run() does it every `heartbeat_interval`;
  // public for embedding and tests.
  int64_t BeatAndRecover();

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
  // Unregisters a slot at the end; in reliable mode also hands back a job left in flight.
  void ReleaseSlot(const std::string& id);
  void HeartbeatLoop();
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
  // Cleared when the backend has no in-flight lists (Unimplemented): then jobs are reserved as
  // before.
  std::atomic<bool> reliable_{false};
  std::atomic<bool> stop_flag_{false};
  // Ends the heartbeat thread's wait. A std::mutex, not mu_: Debian's Abseil has no
  // ThreadSanitizer annotations, so TSan reports absl::Mutex conditions as races.
  std::mutex beat_mu_;
  std::condition_variable beat_cv_;
  bool slots_done_ = false;  // guarded by beat_mu_
};

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_H_
