// Backend: where queues, statuses, workers, stats and failures live. The one interface between
// resque-cpp's core and its storage; the Redis backend and the in-memory backend implement it.
//
// It speaks job-queue verbs, not Redis primitives, so that one step of the worker (start a job,
// finish a job) is one call, which the Redis backend makes in one round trip. Values are the raw
// JSON strings of docs/wire-format.md; encoding and decoding them is core's job (payload.h,
// status.h, failure.h). No Redis type, key name or error appears here.
//
//   std::unique_ptr<resque::Backend> backend = ...;  // see backends/backend_factory.h
//   RESQUE_RETURN_IF_ERROR(backend->Push("mail", payload_json));
//   absl::StatusOr<std::optional<resque::ReservedJob>> job =
//       backend->Reserve({"high", "mail"}, absl::Seconds(5));
//
// Two layers, as the non-virtual-interface pattern has them. The public verbs (Push, Reserve,
// Finish, ...) are what callers use: they check their arguments, all in one place (backend.cc),
// and decide Resque's own rules (the stat names, what a finish writes, the order jobs go back
// in) before calling the private storage verbs (DoPush, DoReserve, DoFinish, ...), which are all
// a backend implements: they apply what core decided, and check nothing core already checked.
// See "The Backend" in docs/architecture.md for how to add one.
//
// Every verb is thread-safe. Every verb that talks to a server returns Unavailable when the
// server cannot be reached, and never blocks much longer than its wait or the backend's timeout.
// A key of the wrong type (written by someone else) is FailedPrecondition. Bad arguments (an
// empty queue name, a negative index) are InvalidArgument.
#ifndef RESQUE_CORE_BACKEND_H_
#define RESQUE_CORE_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace resque {

// The most jobs one reserve may take (ReserveRequest::max, WorkerOptions::batch).
inline constexpr int kMaxBatch = 1000;

// A payload taken off a queue by Reserve.
struct ReservedJob {
  std::string queue;
  std::string payload;  // the raw JSON item, exactly as it was stored
};

// What one reserve took: most often one job, kept inline so that taking it allocates no list.
using ReservedJobs = absl::InlinedVector<ReservedJob, 1>;

// (Every member of these structs has an initializer so that designated initializers may leave
// any of them out under -Wextra.)

// What Reserve takes. Borrows its queues and owner for the length of the call.
// The start of the job a folded reserve takes (FinishAndReserve with ReserveRequest::start):
// how a worker that goes from job to job pays one round trip per job, start included.
struct FoldedStart {
  std::string run_at = {};       // JSON string: when the job starts, for the working-on record
  std::string worker = {};       // JSON string: the record's "worker" (node-resque files it so)
  std::string status_json = {};  // written only if the job's status key exists (a tracked job)
  // Set by the backend: true when it recorded the start, which it does when it took one job
  // whose payload is a JSON object with a "class" string (what the worker would start). Then
  // the working-on record is WorkingJson(queue, run_at, payload, worker) and a string "id" of
  // the payload names the status. False otherwise: the start is the caller's to record.
  bool started = false;
};

// The working-on record of a worker performing a job, as php-resque and Ruby resque read it
// ("queue", "run_at", "payload") and node-resque files it ("worker"). `run_at` and `worker` are
// JSON strings, `payload` is the job's JSON as it was queued.
std::string WorkingJson(std::string_view queue, std::string_view run_at, std::string_view payload,
                        std::string_view worker);

struct ReserveRequest {
  // In priority order: the jobs come from the first of them that has any. At least one, none
  // empty.
  absl::Span<const std::string> queues = {};
  // Zero returns at once; otherwise parks until a job is pushed to one of the queues or `wait`
  // passes. Not negative; InfiniteDuration waits for ever.
  absl::Duration wait = absl::ZeroDuration();
  // The worker slot whose in-flight list the jobs go to in the same atomic step, where they stay
  // until Finish or RecoverWorker takes them out. Empty: the jobs are not in flight (they exist
  // only in the caller's memory until Finish).
  std::string_view owner = {};
  // The most jobs to take (1..kMaxBatch), all from one queue, oldest first. More than one needs
  // an owner. A wait waits for one job.
  int max = 1;
  // Not null: the reserve honours the fleet-wide pause flag (AllWorkersPaused). When the flag is
  // set it takes nothing and sets *paused to true, in the same step as the look at the queues,
  // so no round trip is added. Left alone otherwise. A job that arrives during a wait while the
  // flag is set stays first in its queue.
  bool* paused = nullptr;
  // Only with FinishAndReserve, whose finish names the worker: not null asks the backend to
  // record the start of the job it takes in the same step, as StartJob would (see FoldedStart).
  FoldedStart* start = nullptr;
};

// Which jobs RemoveJobs removes: php-resque's Resque::dequeue. A job matches when its class is
// `class_name` and, when given, its id is `id` and its args are `args` (JSON, compared as
// values: whitespace and object key order do not matter).
struct JobFilter {
  std::string class_name;
  std::optional<std::string> id = std::nullopt;
  std::optional<std::string> args = std::nullopt;
};

class JobMatcher;  // a JobFilter checked once (core/job_filter.h)

// What a worker records as it begins a job: one call, one round trip.
struct JobStart {
  std::string worker_id = {};
  std::string working_json = {};  // {"queue":..,"run_at":..,"payload":{..}}
  std::string job_id = {};        // empty when the job has no id: then no status is touched
  std::string status_json = {};   // written only if the job's status key exists (a tracked job)
  // The other jobs of a batch, marked running with status_json as well.
  std::vector<std::string> other_job_ids = {};
};

// What a worker records as it ends one job. Finish takes one or several, all of one worker.
struct JobFinish {
  std::string worker_id = {};
  std::string job_id = {};       // empty when the job has no id: then no status is touched
  std::string status_json = {};  // written only if the status key exists, then expires after...
  absl::Duration status_ttl = absl::Hours(24);  // positive or infinite; ignored without job_id
  bool failed = false;
  std::string failure_json = {};  // appended to the failure list when `failed`
  // The queue the job came from: in the per-queue failure layout, whose list the record goes to
  // (needed when `failed`); ignored with one list.
  std::string failure_queue = {};
  // The job as an in-flight Reserve returned it: its payload leaves the worker's in-flight list
  // in the same step. nullopt for a job reserved without an owner.
  std::optional<ReservedJob> in_flight = std::nullopt;
  // An automatic retry (core/retry.h) of a failed job: instead of a failure record, `item` (a
  // delayed item, as PushDelayed takes) is added to the delayed jobs at second `at`, in the
  // same step. Needs `failed` (the attempt counts as a failure) and Backend::SupportsRetry().
  struct Retry {
    int64_t at = 0;
    std::string item = {};
  };
  std::optional<Retry> retry = std::nullopt;
};

// One job that Unreserve hands back, with the id of its status ("" for an untracked job).
struct UnreserveJob {
  ReservedJob job = {};
  std::string job_id = {};
};

// What Unreserve takes. Borrows everything for the length of the call.
struct UnreserveRequest {
  // Whose in-flight list the jobs leave. Empty: jobs reserved without an owner, which exist only
  // in the caller's memory: each goes back to the head of its queue unconditionally.
  std::string_view owner = {};
  absl::Span<const UnreserveJob> jobs = {};
  std::string_view status_json = {};  // the tracked jobs' new status (written only if it exists)
  // Not empty: this worker is marked idle in the same step (its working-on record goes), as the
  // jobs it handed back are the ones it would have worked on.
  std::string_view idle_worker = {};
};

// ---- Resque's rules, decided here once and handed to the storage verbs ----

// The stat counters Resque keeps ("stat:processed", "stat:failed" on Redis).
inline constexpr std::string_view kProcessedStat = "processed";
inline constexpr std::string_view kFailedStat = "failed";

// The names of one worker's own counters: "processed:<worker id>" and "failed:<worker id>".
struct WorkerStats {
  std::string processed;
  std::string failed;
};
WorkerStats WorkerStatNames(std::string_view worker_id);

// Whether a stored value of the fleet-wide pause flag ("<ns>:pause-all-workers" on Redis) means
// paused: Ruby resque's rule, "true" once surrounding whitespace is stripped, in any case.
bool PauseFlagSet(std::string_view value);

// Everything a finish writes, as core decided it; DoFinish applies all of it or none of it:
// - each job in `jobs`, in order: its status (when it has a job id, only if the status exists,
//   expiring after status_ttl unless infinite), the oldest equal payload out of `worker_id`'s
//   in-flight list (when in_flight), its failure record appended (when failed) to the failure
//   list, or in FailureLayout::kPerQueue to its failure_queue's list, or, when it has a
//   `retry`, its retry item added to the delayed jobs (as DoPushDelayed) instead;
// - the counters: kProcessedStat and stats.processed grow by jobs.size(), kFailedStat and
//   stats.failed by `failures` (not touched when it is 0);
// - `worker_id`'s working-on record (JobStart::working_json) is deleted.
struct FinishWrite {
  std::string_view worker_id = {};
  absl::Span<const JobFinish> jobs = {};  // at least one, all of worker_id
  int64_t failures = 0;                   // how many of `jobs` failed
  WorkerStats stats = {};
};

// Resque's hand-back order, for jobs of several queues going back to the heads of their queues:
// queue by queue, the queues in the order they first appear, each queue's jobs in their own
// order. Returns the indexes 0..n-1 in that order; `queue_of(i)` names job i's queue.
std::vector<size_t> QueueOrder(size_t n, absl::FunctionRef<std::string_view(size_t)> queue_of);

// How a backend keeps failure records: in Resque's one list (the default), or in one list per
// job queue, as Ruby resque's redis_multi_queue failure backend does (resque-web then shows the
// failures queue by queue).
enum class FailureLayout { kOneList, kPerQueue };

// ---- Liveness in a mixed fleet: how each worker asks to be judged, and what a recovery does ----

// What one of our workers declares as it registers (RegisterWorker): the rule others judge it
// by, and whether it keeps in-flight lists. A worker registered without it (a peer: Ruby,
// php-resque, node-resque) is judged by the peer's own rule (core/liveness.h).
struct WorkerLiveness {
  // Its heartbeat older than this means it is dead. Positive.
  absl::Duration dead_after = absl::Seconds(60);
  // Reliable reserve: it is listed as an owner of in-flight lists until it is recovered, so that
  // its lists are found even after a peer unregistered it (LivenessView::orphans).
  bool in_flight = false;
};

// One heartbeat, with the rule its worker declared.
struct WorkerBeat {
  std::string worker_id = {};
  std::string beat = {};                                    // as stored (core/heartbeat.h)
  std::optional<absl::Duration> dead_after = std::nullopt;  // nullopt: a peer's, none declared
};

// What a recoverer judges by, read in one step (ReadLiveness).
struct LivenessView {
  // The store's own clock (Redis TIME), which every host shares; nullopt when it has none.
  std::optional<absl::Time> server_time = std::nullopt;
  std::vector<WorkerBeat> beats = {};  // every heartbeat, sorted by worker id
  // Workers of ours (declared with WorkerLiveness) that are neither registered nor beating: a
  // peer unregistered them, leaving their in-flight lists. Sorted.
  std::vector<std::string> orphans = {};
};

// A dead worker's current job that is not in flight (a peer's job, or one of ours taken
// without reliable reserve): recorded as failed, as the peers record it, by the recovery.
struct DirtyExit {
  std::string working_json = {};  // the working-on record as read: the job is failed only if
                                  // the record is still exactly this
  std::string failure_json = {};  // appended to the failure list
  std::string queue = {};         // the job's queue: the list a per-queue failure layout uses
  std::string job_id = {};        // "" for none; else its status gets status_json if it exists
  std::string status_json = {};   // the failed status, expiring after a day
  // The job's payload as the record holds it (the in-flight payload, byte for byte, for a job
  // of ours): the job that was running when the worker died, counted by a recovery with
  // RecoverRequest::max_recoveries.
  std::string payload_json = {};
  // What is recorded, instead of handing it back, when that count reaches max_recoveries.
  std::string poison_failure_json = {};
};

// What RecoverWorker takes. Borrows worker_id for the length of the call.
struct RecoverRequest {
  std::string_view worker_id = {};
  // Act only while the worker's heartbeat is still exactly this (it was judged by it).
  std::optional<std::string> if_heartbeat = std::nullopt;
  // Act only while the worker is an orphan (LivenessView::orphans): declared with a
  // WorkerLiveness, not recovered since, and neither registered nor beating.
  bool if_orphaned = false;
  // Act only while the worker's working-on record is still the DirtyExit's; it is recorded when
  // the worker had nothing in flight.
  std::optional<DirtyExit> dirty_exit = std::nullopt;
  // Above 0 (with a dirty_exit whose payload is in flight): the worker died running that job,
  // so its count of such recoveries grows by one; at this many it is recorded as failed with
  // the dirty exit's poison_failure_json (and its status failed) instead of handed back, and
  // its count forgotten. Counts are kept by payload for kRecoveryCountTtl after the last one,
  // kMaxRecoveryCounts at most.
  int64_t max_recoveries = 0;
  // The status each tracked job handed back gets, if it exists, with no TTL: waiting again.
  // Empty: statuses are left as they are.
  std::string waiting_status_json = {};
};

// What a recovery did; RecoverWorker returns nullopt when its condition did not hold.
struct RecoverResult {
  int64_t handed_back = 0;     // in-flight payloads back at the head of their queues
  int64_t dirty_exits = 0;     // 1 when the DirtyExit was recorded
  int64_t already_failed = 0;  // in-flight payloads a peer had recorded as failed: dropped
  int64_t poisoned = 0;        // 1 when the running job was recorded as failed (max_recoveries)
  // How many times workers died running the dirty exit's job, this recovery included (0 when
  // it was not counted: no max_recoveries, or not in flight).
  int64_t recoveries = 0;
};

// How long a job's count of recoveries is kept after its last one, and how many jobs' counts at
// most: past that the counts start afresh (a poison job then takes longer to be stopped; no
// innocent job is failed for it).
inline constexpr absl::Duration kRecoveryCountTtl = absl::Hours(24);
inline constexpr int64_t kMaxRecoveryCounts = 10000;

// One failure record retried or removed (Backend::EditFailure). `record` is the record as it
// was read at `index`: the edit applies to that record wherever it is now (workers append,
// other operators remove), never to whatever else sits at `index`, and to none when it is gone.
struct FailureEdit {
  int64_t index = 0;                  // where `record` was read: where it is looked for first
  std::string_view record = {};       // the record's bytes as read
  std::string_view replacement = {};  // what the record becomes; "" removes it
  std::string_view push_queue = {};   // when not "": the queue `push_payload` goes to the end of
  std::string_view push_payload = {};
};

// How far back in the failure list a recovery looks for a peer's DirtyExit record of an
// in-flight job (the newest entries only, so that a recovery costs a bounded time).
inline constexpr int64_t kDirtyExitLookback = 1000;

// ---- Delayed jobs: resque-scheduler's layout, which node-resque's scheduler shares ----

// A delayed item is the JSON object {"class","args","queue",...}: a payload with the queue it
// goes to, as resque-scheduler and node-resque write it. Items are due by whole unix seconds.

// How many items are due at one second (Backend::DelayedTimes).
struct DelayedTime {
  int64_t at = 0;  // unix seconds
  int64_t size = 0;
};

// What MoveDue takes: the scheduler's step.
struct MoveDueRequest {
  int64_t now = 0;  // unix seconds: items due at or before it move
  int max = 100;    // the most items one step moves (1..kMaxBatch)
  // An item that cannot move (not a JSON object, no non-empty string "queue", or its queue's
  // key is not a list) becomes a failure record instead, appended to the one failure list (in
  // FailureLayout::kPerQueue, to the list of queue ""): bad_item_prefix, then the item (when it
  // is a JSON object; else {"class":"","args":[<the item as a JSON string>]}), then
  // bad_item_middle, then why (a JSON string), then bad_item_suffix.
  std::string bad_item_prefix = {};
  std::string bad_item_middle = {};
  std::string bad_item_suffix = {};
};

// What one MoveDue did.
struct MoveDueResult {
  int64_t moved = 0;   // items pushed to their queues
  int64_t failed = 0;  // bad items recorded as failures
  // The earliest second that still holds items after the step (due or not); nullopt for none.
  std::optional<int64_t> next_at = std::nullopt;
};

// One scheduler leader lock as stored: the key's role, who holds it, for how long still.
struct SchedulerLock {
  std::string name = {};    // "resque-scheduler" or "node-resque"
  std::string holder = {};  // empty when free
  std::optional<absl::Duration> ttl = std::nullopt;
};

// ---- Bulk reads for dashboards (resque web, resque top, /metrics) ----

// One queue as a dashboard shows it.
struct QueueSummary {
  std::string name = {};
  int64_t size = 0;
  std::optional<std::string> head = std::nullopt;  // the oldest payload; nullopt when empty
  std::string error = {};  // why size and head are unknown (the key holds another type)
};

// One registered worker as a dashboard shows it.
struct WorkerSummary {
  std::string id = {};
  std::optional<std::string> started = std::nullopt;
  std::optional<std::string> job = std::nullopt;  // JobStart::working_json while busy
  int64_t processed = 0;                          // stat:processed:<id>
  int64_t failed = 0;                             // stat:failed:<id>
};

// ---- Recurring schedules, where resque-scheduler keeps its dynamic ones ----

// One recurring schedule as stored: its config (resque-scheduler's JSON, see core/recurring.h),
// what resque-web's Schedule tab shows as its last enqueue, and the second of the last
// occurrence a scheduler of ours enqueued (or started counting from).
struct ScheduleEntry {
  std::string name = {};
  std::string config = {};
  std::string last_enqueued_at = {};  // empty when never
  std::optional<int64_t> last_occurrence = std::nullopt;
};

// One occurrence of a schedule, for EnqueueOccurrence.
struct ScheduleOccurrence {
  std::string_view name = {};
  int64_t at = 0;  // the occurrence's unix second
  // The job to push to `queue`; with `mark_only` nothing is pushed: the occurrence is only
  // counted as done (a schedule seen for the first time starts counting from now).
  std::string_view queue = {};
  std::string_view payload = {};
  std::string_view enqueued_at = {};  // what last_enqueued_at says from now on
  bool mark_only = false;
};

class BackendWrapper;

class Backend {
 public:
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  virtual ~Backend() = default;

  // ---- Sessions ----

  // A Backend for one caller (one thread at a time), which a worker slot owns for its life: the
  // owner of whatever a backend keeps per caller, such as the connection a StartJob's reply is
  // still due on. It stores where this backend stores, and must not outlive it. By default it
  // forwards every verb to this backend (and owns nothing); a Redis backend may pin one
  // connection to it.
  std::unique_ptr<Backend> OpenSession() { return DoOpenSession(); }

  // For a worker that is stopping: from now on no wait of this backend or of its sessions on
  // its server (a connection, a reply, a reconnect backoff) lasts longer than `cap`, and waits
  // in progress end within `cap` from now (a blocking reserve first waits out its own wait,
  // unless what it takes stays in flight). A wait cut short is Unavailable, as a timeout is.
  // InfiniteDuration lifts the cap. Thread-safe. A backend that waits on no server ignores it.
  void CapWaits(absl::Duration cap) { DoCapWaits(cap); }

  // Whether Finish applies a JobFinish's `retry` (both backends here do). A backend that keeps
  // no delayed jobs says no, and the worker records failures as before, retrying none.
  bool SupportsRetry() const { return DoSupportsRetry(); }

  // ---- Queues ----

  // Appends `payload` to the tail of `queue` and adds the queue to the set of known queues.
  absl::Status Push(std::string_view queue, std::string_view payload);

  // Appends every payload, in order, as one operation (one round trip on Redis).
  absl::Status PushMany(std::string_view queue, absl::Span<const std::string> payloads);

  // Takes up to `request.max` of the oldest payloads of the first non-empty queue of
  // `request.queues` (priority order), into `request.owner`'s in-flight list when it is given
  // (see ReserveRequest). Empty when nothing was found in time.
  absl::StatusOr<ReservedJobs> Reserve(const ReserveRequest& request);

  // Reserve of one job without an owner: nullopt when nothing was found in time.
  absl::StatusOr<std::optional<ReservedJob>> Reserve(absl::Span<const std::string> queues,
                                                     absl::Duration wait);

  // Reserve of one job into `owner`'s in-flight list. An empty `owner` is InvalidArgument.
  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlight(absl::Span<const std::string> queues,
                                                             absl::Duration wait,
                                                             std::string_view owner);

  // Reserve of up to `max` jobs into `owner`'s in-flight list.
  absl::StatusOr<std::vector<ReservedJob>> ReserveInFlightMany(absl::Span<const std::string> queues,
                                                               absl::Duration wait,
                                                               std::string_view owner, int max);

  // Number of payloads in `queue`; 0 for a queue that does not exist.
  absl::StatusOr<int64_t> Size(std::string_view queue);

  // Up to `count` payloads from position `start` (0 = the head, the next to be reserved).
  // Empty past the end or for an unknown queue. Negative `start` or `count` is InvalidArgument.
  absl::StatusOr<std::vector<std::string>> Peek(std::string_view queue, int64_t start,
                                                int64_t count);

  // Names of every queue ever pushed to and not removed, sorted.
  absl::StatusOr<std::vector<std::string>> Queues();

  // What a worker's "*" stands for, in one step: every known queue, sorted, when there are at
  // most `all_up_to`; else only those that hold a job (or whose key is not a list, for the
  // reserve to report), sorted, so that a reserve over them costs what the busy queues cost,
  // not what every queue does. Both include queues a peer pushed to (RPUSH and SADD).
  struct StarQueues {
    std::vector<std::string> queues;
    bool all = true;  // false: only the queues holding jobs
  };
  absl::StatusOr<StarQueues> QueuesForStar(int64_t all_up_to);

  // Deletes `queue` with its payloads and forgets its name. Removing an unknown queue is OK.
  absl::Status RemoveQueue(std::string_view queue);

  // Removes every payload of `queue` that matches `filter`, wherever it stands in the queue;
  // keeps the order of the rest. Returns how many were removed. Payloads that do not decode
  // never match.
  absl::StatusOr<int64_t> RemoveJobs(std::string_view queue, const JobFilter& filter);

  // ---- Statuses ----

  // The status JSON of job `id`; NotFound when it was never tracked or has expired.
  absl::StatusOr<std::string> GetStatus(std::string_view id);

  // Writes the status JSON of job `id`. With `only_if_exists`, does nothing (and returns OK)
  // when there is no status for `id`. A finite `ttl` makes it expire; InfiniteDuration keeps it.
  absl::Status SetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                         bool only_if_exists);

  // ---- Workers ----

  // Adds `worker_id` to the set of workers and records when it started (a date string). With
  // `liveness` (our own workers), also declares how it is to be judged, in the same step.
  absl::Status RegisterWorker(std::string_view worker_id, std::string_view started);
  absl::Status RegisterWorker(std::string_view worker_id, std::string_view started,
                              const WorkerLiveness& liveness);

  // Removes the worker with its current job, its start date, its own stats, its heartbeat and
  // its declared dead-after. Its in-flight jobs stay, and so does its listing as their owner
  // (RecoverWorker hands them back). Removing an unknown worker is OK.
  absl::Status UnregisterWorker(std::string_view worker_id);

  // Every registered worker id, sorted.
  absl::StatusOr<std::vector<std::string>> Workers();

  // The worker's current job JSON (JobStart::working_json); nullopt when it is idle or unknown.
  absl::StatusOr<std::optional<std::string>> WorkerJob(std::string_view worker_id);

  // When the worker started, as registered; nullopt when unknown.
  absl::StatusOr<std::optional<std::string>> WorkerStarted(std::string_view worker_id);

  // Every queue with its size and oldest payload, sorted by name; every registered worker with
  // its start, current job and own counters, sorted by id. A bounded number of round trips
  // however many queues or workers there are (the Redis backend pipelines: two each), so that
  // a dashboard or a metrics scrape costs the same at 10 queues and at 10,000. kSizesOnly leaves
  // every head nullopt and spares reading them (`resque queues` and `stats` at 100,000 queues).
  enum class QueueParts { kSizesAndHeads, kSizesOnly };
  absl::StatusOr<std::vector<QueueSummary>> QueueSummaries(
      QueueParts parts = QueueParts::kSizesAndHeads) {
    return DoQueueSummaries(parts);
  }
  absl::StatusOr<std::vector<WorkerSummary>> WorkerSummaries() { return DoWorkerSummaries(); }

  // Marks the worker busy with a job and, for a tracked job, sets its status. On a session
  // (OpenSession) a backend may apply it after returning (Redis does not wait for the reply), but
  // always before that session's next call; a failure to apply it then goes unreported.
  absl::Status StartJob(const JobStart& start);

  // Ends jobs of one worker: sets their statuses (tracked jobs only) with a TTL, counts them in
  // "processed" (and the failed ones in "failed") both in total and for the worker, appends the
  // failure records, takes in-flight jobs out of the worker's list, and marks the worker idle
  // (see FinishWrite). All of it or none of it is applied; on Redis in one round trip. Jobs of
  // two workers in one call are InvalidArgument. Nothing to finish is OK.
  absl::Status Finish(absl::Span<const JobFinish> finishes);
  absl::Status FinishJob(const JobFinish& finish) {
    return Finish(absl::MakeConstSpan(&finish, 1));
  }
  absl::Status FinishJobs(absl::Span<const JobFinish> finishes) { return Finish(finishes); }

  // Finish, then in the same step a reserve that does not wait (`next.wait` must be zero): how a
  // worker that goes on to its next job pays one round trip per job on Redis instead of two. An
  // error is the finish's (then nothing was applied, or, for a lost reply, it is unknown whether
  // anything was); once the finish is applied, a reserve that fails (a queue key of the wrong
  // type) is told in `reserved` and took nothing. `reserved` holds what Reserve(next) returns.
  // With `next.start` (and `next.max` 1) the start of the job it takes goes in the same step
  // too, under the finish's worker: then a worker going from job to job pays one round trip
  // per job, start, finish and reserve all in it.
  absl::StatusOr<absl::StatusOr<ReservedJobs>> FinishAndReserve(
      absl::Span<const JobFinish> finishes, const ReserveRequest& next);

  // ---- Reliable reserve and liveness ----
  //
  // A job reserved without an owner exists only in its worker's memory until Finish records it:
  // a worker killed in between loses it. With an owner (a worker slot id) the payload moves
  // instead into the owner's in-flight list in the same atomic step, Finish takes it out, and
  // RecoverWorker hands the jobs of a worker found dead back to their queues. Each worker
  // refreshes a heartbeat so that others can tell it is dead.

  // Hands jobs that `owner` reserved in flight but will not perform back to the head of their
  // queues, in `jobs`' order (the first first in line), out of the in-flight list, and gives the
  // tracked ones `status_json` (written only if it exists, with no TTL), all in one step. A job
  // no longer in flight (recovered by someone else meanwhile) is left alone, its status too, so
  // nothing is queued twice and no later status is overwritten. Returns how many went back.
  absl::StatusOr<int64_t> Unreserve(const UnreserveRequest& request);

  // As above, with `job_ids` empty or one id per job ("" for none).
  absl::StatusOr<int64_t> Unreserve(std::string_view owner, absl::Span<const ReservedJob> jobs,
                                    absl::Span<const std::string> job_ids,
                                    std::string_view status_json);

  // The payloads of `owner`'s in-flight list with their queues, oldest first; empty for an
  // unknown owner. Within one queue the order is exact; across queues it is not kept.
  absl::StatusOr<std::vector<ReservedJob>> InFlight(std::string_view owner);

  // Records `beat` (a time, as core/heartbeat.h writes it) as the last sign of life of each of
  // `worker_ids`, in one step.
  absl::Status Heartbeat(absl::Span<const std::string> worker_ids, std::string_view beat);

  // Every worker's last heartbeat, as stored, sorted by worker id.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Heartbeats();

  // Declares `worker_id` dead, in one atomic step: unregisters it as UnregisterWorker does,
  // forgets its heartbeat, and pushes its in-flight payloads back to the head of their queues
  // (the oldest first in line). With `if_heartbeat`, does all that only when the worker's stored
  // heartbeat is still exactly that value: of two workers racing to recover the same dead
  // worker, one does it and the other finds nothing to do, and a worker that beat again
  // meanwhile is left alone. Returns how many payloads went back, or nullopt when the heartbeat
  // did not match.
  absl::StatusOr<std::optional<int64_t>> RecoverWorker(std::string_view worker_id,
                                                       std::optional<std::string> if_heartbeat);

  // ---- Pausing every worker ----
  //
  // Ruby resque's fleet-wide pause (2.3+): while the flag is set no worker takes a job (each
  // reserve given a ReserveRequest::paused sees it); the running jobs go on.

  // Whether the flag is set (see PauseFlagSet).
  absl::StatusOr<bool> AllWorkersPaused();
  // Sets the flag (true) or clears it (false).
  absl::Status PauseAllWorkers(bool paused);

  // One worker's own pause (USR2), for dashboards: marks the worker paused or not. Registering
  // and unregistering the worker clear the mark. Unimplemented on a backend without marks.
  absl::Status SetWorkerPaused(std::string_view worker_id, bool paused);
  // The workers marked paused (some may no longer be registered: ask Workers()), sorted.
  absl::StatusOr<std::vector<std::string>> PausedWorkers();

  // The whole recovery, in one atomic step: under the request's conditions (nullopt, changing
  // nothing, when one does not hold), unregisters the worker as UnregisterWorker does, forgets
  // its heartbeat, its declared dead-after and its listing as an owner, and hands its in-flight
  // payloads back to the head of their queues, except those a peer already recorded as failed:
  // a DirtyExit record (its exception names DirtyExit) by this worker for the same job (same
  // payload id; same class and args for a payload without one) among the newest
  // kDirtyExitLookback failures is not run again. When nothing was in flight, the request's
  // DirtyExit is recorded: the failure appended, kFailedStat grown by one, the tracked status
  // set (expiring after a day). With max_recoveries, the DirtyExit's job, when in flight, is
  // counted, and failed as a poison job at that count (see RecoverRequest). Every tracked job
  // handed back gets waiting_status_json.
  absl::StatusOr<std::optional<RecoverResult>> RecoverWorker(const RecoverRequest& request);

  // Every heartbeat with its declared rule, the orphaned workers of ours, and the store's
  // clock, in one step (see LivenessView).
  absl::StatusOr<LivenessView> ReadLiveness();

  // ---- Stats ----

  // Adds `by` to counter `name` ("processed", "failed", "processed:<worker id>", ...) and
  // returns the new value. OutOfRange, changing nothing, when the sum would not fit 64 bits.
  absl::StatusOr<int64_t> IncrementStat(std::string_view name, int64_t by);

  // The counter's value; 0 when it does not exist.
  absl::StatusOr<int64_t> GetStat(std::string_view name);

  // Deletes the counter.
  absl::Status ClearStat(std::string_view name);

  // ---- Failures ----
  //
  // A `queue` names the job queue whose failure list is meant. With FailureLayout::kOneList it
  // is ignored by PushFailure and must be empty elsewhere (InvalidArgument); in kPerQueue,
  // PushFailure, Failures, UpdateFailure and RemoveFailure need one (InvalidArgument without),
  // and FailureCount and ClearFailures without one count or clear every queue's list.

  FailureLayout failure_layout() { return DoFailureLayout(); }

  // Appends a failure record (JSON) to the failure list of `queue` (the failed job's queue), the
  // newest last.
  absl::Status PushFailure(std::string_view failure_json, std::string_view queue = {});

  absl::StatusOr<int64_t> FailureCount(std::string_view queue = {});

  // Up to `count` failure records from index `start` (0 = the oldest). Negative arguments are
  // InvalidArgument.
  absl::StatusOr<std::vector<std::string>> Failures(int64_t start, int64_t count,
                                                    std::string_view queue = {});

  // Replaces the record at `index` (after a retry, with its retried_at set). NotFound when
  // there is no record at `index`.
  absl::Status UpdateFailure(int64_t index, std::string_view failure_json,
                             std::string_view queue = {});

  // Removes the record at `index`; the later ones move up by one. NotFound when there is none.
  absl::Status RemoveFailure(int64_t index, std::string_view queue = {});

  // Applies `edit` to the failure list of `queue` in one step: the record (at edit.index if it
  // is there, else the first record equal to it) is replaced or removed, and the payload pushed,
  // both or neither, so that a crash can neither lose the job nor leave it queued with its
  // record unchanged (queued again by the next retry). False when no such record is left:
  // nothing was done. InvalidArgument for a negative index or a bad queue name.
  absl::StatusOr<bool> EditFailure(const FailureEdit& edit, std::string_view queue = {});

  // Removes every failure record (of `queue`).
  absl::Status ClearFailures(std::string_view queue = {});

  // The job queues that have a failure list (kPerQueue), sorted; empty with one list.
  absl::StatusOr<std::vector<std::string>> FailureQueues();

  // ---- Delayed jobs (see DelayedTime) ----
  //
  // Every verb keeps resque-scheduler's three structures in step: the sorted set of seconds that
  // hold items, each second's list of items (oldest first), and each item's set of seconds.

  // Appends `item` to the items due at second `at`, in one step.
  absl::Status PushDelayed(int64_t at, std::string_view item);

  // How many items wait, at every second.
  absl::StatusOr<int64_t> DelayedCount();

  // The seconds that hold items, the earliest first, from index `start`, at most `count`.
  absl::StatusOr<std::vector<DelayedTime>> DelayedTimes(int64_t start, int64_t count);

  // The items due at second `at`, from index `start` (0 = the oldest), at most `count`.
  absl::StatusOr<std::vector<std::string>> DelayedItems(int64_t at, int64_t start, int64_t count);

  // Removes every copy of `item` (byte for byte) at every second; returns how many went.
  absl::StatusOr<int64_t> RemoveDelayed(std::string_view item);

  // Moves every copy of `item` to the end of `queue` now, out of the delayed structures, in one
  // step; returns how many moved (0 when it was no longer delayed).
  absl::StatusOr<int64_t> MoveDelayed(std::string_view item, std::string_view queue);

  // The scheduler's step: in one atomic step, moves up to request.max items due by request.now,
  // the earliest second first and each second's items in order, to the end of their queues
  // (listing the queues), and leaves no empty second behind. A scheduler killed at any point
  // has moved each item once or not at all.
  absl::StatusOr<MoveDueResult> MoveDue(const MoveDueRequest& request);

  // Takes or keeps the scheduler leader lock for `holder` for `ttl` (whole seconds, at least
  // one): both of the peers' locks (resque-scheduler's master lock and node-resque's leader
  // lock) at once, or neither when another holds either of them, so that one scheduler, ours or
  // a peer's, leads. True when `holder` now holds both.
  absl::StatusOr<bool> HoldSchedulerLock(std::string_view holder, absl::Duration ttl);

  // Frees the locks `holder` holds; others' are left alone.
  absl::Status ReleaseSchedulerLock(std::string_view holder);

  // Both locks as stored.
  absl::StatusOr<std::vector<SchedulerLock>> SchedulerLocks();

  // ---- Recurring schedules (see ScheduleEntry) ----

  // Stores `config` as schedule `name` and flags the name changed (resque-scheduler's
  // Resque.set_schedule). A new or changed config counts occurrences from second `since` on; the
  // same config as stored changes nothing (a restart loading its schedule file loses no
  // occurrence). Returns whether anything changed.
  absl::StatusOr<bool> SetSchedule(std::string_view name, std::string_view config, int64_t since);

  // Removes schedule `name` with its last times, flagging the name changed; false when there was
  // none.
  absl::StatusOr<bool> RemoveSchedule(std::string_view name);

  // Every schedule, sorted by name.
  absl::StatusOr<std::vector<ScheduleEntry>> Schedules();

  // In one step, only if `occurrence.name` is still a schedule and its last occurrence is before
  // occurrence.at: records occurrence.at as its last, and (unless mark_only) pushes the payload
  // to its queue and sets last_enqueued_at. So each occurrence is enqueued once, whichever
  // scheduler of ours gets there, across restarts and leader changes. True when it did.
  absl::StatusOr<bool> EnqueueOccurrence(const ScheduleOccurrence& occurrence);

 private:
  // Reserve of one job, written in place into the result.
  absl::StatusOr<std::optional<ReservedJob>> ReserveOne(const ReserveRequest& request);
  // Finish's checks of `finishes` (at least one), and what DoFinish is to write.
  absl::StatusOr<FinishWrite> CheckFinish(absl::Span<const JobFinish> finishes);

  friend class BackendWrapper;  // forwards the storage verbs of the backend it wraps

  // ---- The storage verbs: what a backend implements ----
  //
  // Each is called by the public verb of the same name, after it checked the arguments (names
  // not empty, ranges and indexes not negative, TTLs positive or infinite, a reserve's queues,
  // wait, owner and max, a finish's single worker). They return the errors of the store itself:
  // Unavailable, FailedPrecondition for a key of the wrong type, and the few results named below.

  // A session for one caller (OpenSession); the default forwards to *this.
  virtual std::unique_ptr<Backend> DoOpenSession();
  // CapWaits; the default does nothing.
  virtual void DoCapWaits(absl::Duration /*cap*/) {}
  // Return true only when DoFinish applies JobFinish::retry (see SupportsRetry).
  virtual bool DoSupportsRetry() const { return false; }

  // Appends `payloads` (at least one) to `queue`, contiguously, and lists the queue.
  virtual absl::Status DoPush(std::string_view queue,
                              absl::Span<const std::string_view> payloads) = 0;
  // Fills the first n of `out` (request.max empty jobs, the caller's storage, so that one job is
  // written once, in place) and returns n: 0 when nothing came in time.
  virtual absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                           absl::Span<ReservedJob> out) = 0;
  virtual absl::StatusOr<int64_t> DoSize(std::string_view queue) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoPeek(std::string_view queue, int64_t start,
                                                          int64_t count) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoQueues() = 0;
  // `all_up_to` not negative. The default: DoQueues, then DoSize of each queue when they are
  // more (for backends where a call is cheap).
  virtual absl::StatusOr<StarQueues> DoQueuesForStar(int64_t all_up_to);
  virtual absl::Status DoRemoveQueue(std::string_view queue) = 0;
  virtual absl::StatusOr<int64_t> DoRemoveJobs(std::string_view queue,
                                               const JobMatcher& matcher) = 0;

  // nullopt when there is no live status for `id`.
  virtual absl::StatusOr<std::optional<std::string>> DoGetStatus(std::string_view id) = 0;
  virtual absl::Status DoSetStatus(std::string_view id, std::string_view status_json,
                                   absl::Duration ttl, bool only_if_exists) = 0;

  // `liveness` is nullopt for a worker that declares nothing.
  virtual absl::Status DoRegisterWorker(std::string_view worker_id, std::string_view started,
                                        const std::optional<WorkerLiveness>& liveness) = 0;
  // Also deletes `stats`, the worker's own counters.
  virtual absl::Status DoUnregisterWorker(std::string_view worker_id, const WorkerStats& stats) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoWorkers() = 0;
  virtual absl::StatusOr<std::optional<std::string>> DoWorkerJob(std::string_view worker_id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> DoWorkerStarted(
      std::string_view worker_id) = 0;
  // Defaults: one call per queue or worker, for backends where a call is cheap (memory).
  virtual absl::StatusOr<std::vector<QueueSummary>> DoQueueSummaries(QueueParts parts);
  virtual absl::StatusOr<std::vector<WorkerSummary>> DoWorkerSummaries();
  virtual absl::Status DoStartJob(const JobStart& start) = 0;
  virtual absl::Status DoFinish(const FinishWrite& write) = 0;
  // `next` is checked as DoReserve's request is, with no wait; `out` as in DoReserve. The
  // outer status is the finish's, the inner one the reserve's. The default is DoFinish then
  // DoReserve, two steps, then DoStartJob for a `next.start` (whose `started` it sets); a backend
  // whose calls cost a round trip makes them one.
  virtual absl::StatusOr<absl::StatusOr<size_t>> DoFinishAndReserve(const FinishWrite& write,
                                                                    const ReserveRequest& next,
                                                                    absl::Span<ReservedJob> out);

  // `request.jobs` come in QueueOrder already (at least one); a job is handed back only when an
  // equal payload is in the owner's list (the newest such is taken out).
  virtual absl::StatusOr<int64_t> DoUnreserve(const UnreserveRequest& request) = 0;
  virtual absl::StatusOr<std::vector<ReservedJob>> DoInFlight(std::string_view owner) = 0;
  // `worker_ids` holds at least one.
  virtual absl::Status DoHeartbeat(absl::Span<const std::string> worker_ids,
                                   std::string_view beat) = 0;
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DoHeartbeats() = 0;
  // Hands the jobs back in QueueOrder; `stats` as in DoUnregisterWorker. The DirtyExit's
  // failure counts in kFailedStat.
  virtual absl::StatusOr<std::optional<RecoverResult>> DoRecoverWorker(
      const RecoverRequest& request, const WorkerStats& stats) = 0;
  virtual absl::StatusOr<LivenessView> DoReadLiveness() = 0;

  virtual absl::StatusOr<bool> DoAllWorkersPaused() = 0;
  virtual absl::Status DoPauseAllWorkers(bool paused) = 0;
  virtual absl::Status DoSetWorkerPaused(std::string_view /*worker_id*/, bool /*paused*/) {
    return absl::UnimplementedError("this backend keeps no pause marks");
  }
  virtual absl::StatusOr<std::vector<std::string>> DoPausedWorkers() {
    return std::vector<std::string>();
  }

  // nullopt, changing nothing, when the sum would not fit 64 bits.
  virtual absl::StatusOr<std::optional<int64_t>> DoIncrementStat(std::string_view name,
                                                                 int64_t by) = 0;
  virtual absl::StatusOr<int64_t> DoGetStat(std::string_view name) = 0;
  virtual absl::Status DoClearStat(std::string_view name) = 0;

  // The failure verbs get `queue` checked against the layout: always "" with kOneList.
  virtual FailureLayout DoFailureLayout() { return FailureLayout::kOneList; }
  virtual absl::Status DoPushFailure(std::string_view queue, std::string_view failure_json) = 0;
  // `queue` "" (kPerQueue): the sum over every queue's list.
  virtual absl::StatusOr<int64_t> DoFailureCount(std::string_view queue) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DoFailures(std::string_view queue, int64_t start,
                                                              int64_t count) = 0;
  // false, changing nothing, when there is no record at `index`.
  virtual absl::StatusOr<bool> DoUpdateFailure(std::string_view queue, int64_t index,
                                               std::string_view failure_json) = 0;
  virtual absl::StatusOr<bool> DoRemoveFailure(std::string_view queue, int64_t index) = 0;
  virtual absl::StatusOr<bool> DoEditFailure(std::string_view queue, const FailureEdit& edit) = 0;
  // `queue` "" (kPerQueue): every queue's list, their names leaving the set of lists too.
  virtual absl::Status DoClearFailures(std::string_view queue) = 0;
  // Called in kPerQueue only.
  virtual absl::StatusOr<std::vector<std::string>> DoFailureQueues() {
    return std::vector<std::string>();
  }
  // The delayed verbs: `at`, `start` and `count` not negative, items and queue names not empty,
  // request.max in range, ttl a whole number of seconds >= 1. Unimplemented by default.
  virtual absl::Status DoPushDelayed(int64_t at, std::string_view item);
  virtual absl::StatusOr<int64_t> DoDelayedCount();
  virtual absl::StatusOr<std::vector<DelayedTime>> DoDelayedTimes(int64_t start, int64_t count);
  virtual absl::StatusOr<std::vector<std::string>> DoDelayedItems(int64_t at, int64_t start,
                                                                  int64_t count);
  virtual absl::StatusOr<int64_t> DoRemoveDelayed(std::string_view item);
  virtual absl::StatusOr<int64_t> DoMoveDelayed(std::string_view item, std::string_view queue);
  virtual absl::StatusOr<MoveDueResult> DoMoveDue(const MoveDueRequest& request);
  virtual absl::StatusOr<bool> DoHoldSchedulerLock(std::string_view holder, int64_t ttl_seconds);
  virtual absl::Status DoReleaseSchedulerLock(std::string_view holder);
  virtual absl::StatusOr<std::vector<SchedulerLock>> DoSchedulerLocks();
  // The schedule verbs: names and configs not empty, a queue name and payload unless mark_only.
  // Unimplemented by default.
  virtual absl::StatusOr<bool> DoSetSchedule(std::string_view name, std::string_view config,
                                             int64_t since);
  virtual absl::StatusOr<bool> DoRemoveSchedule(std::string_view name);
  virtual absl::StatusOr<std::vector<ScheduleEntry>> DoSchedules();
  virtual absl::StatusOr<bool> DoEnqueueOccurrence(const ScheduleOccurrence& occurrence);
};

}  // namespace resque

#endif  // RESQUE_CORE_BACKEND_H_
