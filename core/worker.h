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
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/hooks.h"
#include "core/job_outcome.h"
#include "core/job_registry.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/queue.h"
#include "core/retry.h"

namespace resque {

enum class CancelReason : int;
class ForkRunner;
class JobRunner;
class Liveness;
class Recorder;
class StarCache;
class RunState;
class Tickets;
class Watchdog;
struct FinishedJob;

struct WorkerOptions {
  // Queues in priority order; "*" means every known queue, sorted by name (named queues next to
  // it keep their place: {"high", "*"} is high first, then every other queue).
  std::vector<std::string> queues = {"*"};
  // Blocking: each reserve waits (up to `interval`, at most 1 s so that a stop is seen; a zero
  // interval means 1 s) for a job to arrive. Polling: each reserve returns at once and an empty
  // round sleeps `interval`; a zero interval is php-resque's and Ruby's INTERVAL=0, a worker that
  // stops once its queues are empty (as `burst`), never a loop without a pause.
  bool blocking = false;
  absl::Duration interval = absl::Seconds(5);
  int concurrency = 1;  // execution slots (threads), each a registered worker
  bool fork = false;    // perform each job in a child process
  // Zero: none. With `fork` the child is killed at the deadline; in-process the job is told to
  // stop (JobContext::Cancelled) and is recorded as failed (resque::JobTimeout) when it returns
  // late, whatever it returned. Measured on `timer` (the real clock by default), not `clock`.
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
  // never; then nothing is recovered but at start), and how old a slot's heartbeat must be for
  // it to count as dead, on any host: each slot declares it as it registers (at least three
  // heartbeat intervals plus a second, see core/liveness.h). A heartbeat no one declared for (a
  // Ruby worker's) is judged by peer_dead_after, Ruby's prune interval.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  absl::Duration dead_after = absl::Seconds(60);
  absl::Duration peer_dead_after = absl::Seconds(300);
  // How many times workers may die running one job before a recovery fails it
  // (resque::PoisonJob) instead of handing it back; see LivenessOptions::max_recoveries.
  int64_t max_recoveries = 3;
  // Automatic retries by job class (core/retry.h), "*" for every class without a policy of its
  // own: a class named here overrides the policy of its registration (JobRegistry::
  // SetRetryPolicy). A failed try goes to the delayed jobs, due after the policy's delay, and
  // counts as failed in the stats without a failure record; the last one is recorded, marked
  // "retries_exhausted". A scheduler (resque scheduler, or work --scheduler) brings them back.
  // Ignored by a backend that keeps no delayed jobs (Backend::SupportsRetry).
  absl::flat_hash_map<std::string, RetryPolicy> retry = {};
  Clock* clock = RealClock();    // dates of statuses, failures and registrations
  const Hooks* hooks = nullptr;  // not owned; may be null
  // Called from every slot: must be thread-safe. Each job's start and end (with its duration)
  // at info, a failure at warning; see docs/worker.md, "Logs".
  LogSink log = StderrLogSink(LogLevel::kWarning);
  // While jobs run, one info line this often: jobs ended in the period, their rate, failures,
  // busy slots. Nothing while idle. Zero: no summary. On `timer`.
  absl::Duration summary_interval = absl::ZeroDuration();
  // What the worker measures time spent on and waits with (MonotonicNow, SleepFor, WaitUntil):
  // the batch budget, the "*" list's TTL, job_timeout, backoffs, the polling and heartbeat
  // intervals. Real by default; a test's ManualClock makes them pass only when it is advanced.
  // (Waits inside the backend, as a blocking reserve's, are the backend's own.)
  Clock* timer = RealClock();
  // Told what became of each job the worker took, once its record is written or given up on, on
  // the slot's thread (so thread-safe when concurrency > 1). May be empty. A job handed back to
  // its queue (a batch's unstarted ones, shutdown_timeout's) is not told of: nothing is recorded.
  std::function<void(const JobReport&)> on_job_done = nullptr;
  // What TERM/INT (RequestStop(kImmediate)) does to the running jobs. Nullopt: they are stopped
  // at once and failed (resque::JobKilled), as php-resque and Ruby resque do. A duration: no
  // job is taken (nor started) any more, the running ones get this long (on `timer`) to finish
  // and be recorded; then, or at a second kImmediate stop, they are stopped (cancelled, their
  // children killed) and handed back to the head of their queues, waiting again, with nothing
  // recorded of them. Needs reliable reserve. See docs/worker.md, "Shutdown, pause, kill".
  std::optional<absl::Duration> shutdown_timeout = std::nullopt;
};

// What a worker has done so far.
struct WorkerCounts {
  int64_t processed = 0;  // jobs recorded, failed ones included
  int64_t failed = 0;
};

enum class StopMode {
  kGraceful,  // QUIT: finish and record the running jobs, then stop
  // TERM/INT: cancel the running jobs now (kill children), record them as failed
  // (resque::JobKilled), stop. A record the backend refuses is then not retried. With
  // WorkerOptions::shutdown_timeout: wait for them that long first, then hand them back.
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
  // burst, max_jobs), unregisters. InvalidArgument for bad options. Backend errors while it
  // works are logged and retried; what it could not do in the end is the error it returns, in
  // one message: DataLoss when jobs it performed could not be recorded (left in flight, handed
  // back as it unregisters), FailedPrecondition when a burst skipped a queue it could not read
  // (a key of the wrong type), Unavailable when it could not unregister (Redis away: about a
  // second after the stop, the slots are left for recovery). A stop requested before Run makes
  // it return at once; one during the start (pruning, registering) cuts the start's waits on the
  // server short as it does the rest, and Run then returns OK without working.
  absl::Status Run();

  // Reserves, performs and records at most one job as slot 0, waiting up to `wait` for one.
  // Returns whether a job was performed. Registers slot 0 on first use; the destructor
  // unregisters it. For embedding and tests; do not mix with a running Run().
  absl::StatusOr<bool> WorkOne(absl::Duration wait);

  // These four are thread-safe and async-signal-unsafe: call them from a signal-handling
  // thread, not from a handler. None blocks: a shutdown wait runs on a thread of its own, and
  // a second kImmediate stop during it ends it at once.
  void RequestStop(StopMode mode);
  void Pause();   // USR2: take no new jobs (running jobs go on)
  void Resume();  // CONT
  // USR1: stop the running jobs (kill children in fork mode, cancel in-process), record them as
  // failed (resque::JobKilled), keep working.
  void KillRunningJobs();

  // Writes this worker's heartbeats, then recovers every other worker whose heartbeat is too old
  // by its own rule (Liveness::BeatAndRecover): unregisters it and hands its in-flight jobs back
  // to their queues. Returns how many jobs went back. Run() does it every `heartbeat_interval`;
  // public for embedding and tests.
  int64_t BeatAndRecover();

  // Slot ids: "<host>:<pid>:<queues>" for one slot, "<host>:<pid>:<queues>:<slot>" for more.
  const std::vector<std::string>& worker_ids() const { return worker_ids_; }
  WorkerCounts counts() const;
  // How many slots are parked by Pause() right now (they reserve nothing until Resume()).
  int paused_slots() const;

 private:
  struct Slot;

  absl::Status CheckOptions() const;
  // Run's start (pruning, registering): a stop during it, or before it, caps the start's waits
  // on the server (kStopWaitCap) as a stop caps the slots' waits once they run.
  void BeginStart();
  void CapStartWaits();  // after a stop: caps the waits if Run is in its start
  void EndStart();
  // What Run returns once its slots are released (`released`: how that went): OK, or one error
  // that says everything the worker could not do (records, unusable queues in burst,
  // unregistering).
  absl::Status RunOutcome(const absl::Status& released) const;
  void SlotLoop(Slot& slot);
  // Reserves with a ticket held (see Tickets) and performs. Returns whether a job was taken;
  // the ticket is given back when none was.
  absl::StatusOr<bool> WorkOnce(Slot& slot, absl::Duration wait, bool allow_batch);
  // One reserve and what it took, on the slot's current list of queues.
  absl::StatusOr<bool> WorkOnceWith(Slot& slot, absl::Duration wait, bool allow_batch);
  absl::Duration ReserveWait() const;
  // After a reserve found the fleet-wide pause flag set: waits, reading the flag once per poll,
  // until it is cleared (true) or a stop comes, or a burst worker's queues are empty (false).
  bool WaitOutFleetPause(Slot& slot);
  // Marks the slot paused (USR2) in the backend, or clears the mark, for `resque workers`.
  void MarkPaused(Slot& slot, bool paused);
  // `started`: its start is recorded already (a folded reserve's FoldedStart).
  void Process(Slot& slot, const ReservedJob& job, bool started);
  // Performs a batch (Reserve with max > 1): announces it, performs its jobs in order while it
  // is quick and the worker runs, hands the rest back, records what ran in one step.
  void ProcessBatch(Slot& slot, const std::vector<ReservedJob>& jobs);
  // Runs one decoded (or undecodable) job: the outcome to record. `announce`: StartJob first.
  // Nullopt: the job is to go back to its queue (a shutdown stopped it, or came before it
  // started).
  std::optional<JobOutcome> RunOne(Slot& slot, const ReservedJob& job,
                                   const absl::StatusOr<Payload>& payload, bool announce);
  // Records `done` (each job having taken `took`), logs each one's end, and counts them against
  // max_jobs. `fold`: the next reserve goes in the same step (Reserver::PrepareFolded), its job
  // into slot.next.
  void Record(Slot& slot, std::vector<FinishedJob>& done, absl::Span<const absl::Duration> took,
              bool fold = false);
  // Hands the job of slot.next back to its queue: the slot pauses or stops before starting it.
  void HandBackNext(Slot& slot);
  // The line of a recorded job's end: done or skipped at info, failed at warning.
  void LogEnd(const Slot& slot, const FinishedJob& d, absl::Duration took) const;
  // Hands `jobs` back to the head of their queues (Reserver::HandBack); during a shutdown wait
  // one log line says what became of each.
  void HandBack(Slot& slot, absl::Span<const ReservedJob> jobs,
                absl::Span<const absl::StatusOr<Payload>> payloads);
  // Stops taking jobs and cancels the running ones for `reason`.
  void StopRunningJobs(CancelReason reason);
  // TERM with shutdown_timeout: the first starts the wait, a second ends it.
  void StartShutdownWait();
  // The wait's thread: once it runs out (or is cut short), stops the running jobs for hand-back.
  void ShutdownWait();
  // Ends the wait, if there is one, without stopping anything (every slot is done); joins it.
  void EndShutdownWait();
  void StartWatchdog();
  void StopWatchdog();
  // The summary lines (WorkerOptions::summary_interval), on a thread of their own.
  void StartSummary();
  void SummaryLoop();
  void StopSummary();
  void Log(LogLevel level, std::string_view message, const LogFields& fields = {}) const {
    options_.log(level, message, fields);
  }

  Backend& backend_;
  WorkerOptions options_;  // normalized: clock, timer and log are set
  Queue queue_api_;
  std::vector<std::string> worker_ids_;
  bool slot0_registered_ = false;
  // Cleared when the backend has no in-flight lists (Unimplemented): then jobs are reserved as
  // before.
  std::atomic<bool> reliable_;

  // The parts (docs/worker.md, "How it is built"); the slots hold a reserver and a cancel each.
  std::unique_ptr<RunState> state_;  // stop and pause
  std::unique_ptr<Tickets> tickets_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<ForkRunner> forks_;  // null unless fork mode
  std::unique_ptr<JobRunner> runner_;
  std::unique_ptr<Liveness> liveness_;
  std::unique_ptr<StarCache> star_;  // the slots' look at "*"
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Watchdog> watchdog_;  // in-process timeouts

  // The shutdown wait (WorkerOptions::shutdown_timeout). Set once a TERM came with it: a job
  // taken from then on goes back to its queue unstarted, and the next TERM ends the wait.
  std::atomic<bool> handing_back_{false};
  std::mutex shutdown_mu_;
  std::condition_variable shutdown_changed_;
  bool shutdown_now_ = false;   // guarded by shutdown_mu_: a second TERM
  bool shutdown_over_ = false;  // guarded by shutdown_mu_: the slots are done, nothing to stop
  std::thread shutdown_timer_;  // guarded by shutdown_mu_

  std::mutex start_mu_;
  bool starting_ = false;  // guarded by start_mu_: Run is in its start

  std::atomic<int> busy_{0};  // slots performing (or recording) a job now
  std::mutex summary_mu_;
  std::condition_variable summary_changed_;
  bool summary_over_ = false;   // guarded by summary_mu_
  std::thread summary_thread_;  // guarded by summary_mu_
};

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_H_
