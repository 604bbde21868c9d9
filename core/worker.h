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
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/hooks.h"
#include "core/job_registry.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/queue.h"

namespace resque {

struct WorkerOptions {
  // Queues in priority order; "*" means every known queue, sorted by name (named queues next to
  // it keep their place: {"high", "*"} is high first, then every other queue).
  std::vector<std::string> queues = {"*"};
  // Blocking: each reserve waits (up to `interval`, at most 1 s so that a stop is seen; a zero
  // interval means 1 s) for a job to arrive. Polling: each reserve returns at once and an empty
  // round sleeps `interval`.
  bool blocking = false;
  absl::Duration interval = absl::Seconds(5);
  int concurrency = 1;  // execution slots (threads), each a registered worker
  bool fork = false;    // perform each job in a child process
  // Zero: none. With `fork` the child is killed at the deadline; in-process the job is told to
  // stop (JobContext::Cancelled) and is recorded as failed (resque::JobTimeout) when it returns
  // late, whatever it returned. Measured on the real clock, not `clock`.
  absl::Duration job_timeout = absl::ZeroDuration();
  // The most jobs a slot reserves and records at once (1: one at a time, as every Resque worker).
  // Above 1, a slot whose jobs keep finishing quickly doubles its batch up to this; a batch that
  // runs past 10 ms hands its unstarted jobs back to the head of their queue, and the next batch
  // is one job again. Needs reliable reserve. See docs/worker.md for what a batch changes.
  int batch = 1;
  bool burst = false;  // a slot stops once it finds every queue empty (it reserves without wait)
  // Stop once this many jobs (failed and skipped ones included) are recorded, across all slots;
  // no more than this many are ever taken. 0: no limit.
  int64_t max_jobs = 0;
  std::string hostname;  // default: this host's name
  // Reliable reserve: each slot's job waits in the backend's in-flight list of the slot until it
  // is recorded, so that a worker killed mid-job leaves it to be recovered (docs/reliability.md).
  bool reliable = true;
  // How often each process refreshes its slots' heartbeats and looks for dead workers (zero:
  // never; then nothing is recovered but at start), and how old a heartbeat must be for its
  // worker to count as dead, on any host.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  absl::Duration dead_after = absl::Seconds(60);
  Clock* clock = RealClock();                     // dates of statuses, failures and registrations
  const Hooks* hooks = nullptr;                   // not owned; may be null
  LogSink log = StderrLogSink(LogLevel::kError);  // called from every slot: must be thread-safe
};

// What a worker has done so far.
struct WorkerCounts {
  int64_t processed = 0;  // jobs recorded, failed ones included
  int64_t failed = 0;
};

enum class StopMode {
  kGraceful,  // QUIT: finish and record the running jobs, then stop
  // TERM/INT: cancel the running jobs now (kill children), record them as failed
  // (resque::JobKilled), stop. A record the backend refuses is then not retried.
  kImmediate,
};

class Worker {
 public:
  // `backend` and `registry` are not owned and must outlive the Worker.
  Worker(Backend& backend, const JobRegistry& registry, WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Prunes dead workers of this host, registers the slots, works until stopped (RequestStop,
  // burst, max_jobs), unregisters. InvalidArgument for bad options; otherwise OK (backend errors
  // are logged and retried). A stop requested before Run makes it return at once.
  absl::Status Run();

  // Reserves, performs and records at most one job as slot 0, waiting up to `wait` for one.
  // Returns whether a job was performed. Registers slot 0 on first use; the destructor
  // unregisters it. For embedding and tests; do not mix with a running Run().
  absl::StatusOr<bool> WorkOne(absl::Duration wait);

  // These four are thread-safe and async-signal-unsafe: call them from a signal-handling
  // thread, not from a handler.
  void RequestStop(StopMode mode);
  void Pause();   // USR2: take no new jobs (running jobs go on)
  void Resume();  // CONT
  // USR1: stop the running jobs (kill children in fork mode, cancel in-process), record them as
  // failed (resque::JobKilled), keep working.
  void KillRunningJobs();

  // Writes this worker's heartbeats, then recovers every other worker whose heartbeat is older
  // than `dead_after` by the options' clock: unregisters it and hands its in-flight jobs back to
  // their queues. Returns how many jobs went back. Run() does it every `heartbeat_interval`;
  // public for embedding and tests.
  int64_t BeatAndRecover();

  // Slot ids: "<host>:<pid>:<queues>" for one slot, "<host>:<pid>-<slot>:<queues>" for more.
  const std::vector<std::string>& worker_ids() const { return worker_ids_; }
  WorkerCounts counts() const;
  // How many slots are parked by Pause() right now (they reserve nothing until Resume()).
  int paused_slots() const;

 private:
  struct Slot;
  struct Outcome;
  enum class CancelReason : int;

  void SlotLoop(Slot& slot);
  // Blocks while paused; false once a stop is asked for.
  bool AwaitRunnable();
  // Reserves with a ticket held (see TakeTicket) and performs. Returns whether a job was taken;
  // the ticket is given back when none was.
  absl::StatusOr<bool> WorkOnce(Slot& slot, absl::Duration wait, bool allow_batch);
  // One reserve and what it took, on the slot's current list of queues.
  absl::StatusOr<bool> WorkOnceWith(Slot& slot, absl::Duration wait, bool allow_batch);
  // Performs a batch from ReserveInFlightMany: announces it, performs its jobs in order while it
  // is quick and the worker runs, hands the rest back, records what ran in one step.
  void ProcessBatch(Slot& slot, const std::vector<ReservedJob>& jobs);
  // Hands jobs the batch did not start back to their queue (tracked ones waiting again).
  void HandBack(Slot& slot, absl::Span<const ReservedJob> jobs,
                absl::Span<const absl::StatusOr<Payload>> payloads);
  // Hands back what sits in the slot's in-flight list though the slot holds no job (a reserve
  // whose reply was lost), then clears slot.in_flight_unsure.
  absl::Status HandBackOrphans(Slot& slot);
  // Fills slot.queues: the options' queues, "*" expanded (looked up again after kQueueListTtl,
  // or at once after a reserve that found nothing).
  absl::Status ResolveQueues(Slot& slot);
  absl::StatusOr<std::optional<ReservedJob>> ReserveAroundBrokenQueues(
      Slot& slot, const std::vector<std::string>& queues, const absl::Status& error);
  absl::Duration ReserveWait() const;
  void Process(Slot& slot, const ReservedJob& job);
  // Runs one decoded (or undecodable) job: the outcome to record. `announce`: StartJob first.
  Outcome RunOne(Slot& slot, const ReservedJob& job, const absl::StatusOr<Payload>& payload,
                 bool announce);
  // Marks the slot busy with `job` (its working-on record) and its status, and every id of
  // `others` running too.
  void Announce(Slot& slot, const ReservedJob& job, const Payload& payload,
                std::vector<std::string> others);
  Outcome Perform(Slot& slot, const ReservedJob& job, const Payload& payload);
  Outcome PerformInProcess(Slot& slot, const ReservedJob& job, const Payload& payload);
  Outcome PerformForked(Slot& slot, const ReservedJob& job, const Payload& payload);
  // SetUp, Perform, TearDown: job code, whose errors and exceptions become the outcome. The
  // same in-process and in a forked child.
  static Outcome RunJob(Job& job, const JobContext& ctx);
  // What the worker's own cancel (timeout, USR1, TERM) makes of a job's outcome.
  Outcome CancelledOutcome(const Slot& slot, bool forked) const;
  // Reads the child's report until it ends, killing it at the job timeout; reaps it and returns
  // its wait status.
  int AwaitChild(Slot& slot, pid_t pid, int report_fd, std::string* report);
  void Record(Slot& slot, const ReservedJob& job, const Payload* payload, const Outcome& outcome);
  // What Record writes for one job, and what it logs of it once written.
  struct Done;
  Done Finished(Slot& slot, const ReservedJob& job, const Payload* payload,
                const Outcome& outcome) const;
  // Writes the records of `done` in one step (retrying while the backend is unreachable), then
  // counts and logs them.
  void RecordAll(Slot& slot, std::vector<Done>& done);
  void PruneDeadWorkers();
  // Unregisters a slot at the end; in reliable mode also hands back a job left in flight.
  void ReleaseSlot(const std::string& id);
  void HeartbeatLoop();
  bool Sleep(absl::Duration d);                 // false when woken by a stop
  bool SleepUnlessImmediate(absl::Duration d);  // false when woken by an immediate stop
  void Log(LogLevel level, std::string_view message) const;

  // max_jobs: a slot holds a ticket from before it reserves until its job is recorded, so that
  // no more than max_jobs jobs are ever taken, and the worker stops when the last is recorded.
  // `wait`: park until a ticket frees up; false when the limit is reached or a stop is asked.
  bool TakeTicket(bool wait);
  void ReturnTicket();
  // Up to `n` more tickets without waiting (all of them when there is no max_jobs); how many.
  int TakeMoreTickets(int n);
  void ReturnTickets(int n);
  void CountJobDone();

  // Cancels the slot's running job: JobContext::Cancelled() turns true, and a child is killed.
  static void Cancel(Slot& slot, CancelReason reason);
  void StartWatchdog();
  void StopWatchdog();
  void WatchdogLoop();

  Backend& backend_;
  const JobRegistry& registry_;
  WorkerOptions options_;
  Queue queue_api_;
  std::vector<std::string> worker_ids_;
  std::vector<std::unique_ptr<Slot>> slots_;
  bool slot0_registered_ = false;

  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> failed_{0};

  // Stop, pause and max_jobs state. `changed_` is notified whenever a waiter's condition may
  // have turned true. (std::mutex rather than absl::Mutex: the sanitizers see through it.)
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool stopping_ = false;      // guarded by mu_
  bool immediate_ = false;     // guarded by mu_
  bool paused_ = false;        // guarded by mu_
  int64_t tickets_taken_ = 0;  // guarded by mu_; jobs being worked on or done
  int64_t jobs_done_ = 0;      // guarded by mu_
  int paused_slots_ = 0;       // guarded by mu_
  // Cleared when the backend has no in-flight lists (Unimplemented): then jobs are reserved as
  // before.
  std::atomic<bool> reliable_{false};
  // Mirrors of stopping_ and immediate_ for reads that must not take mu_.
  std::atomic<bool> stop_flag_{false};
  std::atomic<bool> immediate_flag_{false};
  std::atomic<bool> pause_flag_{false};

  // Serializes pipe+fork among slots: a child forked by one slot must not inherit the write end
  // of another slot's report pipe, or that slot would not see EOF when its own child is done.
  std::mutex fork_mu_;

  // In-process timeouts need a thread other than the busy slot to notice them.
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_wake_;
  bool watchdog_stop_ = false;  // guarded by watchdog_mu_

  // Ends the heartbeat thread's wait.
  std::mutex beat_mu_;
  std::condition_variable beat_cv_;
  bool slots_done_ = false;  // guarded by beat_mu_
  std::thread watchdog_;
};

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_H_
