#include "backends/memory/memory_backend.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backends/memory/epoch.h"
#include "backends/memory/futex.h"
#include "backends/memory/queue_table.h"
#include "core/absl_view.h"
#include "core/failure.h"
#include "core/job_filter.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/status.h"
#include "core/status_macros.h"

namespace resque::memory {
namespace {

// Waits longer than this are treated as no limit at all (and keep steady_clock arithmetic far
// from overflow).
constexpr absl::Duration kForever = absl::Hours(24 * 365 * 100);

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(Clock* clock) : clock_(clock) {}
  ~MemoryBackend() override;

  int WaitingReservers() const { return static_cast<int>(waiting_reservers_.load()); }

 private:
  absl::Status DoPush(std::string_view queue, absl::Span<const std::string_view> payloads) override;
  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override;
  absl::StatusOr<int64_t> DoSize(std::string_view queue) override;
  absl::StatusOr<std::vector<std::string>> DoPeek(std::string_view queue, int64_t start,
                                                  int64_t count) override;
  absl::StatusOr<std::vector<std::string>> DoQueues() override;
  absl::Status DoRemoveQueue(std::string_view queue) override;
  absl::StatusOr<int64_t> DoRemoveJobs(std::string_view queue, const JobMatcher& matcher) override;

  absl::StatusOr<std::optional<std::string>> DoGetStatus(std::string_view id) override;
  absl::Status DoSetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                           bool only_if_exists) override;

  absl::Status DoRegisterWorker(std::string_view worker_id, std::string_view started,
                                const std::optional<WorkerLiveness>& liveness) override;
  absl::Status DoUnregisterWorker(std::string_view worker_id, const WorkerStats& stats) override;
  absl::StatusOr<std::vector<std::string>> DoWorkers() override;
  absl::StatusOr<std::optional<std::string>> DoWorkerJob(std::string_view worker_id) override;
  absl::StatusOr<std::optional<std::string>> DoWorkerStarted(std::string_view worker_id) override;
  absl::Status DoStartJob(const JobStart& start) override;
  absl::Status DoFinish(const FinishWrite& write) override;
  bool DoSupportsRetry() const override { return true; }

  absl::StatusOr<int64_t> DoUnreserve(const UnreserveRequest& request) override;
  absl::StatusOr<std::vector<ReservedJob>> DoInFlight(std::string_view owner) override;
  absl::Status DoHeartbeat(absl::Span<const std::string> worker_ids,
                           std::string_view beat) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DoHeartbeats() override;
  absl::StatusOr<std::optional<RecoverResult>> DoRecoverWorker(const RecoverRequest& request,
                                                               const WorkerStats& stats) override;
  absl::StatusOr<LivenessView> DoReadLiveness() override;

  absl::StatusOr<bool> DoAllWorkersPaused() override { return paused_all_.load(); }
  absl::Status DoSetWorkerPaused(std::string_view worker_id, bool paused) override;
  absl::StatusOr<std::vector<std::string>> DoPausedWorkers() override;
  absl::Status DoPauseAllWorkers(bool paused) override {
    paused_all_.store(paused);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<int64_t>> DoIncrementStat(std::string_view name,
                                                         int64_t by) override;
  absl::StatusOr<int64_t> DoGetStat(std::string_view name) override;
  absl::Status DoClearStat(std::string_view name) override;

  // One list (FailureLayout::kOneList): `queue` is always "".
  absl::Status DoPushFailure(std::string_view queue, std::string_view failure_json) override;
  absl::StatusOr<int64_t> DoFailureCount(std::string_view queue) override;
  absl::StatusOr<std::vector<std::string>> DoFailures(std::string_view queue, int64_t start,
                                                      int64_t count) override;
  absl::StatusOr<bool> DoUpdateFailure(std::string_view queue, int64_t index,
                                       std::string_view failure_json) override;
  absl::StatusOr<bool> DoRemoveFailure(std::string_view queue, int64_t index) override;
  absl::StatusOr<bool> DoEditFailure(std::string_view queue, const FailureEdit& edit) override;
  absl::Status DoClearFailures(std::string_view queue) override;

  absl::Status DoPushDelayed(int64_t at, std::string_view item) override;
  absl::StatusOr<int64_t> DoDelayedCount() override;
  absl::StatusOr<std::vector<DelayedTime>> DoDelayedTimes(int64_t start, int64_t count) override;
  absl::StatusOr<std::vector<std::string>> DoDelayedItems(int64_t at, int64_t start,
                                                          int64_t count) override;
  absl::StatusOr<int64_t> DoRemoveDelayed(std::string_view item) override;
  absl::StatusOr<int64_t> DoMoveDelayed(std::string_view item, std::string_view queue) override;
  absl::StatusOr<MoveDueResult> DoMoveDue(const MoveDueRequest& request) override;
  absl::StatusOr<bool> DoHoldSchedulerLock(std::string_view holder, int64_t ttl_seconds) override;
  absl::Status DoReleaseSchedulerLock(std::string_view holder) override;
  absl::StatusOr<std::vector<SchedulerLock>> DoSchedulerLocks() override;
  absl::StatusOr<bool> DoSetSchedule(std::string_view name, std::string_view config,
                                     int64_t since) override;
  absl::StatusOr<bool> DoRemoveSchedule(std::string_view name) override;
  absl::StatusOr<std::vector<ScheduleEntry>> DoSchedules() override;
  absl::StatusOr<bool> DoEnqueueOccurrence(const ScheduleOccurrence& occurrence) override;

  struct Status {
    std::string json;
    absl::Time expires = absl::InfiniteFuture();
  };

  // Makes Queues() name `entry`, after a push linked a payload into it.
  static void MarkListed(QueueEntry& entry);
  // Wakes the parked reservers if any of them waits on `entry`.
  void WakeWaiters(const QueueEntry& entry);
  // Pops into `job` from the first of `queues` that has a payload (looking them up, creating
  // none); false when all are empty.
  bool TryReserve(absl::Span<const std::string> queues, ReservedJob& job);
  // Pops into `*job` from the first of `entries` that has a payload; false when all are empty.
  static bool PopFirst(absl::Span<QueueEntry* const> entries, ReservedJob* job);
  // Parks until one of `queues` has a payload for `job` (true) or `wait` passes (false).
  absl::StatusOr<bool> ReserveWaiting(absl::Span<const std::string> queues, absl::Duration wait,
                                      ReservedJob& job);
  // One job of `queues` into `job`, waiting up to `wait`; false when none came.
  absl::StatusOr<bool> ReserveOne(absl::Span<const std::string> queues, absl::Duration wait,
                                  ReservedJob& job);
  // Puts `payloads` back at the head of `queue`, the first first in line.
  void PushFront(const std::string& queue, absl::Span<const std::string> payloads);

  // The live status of `id`, erasing it if it has expired; nullptr when there is none.
  Status* LiveStatus(std::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStatusLocked(std::string_view id, std::string_view json, absl::Duration ttl,
                       bool only_if_exists) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops expired statuses once the map has doubled since the last sweep, so that statuses
  // nobody reads again do not pile up.
  void MaybeSweepStatuses() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddToStat(std::string_view name, int64_t by) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the newest (or the oldest) in-flight entry of `owner` equal to `job` out; whether
  // there was one.
  bool TakeInFlightLocked(std::string_view owner, const ReservedJob& job, bool newest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnregisterWorkerLocked(std::string_view worker_id, const WorkerStats& stats)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether RecoverWorker's conditions hold for `request`.
  bool RecoverConditionsHoldLocked(const RecoverRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The jobs (JobKeyOf) that peers recorded as DirtyExit failures of `worker_id` among the newest
  // kDirtyExitLookback records, with how many records name each.
  absl::flat_hash_map<std::string, int> DirtyExitsOfLocked(std::string_view worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts one more death of a worker running `payload` into `count`: whether that makes it a
  // poison job (at `max`; its count is then forgotten).
  bool PoisonedByThisDeathLocked(const std::string& payload, int64_t max, int64_t& count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes every copy of a delayed item out; how many there were.
  int64_t TakeDelayedLocked(std::string_view item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;

  // ---- Queues: lock-free ----
  // Declared before the table so that it is destroyed after it.
  EpochDomain epochs_;
  QueueTable queues_{&epochs_};
  // Parked reservers sleep on this word; a push to a queue someone waits on bumps it and wakes
  // them all. They re-check their own queues and park again if theirs are still empty.
  std::atomic<uint32_t> wake_seq_{0};
  // Reserve calls in their waiting phase; the destructor waits for it to drop to zero.
  std::atomic<uint32_t> waiting_reservers_{0};
  std::atomic<bool> closing_{false};
  // The fleet-wide pause flag: read by every reserve that honours it, so lock-free.
  std::atomic<bool> paused_all_{false};

  // ---- Everything else: one mutex, so that StartJob and FinishJob apply as a whole ----
  // A std::mutex rather than absl::Mutex: Debian's Abseil is built without ThreadSanitizer
  // annotations, so TSan cannot see absl::Mutex order accesses and reports false races.
  std::mutex mu_;
  absl::flat_hash_map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  size_t sweep_statuses_at_ ABSL_GUARDED_BY(mu_) = 1024;
  std::set<std::string, std::less<>> workers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> paused_workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> worker_jobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> worker_started_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  // Reliable reserve's bookkeeping takes the mutex: the payload leaves its queue by the lock-free
  // pop, then is noted here. Only ReserveInFlight pays for it; Push and Reserve stay lock-free.
  absl::flat_hash_map<std::string, std::vector<ReservedJob>> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> heartbeats_ ABSL_GUARDED_BY(mu_);
  // What our workers declared as they registered (WorkerLiveness), as Redis keeps it in
  // workers:liveness and workers:inflight.
  absl::flat_hash_map<std::string, absl::Duration> dead_after_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> in_flight_owners_ ABSL_GUARDED_BY(mu_);
  // How many times a worker died running each payload (RecoverRequest::max_recoveries), as
  // Redis keeps them in <ns>:recoveries: all forgotten together kRecoveryCountTtl after the
  // last count, or when kMaxRecoveryCounts are held and another comes.
  absl::flat_hash_map<std::string, int64_t> recoveries_ ABSL_GUARDED_BY(mu_);
  absl::Time recoveries_expire_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Delayed items, as Redis keeps them: each second's items in order, and each item's seconds.
  std::map<int64_t, std::deque<std::string>> delayed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::set<int64_t>> delayed_seconds_ ABSL_GUARDED_BY(mu_);
  // The two scheduler leader locks (resque-scheduler's, node-resque's): holder and expiry.
  struct Lock {
    std::string holder;
    absl::Time expires = absl::InfinitePast();
  };
  std::array<Lock, 2> scheduler_locks_ ABSL_GUARDED_BY(mu_);
  // Recurring schedules by name, as Redis keeps them (ScheduleEntry's fields).
  std::map<std::string, ScheduleEntry> schedules_ ABSL_GUARDED_BY(mu_);
};

// What names a job for matching a peer's DirtyExit record against an in-flight payload: its id,
// else its class and args (canonical JSON). Empty for what is not a job.
std::string JobKeyOf(std::string_view payload_json) {
  absl::StatusOr<Payload> p = DecodePayload(payload_json);
  if (!p.ok()) {
    std::string id = IdOfBadPayload(payload_json);
    return id.empty() ? "" : absl::StrCat("id:", id);
  }
  if (!p->id.empty()) return absl::StrCat("id:", p->id);
  absl::StatusOr<std::string> args = json::Canonicalize(p->args);
  return absl::StrCat("class:", p->class_name, ":", args.ok() ? *args : p->args);
}

// ---- Queues ----

MemoryBackend::~MemoryBackend() {
  // Destroying a backend that other threads still call is a bug of the caller; a parked Reserve
  // is the one such call it is reasonable to forget, so it is woken and waited for.
  closing_.store(true);
  wake_seq_.fetch_add(1);
  FutexWakeAll(&wake_seq_);
  for (uint32_t n = waiting_reservers_.load(); n != 0; n = waiting_reservers_.load()) {
    FutexWait(&waiting_reservers_, n, absl::InfiniteDuration());
  }
}

void MemoryBackend::MarkListed(QueueEntry& entry) {
  // Listed after the link, and unlisted before the clear in RemoveQueue: a queue that holds a
  // payload is never left unlisted. Reading first spares the usual push a locked write; a read
  // that still sees the flag set comes before any RemoveQueue's unlist, hence before its clear,
  // which then takes the payload just linked.
  if (!entry.listed.load()) entry.listed.store(true);
}

void MemoryBackend::WakeWaiters(const QueueEntry& entry) {
  // Without waiters, a push makes no system call.
  if (entry.waiters.load() == 0) return;
  wake_seq_.fetch_add(1);
  FutexWakeAll(&wake_seq_);
}

absl::Status MemoryBackend::DoPush(std::string_view queue,
                                   absl::Span<const std::string_view> payloads) {
  QueueEntry* entry = queues_.FindOrCreate(queue);
  if (payloads.size() == 1) {
    entry->queue.Push(payloads[0]);
  } else {
    entry->queue.PushMany(payloads);
  }
  MarkListed(*entry);
  WakeWaiters(*entry);
  return absl::OkStatus();
}

bool MemoryBackend::TryReserve(absl::Span<const std::string> queues, ReservedJob& job) {
  for (const std::string& queue : queues) {
    QueueEntry* entry = queues_.Find(queue);
    if (entry != nullptr && entry->queue.Pop(&job.payload)) {
      job.queue = entry->name;
      return true;
    }
  }
  return false;
}

bool MemoryBackend::PopFirst(absl::Span<QueueEntry* const> entries, ReservedJob* job) {
  for (QueueEntry* entry : entries) {
    if (entry->queue.Pop(&job->payload)) {
      job->queue = entry->name;
      return true;
    }
  }
  return false;
}

absl::StatusOr<bool> MemoryBackend::ReserveOne(absl::Span<const std::string> queues,
                                               absl::Duration wait, ReservedJob& job) {
  // The fast path only looks queues up: reserving from a queue never pushed to creates nothing.
  if (TryReserve(queues, job)) return true;
  if (wait == absl::ZeroDuration()) return false;
  return ReserveWaiting(queues, wait, job);
}

absl::StatusOr<size_t> MemoryBackend::DoReserve(const ReserveRequest& request,
                                                absl::Span<ReservedJob> out) {
  if (request.paused != nullptr && paused_all_.load()) {
    *request.paused = true;
    return 0;
  }
  // Popped straight into the caller's job: its strings are written once and never moved.
  RESQUE_ASSIGN_OR_RETURN(const bool got, ReserveOne(request.queues, request.wait, out[0]));
  if (!got) return 0;
  if (request.paused != nullptr && paused_all_.load()) {
    // The pause came during the wait: the job goes back to where it was, first in line.
    PushFront(out[0].queue, absl::MakeConstSpan(&out[0].payload, 1));
    *request.paused = true;
    return 0;
  }
  if (request.owner.empty()) return 1;
  // The rest from the same queue, as the Redis script takes them.
  size_t n = 1;
  if (QueueEntry* entry = queues_.Find(out[0].queue); entry != nullptr) {
    for (; n < out.size() && entry->queue.Pop(&out[n].payload); ++n) out[n].queue = entry->name;
  }
  // Between the pops and this line the jobs are in neither place; in one process nothing can die
  // in between without taking the whole backend with it. A RecoverWorker of the owner running
  // meanwhile does not see them: they stay in flight for the owner, who is alive.
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReservedJob>& in_flight = in_flight_[AbslView(request.owner)];
  in_flight.insert(in_flight.end(), out.begin(), out.begin() + n);
  return n;
}

absl::StatusOr<bool> MemoryBackend::ReserveWaiting(absl::Span<const std::string> queues,
                                                   absl::Duration wait, ReservedJob& job) {
  using SteadyClock = std::chrono::steady_clock;
  const bool forever = wait >= kForever;
  const SteadyClock::time_point deadline =
      SteadyClock::now() +
      (forever
           ? SteadyClock::duration::zero()
           : std::chrono::duration_cast<SteadyClock::duration>(absl::ToChronoNanoseconds(wait)));
  // A queue waited on needs an entry to count its waiters, even before its first push.
  absl::InlinedVector<QueueEntry*, 8> entries;
  for (const std::string& queue : queues) entries.push_back(queues_.FindOrCreate(queue));

  waiting_reservers_.fetch_add(1);
  for (QueueEntry* entry : entries) entry->waiters.fetch_add(1);
  // From here on a push to any of `entries` bumps wake_seq_ (the waiter count and the pushed
  // node are both seq_cst: either the push sees the count, or the pop below sees the node).
  absl::StatusOr<bool> result = false;
  for (;;) {
    // Read before the closing flag and before looking, so that a wake-up that comes after
    // either makes FutexWait return at once.
    const uint32_t seen = wake_seq_.load();
    if (closing_.load()) {
      result = absl::CancelledError("reserve: the memory backend is being destroyed");
      break;
    }
    if (PopFirst(entries, &job)) {
      result = true;
      break;
    }
    absl::Duration remaining = absl::InfiniteDuration();
    if (!forever) {
      remaining = absl::FromChrono(deadline - SteadyClock::now());
      if (remaining <= absl::ZeroDuration()) break;
    }
    FutexWait(&wake_seq_, seen, remaining);
  }
  for (QueueEntry* entry : entries) entry->waiters.fetch_sub(1);
  // Last touch of `this`: once the count is zero the destructor may run. The wake-up call only
  // uses the address.
  std::atomic<uint32_t>* const waiting = &waiting_reservers_;
  if (waiting->fetch_sub(1) == 1) FutexWakeAll(waiting);
  return result;
}

absl::StatusOr<int64_t> MemoryBackend::DoSize(std::string_view queue) {
  const QueueEntry* entry = queues_.Find(queue);
  return entry == nullptr ? 0 : entry->queue.Size();
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoPeek(std::string_view queue,
                                                               int64_t start, int64_t count) {
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return std::vector<std::string>();
  return entry->queue.Peek(start, count);
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoQueues() {
  std::vector<std::string> names;
  queues_.ForEach([&names](QueueEntry& entry) {
    if (entry.listed.load()) names.push_back(entry.name);
  });
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status MemoryBackend::DoRemoveQueue(std::string_view queue) {
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return absl::OkStatus();
  // The entry itself stays: other threads may hold it, and it is small.
  entry->listed.store(false);
  entry->queue.RemoveIf([](std::string_view) { return true; });
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryBackend::DoRemoveJobs(std::string_view queue,
                                                    const JobMatcher& matcher) {
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return 0;
  return entry->queue.RemoveIf(
      [&matcher](std::string_view payload) { return matcher.Matches(payload); });
}

void MemoryBackend::PushFront(const std::string& queue, absl::Span<const std::string> payloads) {
  QueueEntry* entry = queues_.FindOrCreate(queue);
  entry->queue.PushFrontMany(payloads);
  entry->listed.store(true);
  WakeWaiters(*entry);
}

// ---- Statuses ----

MemoryBackend::Status* MemoryBackend::LiveStatus(std::string_view id) {
  auto it = statuses_.find(AbslView(id));
  if (it == statuses_.end()) return nullptr;
  if (clock_->Now() >= it->second.expires) {
    statuses_.erase(it);
    return nullptr;
  }
  return &it->second;
}

void MemoryBackend::SetStatusLocked(std::string_view id, std::string_view json, absl::Duration ttl,
                                    bool only_if_exists) {
  Status* status = LiveStatus(id);
  if (status == nullptr) {
    if (only_if_exists) return;
    MaybeSweepStatuses();
    status = &statuses_[AbslView(id)];
  }
  status->json = std::string(json);
  // As Redis's SET: a write without a TTL also drops an earlier one.
  status->expires = ttl == absl::InfiniteDuration() ? absl::InfiniteFuture() : clock_->Now() + ttl;
}

void MemoryBackend::MaybeSweepStatuses() {
  if (statuses_.size() < sweep_statuses_at_) return;
  const absl::Time now = clock_->Now();
  absl::erase_if(statuses_, [now](const auto& entry) { return now >= entry.second.expires; });
  sweep_statuses_at_ = std::max<size_t>(1024, 2 * statuses_.size());
}

absl::StatusOr<std::optional<std::string>> MemoryBackend::DoGetStatus(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  const Status* status = LiveStatus(id);
  if (status == nullptr) return std::nullopt;
  return status->json;
}

absl::Status MemoryBackend::DoSetStatus(std::string_view id, std::string_view status_json,
                                        absl::Duration ttl, bool only_if_exists) {
  std::lock_guard<std::mutex> lock(mu_);
  SetStatusLocked(id, status_json, ttl, only_if_exists);
  return absl::OkStatus();
}

// ---- Workers ----

absl::Status MemoryBackend::DoRegisterWorker(std::string_view worker_id, std::string_view started,
                                             const std::optional<WorkerLiveness>& liveness) {
  std::lock_guard<std::mutex> lock(mu_);
  workers_.emplace(worker_id);
  if (auto it = paused_workers_.find(worker_id); it != paused_workers_.end()) {
    paused_workers_.erase(it);
  }
  worker_started_[AbslView(worker_id)] = std::string(started);
  if (liveness.has_value()) {
    dead_after_[AbslView(worker_id)] = liveness->dead_after;
    if (liveness->in_flight) in_flight_owners_.emplace(worker_id);
  }
  return absl::OkStatus();
}

absl::Status MemoryBackend::DoUnregisterWorker(std::string_view worker_id,
                                               const WorkerStats& stats) {
  std::lock_guard<std::mutex> lock(mu_);
  UnregisterWorkerLocked(worker_id, stats);
  return absl::OkStatus();
}

void MemoryBackend::UnregisterWorkerLocked(std::string_view worker_id, const WorkerStats& stats) {
  if (auto it = workers_.find(worker_id); it != workers_.end()) workers_.erase(it);
  if (auto it = paused_workers_.find(worker_id); it != paused_workers_.end()) {
    paused_workers_.erase(it);
  }
  worker_jobs_.erase(AbslView(worker_id));
  worker_started_.erase(AbslView(worker_id));
  stats_.erase(stats.processed);
  stats_.erase(stats.failed);
  heartbeats_.erase(AbslView(worker_id));
  dead_after_.erase(AbslView(worker_id));
}

absl::Status MemoryBackend::DoSetWorkerPaused(std::string_view worker_id, bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  if (paused) {
    paused_workers_.emplace(worker_id);
  } else if (auto it = paused_workers_.find(worker_id); it != paused_workers_.end()) {
    paused_workers_.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoPausedWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::string>(paused_workers_.begin(), paused_workers_.end());
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::string>(workers_.begin(), workers_.end());
}

absl::StatusOr<std::optional<std::string>> MemoryBackend::DoWorkerJob(std::string_view worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = worker_jobs_.find(AbslView(worker_id));
  if (it == worker_jobs_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<std::string>> MemoryBackend::DoWorkerStarted(
    std::string_view worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = worker_started_.find(AbslView(worker_id));
  if (it == worker_started_.end()) return std::nullopt;
  return it->second;
}

absl::Status MemoryBackend::DoStartJob(const JobStart& start) {
  std::lock_guard<std::mutex> lock(mu_);
  worker_jobs_[AbslView(start.worker_id)] = start.working_json;
  if (!start.job_id.empty()) {
    SetStatusLocked(start.job_id, start.status_json, absl::InfiniteDuration(),
                    /*only_if_exists=*/true);
  }
  for (const std::string& id : start.other_job_ids) {
    if (!id.empty()) {
      SetStatusLocked(id, start.status_json, absl::InfiniteDuration(), /*only_if_exists=*/true);
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryBackend::DoFinish(const FinishWrite& write) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const JobFinish& finish : write.jobs) {
    if (!finish.job_id.empty()) {
      SetStatusLocked(finish.job_id, finish.status_json, finish.status_ttl,
                      /*only_if_exists=*/true);
    }
    bool taken = true;
    if (finish.in_flight.has_value()) {
      // The oldest match, as the Redis script's LREM with a count of 1: jobs finish in the order
      // they were reserved.
      taken = TakeInFlightLocked(write.worker_id, *finish.in_flight, /*newest=*/false);
    }
    if (finish.retry.has_value()) {
      // Once, as the Redis script: a finish sent again delays nothing more.
      std::set<int64_t>& seconds = delayed_seconds_[finish.retry->item];
      if (taken && !seconds.contains(finish.retry->at)) {
        delayed_[finish.retry->at].push_back(finish.retry->item);
        seconds.insert(finish.retry->at);
      }
      if (seconds.empty()) delayed_seconds_.erase(finish.retry->item);
    } else if (finish.failed) {
      failures_.push_back(finish.failure_json);
    }
  }
  const auto jobs = static_cast<int64_t>(write.jobs.size());
  AddToStat(kProcessedStat, jobs);
  AddToStat(write.stats.processed, jobs);
  if (write.failures > 0) {
    AddToStat(kFailedStat, write.failures);
    AddToStat(write.stats.failed, write.failures);
  }
  worker_jobs_.erase(AbslView(write.worker_id));
  return absl::OkStatus();
}

bool MemoryBackend::TakeInFlightLocked(std::string_view owner, const ReservedJob& job,
                                       bool newest) {
  auto it = in_flight_.find(AbslView(owner));
  if (it == in_flight_.end()) return false;
  std::vector<ReservedJob>& jobs = it->second;
  const auto same = [&job](const ReservedJob& j) {
    return j.queue == job.queue && j.payload == job.payload;
  };
  bool found = false;
  if (newest) {
    auto j = std::find_if(jobs.rbegin(), jobs.rend(), same);
    if (j != jobs.rend()) {
      jobs.erase(std::next(j).base());
      found = true;
    }
  } else {
    auto j = std::find_if(jobs.begin(), jobs.end(), same);
    if (j != jobs.end()) {
      jobs.erase(j);
      found = true;
    }
  }
  if (jobs.empty()) in_flight_.erase(it);
  return found;
}

// ---- Reliable reserve and liveness ----

absl::StatusOr<int64_t> MemoryBackend::DoUnreserve(const UnreserveRequest& request) {
  const absl::Span<const UnreserveJob> jobs = request.jobs;
  std::lock_guard<std::mutex> lock(mu_);
  // Taken out newest first, as the Redis script does, so that of two equal payloads the one
  // reserved last goes back.
  if (!request.idle_worker.empty()) worker_jobs_.erase(AbslView(request.idle_worker));
  std::vector<bool> found(jobs.size());
  for (size_t i = jobs.size(); i-- > 0;) {
    // Without an owner the job was only in the caller's memory: it goes back whatever.
    found[i] =
        request.owner.empty() || TakeInFlightLocked(request.owner, jobs[i].job, /*newest=*/true);
    if (found[i] && !jobs[i].job_id.empty()) {
      SetStatusLocked(jobs[i].job_id, request.status_json, absl::InfiniteDuration(),
                      /*only_if_exists=*/true);
    }
  }
  // Core hands them in QueueOrder: each queue's jobs are one run.
  int64_t moved = 0;
  for (size_t i = 0; i < jobs.size();) {
    const std::string& queue = jobs[i].job.queue;
    std::vector<std::string> payloads;
    for (; i < jobs.size() && jobs[i].job.queue == queue; ++i) {
      if (found[i]) payloads.push_back(jobs[i].job.payload);
    }
    if (payloads.empty()) continue;
    PushFront(queue, payloads);
    moved += static_cast<int64_t>(payloads.size());
  }
  return moved;
}

absl::StatusOr<std::vector<ReservedJob>> MemoryBackend::DoInFlight(std::string_view owner) {
  std::vector<ReservedJob> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(AbslView(owner));
    if (it != in_flight_.end()) out = it->second;
  }
  // As Redis lists them: queue by queue (sorted), each in its order.
  std::stable_sort(out.begin(), out.end(),
                   [](const ReservedJob& a, const ReservedJob& b) { return a.queue < b.queue; });
  return out;
}

absl::Status MemoryBackend::DoHeartbeat(absl::Span<const std::string> worker_ids,
                                        std::string_view beat) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : worker_ids) heartbeats_[id] = std::string(beat);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> MemoryBackend::DoHeartbeats() {
  std::vector<std::pair<std::string, std::string>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.assign(heartbeats_.begin(), heartbeats_.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool MemoryBackend::RecoverConditionsHoldLocked(const RecoverRequest& request) {
  const std::string_view id = request.worker_id;
  auto beat = heartbeats_.find(AbslView(id));
  if (request.if_heartbeat.has_value() &&
      (beat == heartbeats_.end() || beat->second != *request.if_heartbeat)) {
    return false;
  }
  if (request.if_orphaned &&
      (workers_.count(id) > 0 || beat != heartbeats_.end() ||
       (in_flight_owners_.count(id) == 0 && !dead_after_.contains(AbslView(id))))) {
    return false;
  }
  if (request.dirty_exit.has_value()) {
    auto record = worker_jobs_.find(AbslView(id));
    if (record == worker_jobs_.end() || record->second != request.dirty_exit->working_json) {
      return false;
    }
  }
  return true;
}

absl::flat_hash_map<std::string, int> MemoryBackend::DirtyExitsOfLocked(
    std::string_view worker_id) {
  absl::flat_hash_map<std::string, int> found;
  const size_t from =
      failures_.size() - std::min(failures_.size(), static_cast<size_t>(kDirtyExitLookback));
  for (size_t i = from; i < failures_.size(); ++i) {
    if (failures_[i].find(worker_id) == std::string::npos) continue;
    absl::StatusOr<Failure> f = DecodeFailure(failures_[i]);
    if (!f.ok() || f->worker != worker_id || !absl::StrContains(f->exception, "DirtyExit")) {
      continue;
    }
    if (std::string key = JobKeyOf(f->payload); !key.empty()) ++found[key];
  }
  return found;
}

bool MemoryBackend::PoisonedByThisDeathLocked(const std::string& payload, int64_t max,
                                              int64_t& count) {
  if (clock_->Now() >= recoveries_expire_ ||
      (!recoveries_.contains(payload) &&
       recoveries_.size() >= static_cast<size_t>(kMaxRecoveryCounts))) {
    recoveries_.clear();
  }
  count = ++recoveries_[payload];
  if (count >= max) {
    recoveries_.erase(payload);
    if (recoveries_.empty()) recoveries_expire_ = absl::InfiniteFuture();
    return true;
  }
  recoveries_expire_ = clock_->Now() + kRecoveryCountTtl;
  return false;
}

absl::StatusOr<std::optional<RecoverResult>> MemoryBackend::DoRecoverWorker(
    const RecoverRequest& request, const WorkerStats& stats) {
  const std::string_view worker_id = request.worker_id;
  std::lock_guard<std::mutex> lock(mu_);
  if (!RecoverConditionsHoldLocked(request)) return std::nullopt;
  std::vector<ReservedJob> jobs;
  if (auto it = in_flight_.find(AbslView(worker_id)); it != in_flight_.end()) {
    jobs = std::move(it->second);
    in_flight_.erase(it);
  }
  RecoverResult result;
  if (jobs.empty() && request.dirty_exit.has_value()) {
    const DirtyExit& exit = *request.dirty_exit;
    failures_.push_back(exit.failure_json);
    AddToStat(kFailedStat, 1);
    if (!exit.job_id.empty()) {
      SetStatusLocked(exit.job_id, exit.status_json, kFinishedStatusTtl, /*only_if_exists=*/true);
    }
    result.dirty_exits = 1;
  }
  UnregisterWorkerLocked(worker_id, stats);
  if (auto it = in_flight_owners_.find(worker_id); it != in_flight_owners_.end()) {
    in_flight_owners_.erase(it);
  }
  if (!jobs.empty()) {
    // The job the worker was running, counted as the Redis script counts it.
    const std::string* running = request.max_recoveries > 0 && request.dirty_exit.has_value()
                                     ? &request.dirty_exit->payload_json
                                     : nullptr;
    // Newest first, as the Redis script reads them: of several equal payloads, the newest are
    // the ones dropped (and counted).
    absl::flat_hash_map<std::string, int> failed = DirtyExitsOfLocked(worker_id);
    std::vector<bool> drop(jobs.size(), false);
    for (size_t i = jobs.size(); i-- > 0;) {
      const bool is_running = running != nullptr && jobs[i].payload == *running;
      if (is_running) running = nullptr;
      auto it = failed.find(JobKeyOf(jobs[i].payload));
      if (it != failed.end() && it->second > 0) {
        --it->second;
        drop[i] = true;
        ++result.already_failed;
      } else if (is_running && PoisonedByThisDeathLocked(jobs[i].payload, request.max_recoveries,
                                                         result.recoveries)) {
        drop[i] = true;
        result.poisoned = 1;
      }
    }
    if (result.poisoned > 0) {
      const DirtyExit& exit = *request.dirty_exit;
      failures_.push_back(exit.poison_failure_json);
      AddToStat(kFailedStat, 1);
      if (!exit.job_id.empty()) {
        SetStatusLocked(exit.job_id, exit.status_json, kFinishedStatusTtl,
                        /*only_if_exists=*/true);
      }
    }
    std::vector<ReservedJob> back;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!drop[i]) back.push_back(std::move(jobs[i]));
    }
    jobs = std::move(back);
  }
  if (!request.waiting_status_json.empty()) {
    for (const ReservedJob& job : jobs) {
      absl::StatusOr<Payload> p = DecodePayload(job.payload);
      if (p.ok() && !p->id.empty()) {
        SetStatusLocked(p->id, request.waiting_status_json, absl::InfiniteDuration(),
                        /*only_if_exists=*/true);
      }
    }
  }
  // Still under the lock, so that a second recovery cannot overtake this one; the queues' own
  // operations take no lock, so there is no lock order to keep.
  const std::vector<size_t> order =
      QueueOrder(jobs.size(), [&jobs](size_t i) -> std::string_view { return jobs[i].queue; });
  for (size_t k = 0; k < order.size();) {
    const std::string& queue = jobs[order[k]].queue;
    std::vector<std::string> payloads;
    for (; k < order.size() && jobs[order[k]].queue == queue; ++k) {
      payloads.push_back(std::move(jobs[order[k]].payload));
    }
    PushFront(queue, payloads);
  }
  result.handed_back = static_cast<int64_t>(jobs.size());
  return std::optional<RecoverResult>(result);
}

absl::StatusOr<LivenessView> MemoryBackend::DoReadLiveness() {
  LivenessView view;  // no clock of its own to share: the caller's judges
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, beat] : heartbeats_) {
    WorkerBeat b{.worker_id = id, .beat = beat};
    if (auto it = dead_after_.find(id); it != dead_after_.end()) b.dead_after = it->second;
    view.beats.push_back(std::move(b));
  }
  std::sort(view.beats.begin(), view.beats.end(),
            [](const WorkerBeat& a, const WorkerBeat& b) { return a.worker_id < b.worker_id; });
  std::set<std::string> orphans(in_flight_owners_.begin(), in_flight_owners_.end());
  for (const auto& [id, d] : dead_after_) orphans.insert(id);
  for (const std::string& id : orphans) {
    if (workers_.count(id) == 0 && !heartbeats_.contains(id)) view.orphans.push_back(id);
  }
  return view;
}

// ---- Stats ----

void MemoryBackend::AddToStat(std::string_view name, int64_t by) { stats_[AbslView(name)] += by; }

absl::StatusOr<std::optional<int64_t>> MemoryBackend::DoIncrementStat(std::string_view name,
                                                                      int64_t by) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& value = stats_[AbslView(name)];
  int64_t sum;
  if (__builtin_add_overflow(value, by, &sum)) return std::nullopt;
  value = sum;
  return value;
}

absl::StatusOr<int64_t> MemoryBackend::DoGetStat(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stats_.find(AbslView(name));
  return it == stats_.end() ? 0 : it->second;
}

absl::Status MemoryBackend::DoClearStat(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.erase(AbslView(name));
  return absl::OkStatus();
}

// ---- Failures ----

absl::Status MemoryBackend::DoPushFailure(std::string_view, std::string_view failure_json) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.emplace_back(failure_json);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryBackend::DoFailureCount(std::string_view) {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(failures_.size());
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoFailures(std::string_view, int64_t start,
                                                                   int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto size = static_cast<int64_t>(failures_.size());
  if (start >= size) return std::vector<std::string>();
  const int64_t end = start + std::min(count, size - start);
  return std::vector<std::string>(failures_.begin() + start, failures_.begin() + end);
}

absl::StatusOr<bool> MemoryBackend::DoUpdateFailure(std::string_view, int64_t index,
                                                    std::string_view failure_json) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= static_cast<int64_t>(failures_.size())) return false;
  failures_[index] = std::string(failure_json);
  return true;
}

absl::StatusOr<bool> MemoryBackend::DoRemoveFailure(std::string_view, int64_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= static_cast<int64_t>(failures_.size())) return false;
  failures_.erase(failures_.begin() + index);
  return true;
}

absl::StatusOr<bool> MemoryBackend::DoEditFailure(std::string_view, const FailureEdit& edit) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto at = failures_.end();
    if (edit.index < static_cast<int64_t>(failures_.size()) &&
        failures_[edit.index] == edit.record) {
      at = failures_.begin() + edit.index;
    } else {
      at = std::find(failures_.begin(), failures_.end(), edit.record);
    }
    if (at == failures_.end()) return false;
    if (edit.replacement.empty()) {
      failures_.erase(at);
    } else {
      *at = std::string(edit.replacement);
    }
  }
  // Outside the lock, as every push; the record is already taken, so no other edit pushes it
  // too (a crash in between loses this process's queues with it).
  if (!edit.push_queue.empty()) {
    RESQUE_RETURN_IF_ERROR(DoPush(edit.push_queue, absl::MakeConstSpan(&edit.push_payload, 1)));
  }
  return true;
}

absl::Status MemoryBackend::DoClearFailures(std::string_view) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.clear();
  return absl::OkStatus();
}

// ---- Delayed jobs ----

absl::Status MemoryBackend::DoPushDelayed(int64_t at, std::string_view item) {
  std::lock_guard<std::mutex> lock(mu_);
  delayed_[at].emplace_back(item);
  delayed_seconds_[AbslView(item)].insert(at);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryBackend::DoDelayedCount() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [at, items] : delayed_) total += static_cast<int64_t>(items.size());
  return total;
}

absl::StatusOr<std::vector<DelayedTime>> MemoryBackend::DoDelayedTimes(int64_t start,
                                                                       int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DelayedTime> times;
  int64_t index = 0;
  for (const auto& [at, items] : delayed_) {
    if (static_cast<int64_t>(times.size()) >= count) break;
    if (index++ < start) continue;
    times.push_back({.at = at, .size = static_cast<int64_t>(items.size())});
  }
  return times;
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::DoDelayedItems(int64_t at, int64_t start,
                                                                       int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  auto it = delayed_.find(at);
  if (it == delayed_.end()) return out;
  const std::deque<std::string>& items = it->second;
  for (int64_t i = start; i < static_cast<int64_t>(items.size()) && i - start < count; ++i) {
    out.push_back(items[static_cast<size_t>(i)]);
  }
  return out;
}

int64_t MemoryBackend::TakeDelayedLocked(std::string_view item) {
  auto seconds = delayed_seconds_.find(AbslView(item));
  if (seconds == delayed_seconds_.end()) return 0;
  int64_t count = 0;
  for (int64_t at : seconds->second) {
    auto it = delayed_.find(at);
    if (it == delayed_.end()) continue;
    std::deque<std::string>& items = it->second;
    const size_t before = items.size();
    items.erase(std::remove(items.begin(), items.end(), item), items.end());
    count += static_cast<int64_t>(before - items.size());
    if (items.empty()) delayed_.erase(it);
  }
  delayed_seconds_.erase(seconds);
  return count;
}

absl::StatusOr<int64_t> MemoryBackend::DoRemoveDelayed(std::string_view item) {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeDelayedLocked(item);
}

absl::StatusOr<int64_t> MemoryBackend::DoMoveDelayed(std::string_view item,
                                                     std::string_view queue) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t count = TakeDelayedLocked(item);
  if (count > 0) {
    std::vector<std::string_view> copies(static_cast<size_t>(count), item);
    RESQUE_RETURN_IF_ERROR(DoPush(queue, copies));
  }
  return count;
}

// The queue a delayed item goes to, or why it cannot go (move_due.lua's rules).
absl::StatusOr<std::string> DelayedItemQueue(std::string_view item) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(item);
  if (!fields.ok()) return absl::InvalidArgumentError("the delayed item is not a JSON object");
  const json::Field* queue = json::FindField(*fields, "queue");
  absl::StatusOr<std::string> name =
      queue == nullptr ? absl::NotFoundError("") : json::StringValue(queue->raw);
  if (!name.ok() || name->empty()) {
    return absl::InvalidArgumentError("the delayed item names no queue");
  }
  return name;
}

absl::StatusOr<MoveDueResult> MemoryBackend::DoMoveDue(const MoveDueRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  MoveDueResult result;
  while (result.moved + result.failed < request.max && !delayed_.empty() &&
         delayed_.begin()->first <= request.now) {
    auto it = delayed_.begin();
    std::deque<std::string>& items = it->second;
    while (!items.empty() && result.moved + result.failed < request.max) {
      std::string item = std::move(items.front());
      items.pop_front();
      auto seconds = delayed_seconds_.find(item);
      if (seconds != delayed_seconds_.end()) {
        seconds->second.erase(it->first);
        if (seconds->second.empty()) delayed_seconds_.erase(seconds);
      }
      absl::StatusOr<std::string> queue = DelayedItemQueue(item);
      if (queue.ok()) {
        const std::string_view one[] = {item};
        RESQUE_RETURN_IF_ERROR(DoPush(*queue, one));
        ++result.moved;
        continue;
      }
      std::string record = request.bad_item_prefix;
      if (json::ParseObject(item).ok()) {
        record += item;
      } else {
        absl::StrAppend(&record, R"({"class":"","args":[)", json::Quote(item), "]}");
      }
      absl::StrAppend(&record, request.bad_item_middle,
                      json::Quote(std::string(queue.status().message())), request.bad_item_suffix);
      failures_.push_back(std::move(record));
      ++result.failed;
    }
    if (items.empty()) delayed_.erase(it);
  }
  if (!delayed_.empty()) result.next_at = delayed_.begin()->first;
  return result;
}

absl::StatusOr<bool> MemoryBackend::DoHoldSchedulerLock(std::string_view holder,
                                                        int64_t ttl_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  for (const Lock& l : scheduler_locks_) {
    if (l.expires > now && l.holder != holder) return false;
  }
  for (Lock& l : scheduler_locks_) {
    l.holder = std::string(holder);
    l.expires = now + absl::Seconds(ttl_seconds);
  }
  return true;
}

absl::Status MemoryBackend::DoReleaseSchedulerLock(std::string_view holder) {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  for (Lock& l : scheduler_locks_) {
    if (l.expires > now && l.holder == holder) l = Lock();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SchedulerLock>> MemoryBackend::DoSchedulerLocks() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  std::vector<SchedulerLock> locks = {{.name = "resque-scheduler"}, {.name = "node-resque"}};
  for (size_t i = 0; i < locks.size(); ++i) {
    const Lock& l = scheduler_locks_[i];
    if (l.expires <= now) continue;
    locks[i].holder = l.holder;
    locks[i].ttl = l.expires - now;
  }
  return locks;
}

// ---- Recurring schedules ----

absl::StatusOr<bool> MemoryBackend::DoSetSchedule(std::string_view name, std::string_view config,
                                                  int64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  ScheduleEntry& e = schedules_[std::string(name)];
  if (e.config == config) return false;
  e.name = std::string(name);
  e.config = std::string(config);
  e.last_occurrence = std::max(e.last_occurrence.value_or(since), since);  // never back
  return true;
}

absl::StatusOr<bool> MemoryBackend::DoRemoveSchedule(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return schedules_.erase(std::string(name)) == 1;
}

absl::StatusOr<std::vector<ScheduleEntry>> MemoryBackend::DoSchedules() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ScheduleEntry> out;
  for (const auto& [name, e] : schedules_) out.push_back(e);
  return out;
}

absl::StatusOr<bool> MemoryBackend::DoEnqueueOccurrence(const ScheduleOccurrence& occurrence) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = schedules_.find(std::string(occurrence.name));
  if (it == schedules_.end()) return false;
  ScheduleEntry& e = it->second;
  if (e.last_occurrence.has_value() && *e.last_occurrence >= occurrence.at) return false;
  e.last_occurrence = occurrence.at;
  if (occurrence.mark_only) return true;
  const std::string_view one[] = {occurrence.payload};
  RESQUE_RETURN_IF_ERROR(DoPush(occurrence.queue, one));
  e.last_enqueued_at = std::string(occurrence.enqueued_at);
  return true;
}

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend(MemoryOptions options) {
  return std::make_unique<MemoryBackend>(options.clock == nullptr ? RealClock() : options.clock);
}

int WaitingReserversForTesting(const Backend& backend) {
  const auto* memory = dynamic_cast<const MemoryBackend*>(&backend);
  return memory == nullptr ? -1 : memory->WaitingReservers();
}

}  // namespace resque::memory
