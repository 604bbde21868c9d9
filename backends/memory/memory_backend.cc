#include "backends/memory/memory_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backends/memory/epoch.h"
#include "backends/memory/futex.h"
#include "backends/memory/queue_table.h"
#include "core/absl_view.h"
#include "core/backend_args.h"
#include "core/job_filter.h"
#include "core/status_macros.h"

namespace resque::memory {
namespace {

// Waits longer than this are treated as no limit at all (and keep steady_clock arithmetic far
// from overflow).
constexpr absl::Duration kForever = absl::Hours(24 * 365 * 100);

std::string WorkerStat(std::string_view counter, std::string_view worker_id) {
  return absl::StrFormat("%s:%s", counter, worker_id);
}

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(Clock* clock) : clock_(clock) {}
  ~MemoryBackend() override;

  absl::Status Push(std::string_view queue, std::string_view payload) override;
  absl::Status PushMany(std::string_view queue, absl::Span<const std::string> payloads) override;
  absl::StatusOr<std::optional<ReservedJob>> Reserve(absl::Span<const std::string> queues,
                                                     absl::Duration wait) override;
  absl::StatusOr<int64_t> Size(std::string_view queue) override;
  absl::StatusOr<std::vector<std::string>> Peek(std::string_view queue, int64_t start,
                                                int64_t count) override;
  absl::StatusOr<std::vector<std::string>> Queues() override;
  absl::Status RemoveQueue(std::string_view queue) override;
  absl::StatusOr<int64_t> RemoveJobs(std::string_view queue, const JobFilter& filter) override;

  absl::StatusOr<std::string> GetStatus(std::string_view id) override;
  absl::Status SetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                         bool only_if_exists) override;

  absl::Status RegisterWorker(std::string_view worker_id, std::string_view started) override;
  absl::Status UnregisterWorker(std::string_view worker_id) override;
  absl::StatusOr<std::vector<std::string>> Workers() override;
  absl::StatusOr<std::optional<std::string>> WorkerJob(std::string_view worker_id) override;
  absl::StatusOr<std::optional<std::string>> WorkerStarted(std::string_view worker_id) override;
  absl::Status StartJob(const JobStart& start) override;
  absl::Status FinishJob(const JobFinish& finish) override;

  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlight(absl::Span<const std::string> queues,
                                                             absl::Duration wait,
                                                             std::string_view owner) override;
  absl::StatusOr<std::vector<ReservedJob>> ReserveInFlightMany(absl::Span<const std::string> queues,
                                                               absl::Duration wait,
                                                               std::string_view owner,
                                                               int max) override;
  absl::Status FinishJobs(absl::Span<const JobFinish> finishes) override;
  absl::StatusOr<int64_t> Unreserve(std::string_view owner, absl::Span<const ReservedJob> jobs,
                                    absl::Span<const std::string> job_ids,
                                    std::string_view status_json) override;
  absl::StatusOr<std::vector<ReservedJob>> InFlight(std::string_view owner) override;
  absl::Status Heartbeat(absl::Span<const std::string> worker_ids, std::string_view beat) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Heartbeats() override;
  absl::StatusOr<std::optional<int64_t>> RecoverWorker(
      std::string_view worker_id, std::optional<std::string> if_heartbeat) override;

  absl::StatusOr<int64_t> IncrementStat(std::string_view name, int64_t by) override;
  absl::StatusOr<int64_t> GetStat(std::string_view name) override;
  absl::Status ClearStat(std::string_view name) override;

  absl::Status PushFailure(std::string_view failure_json) override;
  absl::StatusOr<int64_t> FailureCount() override;
  absl::StatusOr<std::vector<std::string>> Failures(int64_t start, int64_t count) override;
  absl::Status UpdateFailure(int64_t index, std::string_view failure_json) override;
  absl::Status RemoveFailure(int64_t index) override;
  absl::Status ClearFailures() override;

  int WaitingReservers() const { return static_cast<int>(waiting_reservers_.load()); }

 private:
  struct Status {
    std::string json;
    absl::Time expires = absl::InfiniteFuture();
  };

  // Makes Queues() name `entry`, after a push linked a payload into it.
  static void MarkListed(QueueEntry& entry);
  // Wakes the parked reservers if any of them waits on `entry`.
  void WakeWaiters(const QueueEntry& entry);
  // Pops from the first of `queues` that has a payload (looking them up, creating none); holds
  // nullopt when all are empty.
  absl::StatusOr<std::optional<ReservedJob>> TryReserve(absl::Span<const std::string> queues);
  // Pops into `*job` from the first of `entries` that has a payload; false when all are empty.
  static bool PopFirst(absl::Span<QueueEntry* const> entries, ReservedJob* job);
  absl::StatusOr<std::optional<ReservedJob>> ReserveWaiting(absl::Span<const std::string> queues,
                                                            absl::Duration wait);

  // The live status of `id`, erasing it if it has expired; nullptr when there is none.
  Status* LiveStatus(std::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStatusLocked(std::string_view id, std::string_view json, absl::Duration ttl,
                       bool only_if_exists) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops expired statuses once the map has doubled since the last sweep, so that statuses
  // nobody reads again do not pile up.
  void MaybeSweepStatuses() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t AddToStat(const std::string& name, int64_t by) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishJobLocked(const JobFinish& finish) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the newest (or the oldest) in-flight entry of `owner` equal to `job` out; whether
  // there was one.
  bool TakeInFlightLocked(std::string_view owner, const ReservedJob& job, bool newest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnregisterWorkerLocked(std::string_view worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

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

  // ---- Everything else: one mutex, so that StartJob and FinishJob apply as a whole ----
  // A std::mutex rather than absl::Mutex: Debian's Abseil is built without ThreadSanitizer
  // annotations, so TSan cannot see absl::Mutex order accesses and reports false races.
  std::mutex mu_;
  absl::flat_hash_map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  size_t sweep_statuses_at_ ABSL_GUARDED_BY(mu_) = 1024;
  std::set<std::string, std::less<>> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> worker_jobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> worker_started_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  // Reliable reserve's bookkeeping takes the mutex: the payload leaves its queue by the lock-free
  // pop, then is noted here. Only ReserveInFlight pays for it; Push and Reserve stay lock-free.
  absl::flat_hash_map<std::string, std::vector<ReservedJob>> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> heartbeats_ ABSL_GUARDED_BY(mu_);
};

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

absl::Status MemoryBackend::Push(std::string_view queue, std::string_view payload) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  QueueEntry* entry = queues_.FindOrCreate(queue);
  entry->queue.Push(payload);
  MarkListed(*entry);
  WakeWaiters(*entry);
  return absl::OkStatus();
}

absl::Status MemoryBackend::PushMany(std::string_view queue,
                                     absl::Span<const std::string> payloads) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  if (payloads.empty()) return absl::OkStatus();
  QueueEntry* entry = queues_.FindOrCreate(queue);
  entry->queue.PushMany(payloads);
  MarkListed(*entry);
  WakeWaiters(*entry);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ReservedJob>> MemoryBackend::TryReserve(
    absl::Span<const std::string> queues) {
  // Made in place and returned by name on every path: the job's strings are written once and
  // never moved on the way out.
  absl::StatusOr<std::optional<ReservedJob>> result(absl::in_place, std::in_place);
  ReservedJob& job = **result;
  for (const std::string& queue : queues) {
    QueueEntry* entry = queues_.Find(queue);
    if (entry != nullptr && entry->queue.Pop(&job.payload)) {
      job.queue = entry->name;
      return result;
    }
  }
  result->reset();
  return result;
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

absl::StatusOr<std::optional<ReservedJob>> MemoryBackend::Reserve(
    absl::Span<const std::string> queues, absl::Duration wait) {
  RESQUE_RETURN_IF_ERROR(backend_args::Reserve(queues, wait));
  // The fast path only looks queues up: reserving from a queue never pushed to creates nothing.
  if (wait == absl::ZeroDuration()) return TryReserve(queues);
  absl::StatusOr<std::optional<ReservedJob>> job = TryReserve(queues);
  if (job->has_value()) return job;
  return ReserveWaiting(queues, wait);
}

absl::StatusOr<std::optional<ReservedJob>> MemoryBackend::ReserveWaiting(
    absl::Span<const std::string> queues, absl::Duration wait) {
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
  absl::StatusOr<std::optional<ReservedJob>> result = std::nullopt;
  for (;;) {
    // Read before the closing flag and before looking, so that a wake-up that comes after
    // either makes FutexWait return at once.
    const uint32_t seen = wake_seq_.load();
    if (closing_.load()) {
      result = absl::CancelledError("reserve: the memory backend is being destroyed");
      break;
    }
    if (ReservedJob job; PopFirst(entries, &job)) {
      result = std::optional<ReservedJob>(std::move(job));
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

absl::StatusOr<int64_t> MemoryBackend::Size(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  const QueueEntry* entry = queues_.Find(queue);
  return entry == nullptr ? 0 : entry->queue.Size();
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::Peek(std::string_view queue, int64_t start,
                                                             int64_t count) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  RESQUE_RETURN_IF_ERROR(backend_args::Range(start, count));
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return std::vector<std::string>();
  return entry->queue.Peek(start, count);
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::Queues() {
  std::vector<std::string> names;
  queues_.ForEach([&names](QueueEntry& entry) {
    if (entry.listed.load()) names.push_back(entry.name);
  });
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status MemoryBackend::RemoveQueue(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return absl::OkStatus();
  // The entry itself stays: other threads may hold it, and it is small.
  entry->listed.store(false);
  entry->queue.RemoveIf([](std::string_view) { return true; });
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryBackend::RemoveJobs(std::string_view queue, const JobFilter& filter) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
  absl::StatusOr<JobMatcher> matcher = JobMatcher::Create(filter);
  if (!matcher.ok()) return matcher.status();
  QueueEntry* entry = queues_.Find(queue);
  if (entry == nullptr) return 0;
  return entry->queue.RemoveIf(
      [&matcher](std::string_view payload) { return matcher->Matches(payload); });
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

absl::StatusOr<std::string> MemoryBackend::GetStatus(std::string_view id) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "job id"));
  std::lock_guard<std::mutex> lock(mu_);
  const Status* status = LiveStatus(id);
  if (status == nullptr) {
    return absl::NotFoundError(absl::StrFormat("job %s: no status (untracked or expired)", id));
  }
  return status->json;
}

absl::Status MemoryBackend::SetStatus(std::string_view id, std::string_view status_json,
                                      absl::Duration ttl, bool only_if_exists) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "job id"));
  RESQUE_RETURN_IF_ERROR(backend_args::Ttl(ttl));
  std::lock_guard<std::mutex> lock(mu_);
  SetStatusLocked(id, status_json, ttl, only_if_exists);
  return absl::OkStatus();
}

// ---- Workers ----

absl::Status MemoryBackend::RegisterWorker(std::string_view worker_id, std::string_view started) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
  std::lock_guard<std::mutex> lock(mu_);
  workers_.emplace(worker_id);
  worker_started_[AbslView(worker_id)] = std::string(started);
  return absl::OkStatus();
}

absl::Status MemoryBackend::UnregisterWorker(std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
  std::lock_guard<std::mutex> lock(mu_);
  UnregisterWorkerLocked(worker_id);
  return absl::OkStatus();
}

void MemoryBackend::UnregisterWorkerLocked(std::string_view worker_id) {
  if (auto it = workers_.find(worker_id); it != workers_.end()) workers_.erase(it);
  worker_jobs_.erase(AbslView(worker_id));
  worker_started_.erase(AbslView(worker_id));
  stats_.erase(WorkerStat("processed", worker_id));
  stats_.erase(WorkerStat("failed", worker_id));
  heartbeats_.erase(AbslView(worker_id));
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::Workers() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::string>(workers_.begin(), workers_.end());
}

absl::StatusOr<std::optional<std::string>> MemoryBackend::WorkerJob(std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = worker_jobs_.find(AbslView(worker_id));
  if (it == worker_jobs_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<std::string>> MemoryBackend::WorkerStarted(
    std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = worker_started_.find(AbslView(worker_id));
  if (it == worker_started_.end()) return std::nullopt;
  return it->second;
}

absl::Status MemoryBackend::StartJob(const JobStart& start) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(start.worker_id, "worker id"));
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

absl::Status MemoryBackend::FinishJob(const JobFinish& finish) {
  return FinishJobs(absl::MakeConstSpan(&finish, 1));
}

absl::Status MemoryBackend::FinishJobs(absl::Span<const JobFinish> finishes) {
  // Everything that can fail is checked before anything is applied.
  for (const JobFinish& finish : finishes) {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(finish.worker_id, "worker id"));
    if (!finish.job_id.empty()) {
      RESQUE_RETURN_IF_ERROR(backend_args::Ttl(finish.status_ttl));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const JobFinish& finish : finishes) FinishJobLocked(finish);
  return absl::OkStatus();
}

void MemoryBackend::FinishJobLocked(const JobFinish& finish) {
  if (!finish.job_id.empty()) {
    SetStatusLocked(finish.job_id, finish.status_json, finish.status_ttl,
                    /*only_if_exists=*/true);
  }
  AddToStat("processed", 1);
  AddToStat(WorkerStat("processed", finish.worker_id), 1);
  if (finish.failed) {
    AddToStat("failed", 1);
    AddToStat(WorkerStat("failed", finish.worker_id), 1);
    failures_.push_back(finish.failure_json);
  }
  worker_jobs_.erase(AbslView(finish.worker_id));
  if (finish.in_flight.has_value()) {
    // The oldest match, as the Redis script's LREM with a count of 1: jobs finish in the order
    // they were reserved.
    TakeInFlightLocked(finish.worker_id, *finish.in_flight, /*newest=*/false);
  }
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

absl::StatusOr<std::optional<ReservedJob>> MemoryBackend::ReserveInFlight(
    absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
  absl::StatusOr<std::optional<ReservedJob>> job = Reserve(queues, wait);
  if (!job.ok() || !job->has_value()) return job;
  // Between the pop and this line the job is in neither place; in one process nothing can die
  // in between without taking the whole backend with it. A RecoverWorker of `owner` running
  // meanwhile does not see it: the job stays in flight for the owner, who is alive.
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_[AbslView(owner)].push_back(**job);
  return job;
}

absl::StatusOr<std::vector<ReservedJob>> MemoryBackend::ReserveInFlightMany(
    absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner, int max) {
  RESQUE_RETURN_IF_ERROR(backend_args::BatchMax(max));
  absl::StatusOr<std::optional<ReservedJob>> first = ReserveInFlight(queues, wait, owner);
  if (!first.ok()) return first.status();
  std::vector<ReservedJob> out;
  if (!first->has_value()) return out;
  out.push_back(**std::move(first));
  // The rest from the same queue, as the Redis script takes them; they are in flight already,
  // so an error past the first job ends the batch rather than dropping what it holds.
  const std::vector<std::string> queue = {out[0].queue};
  while (static_cast<int>(out.size()) < max) {
    absl::StatusOr<std::optional<ReservedJob>> next =
        ReserveInFlight(queue, absl::ZeroDuration(), owner);
    if (!next.ok() || !next->has_value()) break;
    out.push_back(**std::move(next));
  }
  return out;
}

absl::StatusOr<int64_t> MemoryBackend::Unreserve(std::string_view owner,
                                                 absl::Span<const ReservedJob> jobs,
                                                 absl::Span<const std::string> job_ids,
                                                 std::string_view status_json) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
  RESQUE_RETURN_IF_ERROR(backend_args::UnreserveIds(jobs, job_ids));
  for (const ReservedJob& job : jobs) {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(job.queue, "queue name"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Taken out newest first, as the Redis script does, so that of two equal payloads the one
  // reserved last goes back.
  std::vector<bool> found(jobs.size());
  for (size_t i = jobs.size(); i-- > 0;) {
    found[i] = TakeInFlightLocked(owner, jobs[i], /*newest=*/true);
    if (found[i] && !job_ids.empty() && !job_ids[i].empty()) {
      SetStatusLocked(job_ids[i], status_json, absl::InfiniteDuration(), /*only_if_exists=*/true);
    }
  }
  int64_t moved = 0;
  std::vector<std::string> done_queues;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string& queue = jobs[i].queue;
    if (std::find(done_queues.begin(), done_queues.end(), queue) != done_queues.end()) continue;
    done_queues.push_back(queue);
    std::vector<std::string> payloads;
    for (size_t j = i; j < jobs.size(); ++j) {
      if (found[j] && jobs[j].queue == queue) payloads.push_back(jobs[j].payload);
    }
    if (payloads.empty()) continue;
    QueueEntry* entry = queues_.FindOrCreate(queue);
    entry->queue.PushFrontMany(payloads);
    entry->listed.store(true);
    WakeWaiters(*entry);
    moved += static_cast<int64_t>(payloads.size());
  }
  return moved;
}

absl::StatusOr<std::vector<ReservedJob>> MemoryBackend::InFlight(std::string_view owner) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
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

absl::Status MemoryBackend::Heartbeat(absl::Span<const std::string> worker_ids,
                                      std::string_view beat) {
  for (const std::string& id : worker_ids) {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "worker id"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : worker_ids) heartbeats_[id] = std::string(beat);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> MemoryBackend::Heartbeats() {
  std::vector<std::pair<std::string, std::string>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.assign(heartbeats_.begin(), heartbeats_.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::optional<int64_t>> MemoryBackend::RecoverWorker(
    std::string_view worker_id, std::optional<std::string> if_heartbeat) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
  std::vector<ReservedJob> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (if_heartbeat.has_value()) {
      auto beat = heartbeats_.find(AbslView(worker_id));
      if (beat == heartbeats_.end() || beat->second != *if_heartbeat) return std::nullopt;
    }
    UnregisterWorkerLocked(worker_id);
    if (auto it = in_flight_.find(AbslView(worker_id)); it != in_flight_.end()) {
      jobs = std::move(it->second);
      in_flight_.erase(it);
    }
    // Still under the lock, so that a second recovery cannot overtake this one; the queues'
    // own operations take no lock, so there is no lock order to keep.
    std::vector<std::string> queue_order;
    for (const ReservedJob& job : jobs) {
      if (std::find(queue_order.begin(), queue_order.end(), job.queue) == queue_order.end()) {
        queue_order.push_back(job.queue);
      }
    }
    for (const std::string& queue : queue_order) {
      std::vector<std::string> payloads;
      for (const ReservedJob& job : jobs) {
        if (job.queue == queue) payloads.push_back(job.payload);
      }
      QueueEntry* entry = queues_.FindOrCreate(queue);
      entry->queue.PushFrontMany(payloads);
      entry->listed.store(true);
      WakeWaiters(*entry);
    }
  }
  return std::optional<int64_t>(static_cast<int64_t>(jobs.size()));
}

// ---- Stats ----

int64_t MemoryBackend::AddToStat(const std::string& name, int64_t by) {
  int64_t& value = stats_[name];
  value += by;
  return value;
}

absl::StatusOr<int64_t> MemoryBackend::IncrementStat(std::string_view name, int64_t by) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& value = stats_[AbslView(name)];
  int64_t sum;
  if (__builtin_add_overflow(value, by, &sum)) {
    return absl::OutOfRangeError(
        absl::StrFormat("stat %s: %d + %d overflows 64 bits", name, value, by));
  }
  value = sum;
  return value;
}

absl::StatusOr<int64_t> MemoryBackend::GetStat(std::string_view name) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stats_.find(AbslView(name));
  return it == stats_.end() ? 0 : it->second;
}

absl::Status MemoryBackend::ClearStat(std::string_view name) {
  RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
  std::lock_guard<std::mutex> lock(mu_);
  stats_.erase(AbslView(name));
  return absl::OkStatus();
}

// ---- Failures ----

absl::Status MemoryBackend::PushFailure(std::string_view failure_json) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.emplace_back(failure_json);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryBackend::FailureCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(failures_.size());
}

absl::StatusOr<std::vector<std::string>> MemoryBackend::Failures(int64_t start, int64_t count) {
  RESQUE_RETURN_IF_ERROR(backend_args::Range(start, count));
  std::lock_guard<std::mutex> lock(mu_);
  const auto size = static_cast<int64_t>(failures_.size());
  if (start >= size) return std::vector<std::string>();
  const int64_t end = start + std::min(count, size - start);
  return std::vector<std::string>(failures_.begin() + start, failures_.begin() + end);
}

absl::Status MemoryBackend::UpdateFailure(int64_t index, std::string_view failure_json) {
  RESQUE_RETURN_IF_ERROR(backend_args::Index(index));
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= static_cast<int64_t>(failures_.size())) {
    return absl::NotFoundError(absl::StrCat("no failure at index ", index));
  }
  failures_[index] = std::string(failure_json);
  return absl::OkStatus();
}

absl::Status MemoryBackend::RemoveFailure(int64_t index) {
  RESQUE_RETURN_IF_ERROR(backend_args::Index(index));
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= static_cast<int64_t>(failures_.size())) {
    return absl::NotFoundError(absl::StrCat("no failure at index ", index));
  }
  failures_.erase(failures_.begin() + index);
  return absl::OkStatus();
}

absl::Status MemoryBackend::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.clear();
  return absl::OkStatus();
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
