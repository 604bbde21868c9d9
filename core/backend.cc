// The public verbs of Backend: every argument check, and Resque's rules (stat names, what a
// finish writes, the hand-back order), made here once for every backend.
#include "core/backend.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/backend_wrapper.h"
#include "core/job_filter.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque {
namespace {

// "<what> is empty" for an empty name (queue, worker id, job id).
absl::Status NotEmpty(std::string_view value, std::string_view what) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("%s is empty", AbslView(what)));
}

absl::Status QueueName(std::string_view queue) { return NotEmpty(queue, "queue name"); }
absl::Status WorkerId(std::string_view id) { return NotEmpty(id, "worker id"); }
absl::Status StatName(std::string_view name) { return NotEmpty(name, "stat name"); }

// A list range: neither `start` nor `count` may be negative. Past the checks, `count` is cut so
// that start + count fits 64 bits: a storage verb may compute the end index (Redis's LRANGE
// wants the last one) without overflowing.
absl::Status Range(int64_t start, int64_t& count) {
  if (start < 0 || count < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("start (%d) and count (%d) must not be negative", start, count));
  }
  count = std::min(count, std::numeric_limits<int64_t>::max() - start);
  return absl::OkStatus();
}

// An index into a list: not negative.
absl::Status Index(int64_t index) {
  if (index >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("index %d is negative", index));
}

// A status TTL: positive, or InfiniteDuration for none.
absl::Status Ttl(absl::Duration ttl) {
  if (ttl > absl::ZeroDuration()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "status TTL must be positive or infinite, got %s", absl::FormatDuration(ttl)));
}

absl::Status CheckReserveSlowly(const ReserveRequest& request) {
  if (request.max < 1 || request.max > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrFormat("reserve: max %d is not within 1..%d", request.max, kMaxBatch));
  }
  if (request.max > 1 && request.owner.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("reserve: a batch (max %d) needs an owner", request.max));
  }
  if (request.queues.empty()) return absl::InvalidArgumentError("reserve: no queue given");
  for (const std::string& queue : request.queues) RESQUE_RETURN_IF_ERROR(QueueName(queue));
  if (request.wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("reserve: negative wait %s", absl::FormatDuration(request.wait)));
  }
  return absl::OkStatus();
}

// The checks above, without a call for the arguments every reserve of a worker has.
inline absl::Status CheckReserve(const ReserveRequest& request) {
  bool fine = request.max == 1 && !request.queues.empty() && request.wait >= absl::ZeroDuration();
  for (const std::string& queue : request.queues) fine = fine && !queue.empty();
  return fine ? absl::OkStatus() : CheckReserveSlowly(request);
}

absl::Status DelayedSecond(int64_t at) {
  if (at < 0) return absl::InvalidArgumentError(absl::StrFormat("a negative due time: %d", at));
  return absl::OkStatus();
}

absl::Status DelayedItem(std::string_view item) { return NotEmpty(item, "delayed item"); }

}  // namespace

WorkerStats WorkerStatNames(std::string_view worker_id) {
  return {absl::StrFormat("%s:%s", AbslView(kProcessedStat), AbslView(worker_id)),
          absl::StrFormat("%s:%s", AbslView(kFailedStat), AbslView(worker_id))};
}

bool PauseFlagSet(std::string_view value) {
  // Ruby's String#strip also drops NULs.
  const auto blank = [](char c) {
    return c == '\0' || absl::ascii_isspace(static_cast<unsigned char>(c));
  };
  while (!value.empty() && blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && blank(value.back())) value.remove_suffix(1);
  return absl::EqualsIgnoreCase(AbslView(value), "true");
}

std::vector<size_t> QueueOrder(size_t n, absl::FunctionRef<std::string_view(size_t)> queue_of) {
  std::vector<size_t> order;
  order.reserve(n);
  std::vector<bool> placed(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (placed[i]) continue;
    const std::string_view queue = queue_of(i);
    for (size_t j = i; j < n; ++j) {
      if (!placed[j] && queue_of(j) == queue) {
        placed[j] = true;
        order.push_back(j);
      }
    }
  }
  return order;
}

std::unique_ptr<Backend> Backend::DoOpenSession() { return std::make_unique<BackendWrapper>(this); }

// ---- Queues ----

absl::Status Backend::Push(std::string_view queue, std::string_view payload) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  return DoPush(queue, absl::MakeConstSpan(&payload, 1));
}

absl::Status Backend::PushMany(std::string_view queue, absl::Span<const std::string> payloads) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  if (payloads.empty()) return absl::OkStatus();
  absl::InlinedVector<std::string_view, 16> views(payloads.begin(), payloads.end());
  return DoPush(queue, views);
}

// Reserve into a list of `request.max` jobs, `Jobs` being ReservedJobs or std::vector.
template <typename Jobs>
absl::StatusOr<Jobs> ReserveInto(
    const ReserveRequest& request,
    absl::FunctionRef<absl::StatusOr<size_t>(absl::Span<ReservedJob>)> do_reserve) {
  RESQUE_RETURN_IF_ERROR(CheckReserve(request));
  absl::StatusOr<Jobs> jobs(absl::in_place, static_cast<size_t>(request.max));
  RESQUE_ASSIGN_OR_RETURN(const size_t n, do_reserve(absl::MakeSpan(*jobs)));
  jobs->resize(n);
  return jobs;
}

absl::StatusOr<ReservedJobs> Backend::Reserve(const ReserveRequest& request) {
  return ReserveInto<ReservedJobs>(
      request, [&](absl::Span<ReservedJob> out) { return DoReserve(request, out); });
}

absl::StatusOr<std::optional<ReservedJob>> Backend::ReserveOne(const ReserveRequest& request) {
  // The job is written where the caller gets it (no list, no move), and `result` is returned by
  // name on every path, so that it is built once: this is the memory backend's hot path.
  absl::StatusOr<std::optional<ReservedJob>> result(absl::in_place, std::in_place);
  if (absl::Status s = CheckReserve(request); !s.ok()) {
    result = std::move(s);
    return result;
  }
  absl::StatusOr<size_t> n = DoReserve(request, absl::MakeSpan(&**result, 1));
  if (!n.ok()) {
    result = n.status();
  } else if (*n == 0) {
    result->reset();
  }
  return result;
}

absl::StatusOr<std::optional<ReservedJob>> Backend::Reserve(absl::Span<const std::string> queues,
                                                            absl::Duration wait) {
  return ReserveOne({.queues = queues, .wait = wait});
}

absl::StatusOr<std::optional<ReservedJob>> Backend::ReserveInFlight(
    absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner) {
  RESQUE_RETURN_IF_ERROR(WorkerId(owner));
  return ReserveOne({.queues = queues, .wait = wait, .owner = owner});
}

absl::StatusOr<std::vector<ReservedJob>> Backend::ReserveInFlightMany(
    absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner, int max) {
  if (max >= 1 && max <= kMaxBatch) RESQUE_RETURN_IF_ERROR(WorkerId(owner));
  const ReserveRequest request = {.queues = queues, .wait = wait, .owner = owner, .max = max};
  return ReserveInto<std::vector<ReservedJob>>(
      request, [&](absl::Span<ReservedJob> out) { return DoReserve(request, out); });
}

absl::StatusOr<int64_t> Backend::Size(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  return DoSize(queue);
}

absl::StatusOr<std::vector<std::string>> Backend::Peek(std::string_view queue, int64_t start,
                                                       int64_t count) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  RESQUE_RETURN_IF_ERROR(Range(start, count));
  return DoPeek(queue, start, count);
}

absl::StatusOr<std::vector<std::string>> Backend::Queues() { return DoQueues(); }

absl::StatusOr<Backend::StarQueues> Backend::QueuesForStar(int64_t all_up_to) {
  if (all_up_to < 0) {
    return absl::InvalidArgumentError(absl::StrFormat("queues for *: negative %d", all_up_to));
  }
  return DoQueuesForStar(all_up_to);
}

absl::StatusOr<Backend::StarQueues> Backend::DoQueuesForStar(int64_t all_up_to) {
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> all, DoQueues());
  StarQueues out;
  if (static_cast<int64_t>(all.size()) <= all_up_to) {
    out.queues = std::move(all);
    return out;
  }
  out.all = false;
  for (std::string& queue : all) {
    absl::StatusOr<int64_t> n = DoSize(queue);
    if (!n.ok() && !absl::IsFailedPrecondition(n.status())) return n.status();
    if (!n.ok() || *n > 0) out.queues.push_back(std::move(queue));
  }
  return out;
}

absl::Status Backend::RemoveQueue(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  return DoRemoveQueue(queue);
}

absl::StatusOr<int64_t> Backend::RemoveJobs(std::string_view queue, const JobFilter& filter) {
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  RESQUE_ASSIGN_OR_RETURN(const JobMatcher matcher, JobMatcher::Create(filter));
  return DoRemoveJobs(queue, matcher);
}

// ---- Statuses ----

absl::StatusOr<std::string> Backend::GetStatus(std::string_view id) {
  RESQUE_RETURN_IF_ERROR(NotEmpty(id, "job id"));
  RESQUE_ASSIGN_OR_RETURN(std::optional<std::string> status, DoGetStatus(id));
  if (!status.has_value()) {
    return absl::NotFoundError(
        absl::StrFormat("job %s: no status (untracked or expired)", AbslView(id)));
  }
  return *std::move(status);
}

absl::Status Backend::SetStatus(std::string_view id, std::string_view status_json,
                                absl::Duration ttl, bool only_if_exists) {
  RESQUE_RETURN_IF_ERROR(NotEmpty(id, "job id"));
  RESQUE_RETURN_IF_ERROR(Ttl(ttl));
  return DoSetStatus(id, status_json, ttl, only_if_exists);
}

// ---- Workers ----

absl::Status Backend::RegisterWorker(std::string_view worker_id, std::string_view started) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  return DoRegisterWorker(worker_id, started, std::nullopt);
}

absl::Status Backend::RegisterWorker(std::string_view worker_id, std::string_view started,
                                     const WorkerLiveness& liveness) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  if (liveness.dead_after <= absl::ZeroDuration() ||
      liveness.dead_after == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("worker %s: dead-after must be positive and finite, got %s",
                        AbslView(worker_id), absl::FormatDuration(liveness.dead_after)));
  }
  return DoRegisterWorker(worker_id, started, liveness);
}

absl::Status Backend::UnregisterWorker(std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  return DoUnregisterWorker(worker_id, WorkerStatNames(worker_id));
}

absl::StatusOr<std::vector<std::string>> Backend::Workers() { return DoWorkers(); }

absl::StatusOr<std::optional<std::string>> Backend::WorkerJob(std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  return DoWorkerJob(worker_id);
}

absl::StatusOr<std::optional<std::string>> Backend::WorkerStarted(std::string_view worker_id) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  return DoWorkerStarted(worker_id);
}

absl::Status Backend::StartJob(const JobStart& start) {
  RESQUE_RETURN_IF_ERROR(WorkerId(start.worker_id));
  return DoStartJob(start);
}

absl::StatusOr<FinishWrite> Backend::CheckFinish(absl::Span<const JobFinish> finishes) {
  const std::string_view worker_id = finishes[0].worker_id;
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  int64_t failures = 0;
  for (const JobFinish& finish : finishes) {
    if (finish.worker_id != worker_id) {
      return absl::InvalidArgumentError(
          absl::StrFormat("finish: jobs of workers \"%s\" and \"%s\" in one batch",
                          AbslView(worker_id), AbslView(finish.worker_id)));
    }
    if (!finish.job_id.empty()) RESQUE_RETURN_IF_ERROR(Ttl(finish.status_ttl));
    if (finish.in_flight.has_value()) RESQUE_RETURN_IF_ERROR(QueueName(finish.in_flight->queue));
    if (finish.failed) ++failures;
    if (finish.retry.has_value()) {
      if (!finish.failed)
        return absl::InvalidArgumentError("finish: a retry of a job that did not fail");
      if (!DoSupportsRetry()) return absl::UnimplementedError("this backend keeps no delayed jobs");
      RESQUE_RETURN_IF_ERROR(DelayedSecond(finish.retry->at));
      RESQUE_RETURN_IF_ERROR(DelayedItem(finish.retry->item));
    }
    if (finish.failed && finish.failure_queue.empty() &&
        DoFailureLayout() == FailureLayout::kPerQueue) {
      return absl::InvalidArgumentError(
          "finish: a failed job without its queue, where failures are kept by queue");
    }
  }
  return FinishWrite{.worker_id = worker_id,
                     .jobs = finishes,
                     .failures = failures,
                     .stats = WorkerStatNames(worker_id)};
}

absl::Status Backend::Finish(absl::Span<const JobFinish> finishes) {
  if (finishes.empty()) return absl::OkStatus();
  RESQUE_ASSIGN_OR_RETURN(const FinishWrite write, CheckFinish(finishes));
  return DoFinish(write);
}

std::string WorkingJson(std::string_view queue, std::string_view run_at, std::string_view payload,
                        std::string_view worker) {
  return absl::StrFormat("{\"queue\":%s,\"run_at\":%s,\"payload\":%s,\"worker\":%s}",
                         json::Quote(queue), run_at, payload, worker);
}

absl::StatusOr<absl::StatusOr<ReservedJobs>> Backend::FinishAndReserve(
    absl::Span<const JobFinish> finishes, const ReserveRequest& next) {
  if (next.start != nullptr) next.start->started = false;
  RESQUE_RETURN_IF_ERROR(CheckReserve(next));
  if (next.start != nullptr && next.max != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("finish and reserve: a folded start takes one job, not %d", next.max));
  }
  if (next.wait != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "finish and reserve: the reserve may not wait (%s)", absl::FormatDuration(next.wait)));
  }
  if (!next.owner.empty()) RESQUE_RETURN_IF_ERROR(WorkerId(next.owner));
  using Reserved = absl::StatusOr<ReservedJobs>;
  if (finishes.empty()) {
    // No finish, no worker to start the job under: the start stays the caller's.
    ReserveRequest alone = next;
    alone.start = nullptr;
    return absl::StatusOr<Reserved>(absl::in_place, Reserve(alone));
  }
  RESQUE_ASSIGN_OR_RETURN(const FinishWrite write, CheckFinish(finishes));
  ReservedJobs jobs(static_cast<size_t>(next.max));
  RESQUE_ASSIGN_OR_RETURN(const absl::StatusOr<size_t> n,
                          DoFinishAndReserve(write, next, absl::MakeSpan(jobs)));
  if (!n.ok()) return absl::StatusOr<Reserved>(absl::in_place, n.status());
  jobs.resize(*n);
  return absl::StatusOr<Reserved>(absl::in_place, std::move(jobs));
}

absl::StatusOr<absl::StatusOr<size_t>> Backend::DoFinishAndReserve(const FinishWrite& write,
                                                                   const ReserveRequest& next,
                                                                   absl::Span<ReservedJob> out) {
  RESQUE_RETURN_IF_ERROR(DoFinish(write));
  absl::StatusOr<size_t> n = DoReserve(next, out);
  if (!n.ok() || *n != 1 || next.start == nullptr) return n;
  const absl::StatusOr<Payload> payload = DecodePayload(out[0].payload);
  if (!payload.ok()) return n;  // not a job the worker starts: it fails it instead
  const FoldedStart& start = *next.start;
  // Not one step here, as no other client sees this backend between the two calls.
  if (DoStartJob(
          {.worker_id = std::string(write.worker_id),
           .working_json = WorkingJson(out[0].queue, start.run_at, out[0].payload, start.worker),
           .job_id = payload->id,
           .status_json = start.status_json})
          .ok()) {
    next.start->started = true;
  }
  return n;
}

// ---- Reliable reserve and liveness ----

absl::StatusOr<int64_t> Backend::Unreserve(const UnreserveRequest& request) {
  if (!request.owner.empty()) RESQUE_RETURN_IF_ERROR(WorkerId(request.owner));
  for (const UnreserveJob& job : request.jobs) RESQUE_RETURN_IF_ERROR(QueueName(job.job.queue));
  if (request.jobs.empty()) return 0;
  const std::vector<size_t> order =
      QueueOrder(request.jobs.size(),
                 [&request](size_t i) -> std::string_view { return request.jobs[i].job.queue; });
  std::vector<UnreserveJob> grouped;
  grouped.reserve(order.size());
  for (size_t i : order) grouped.push_back(request.jobs[i]);
  if (!request.idle_worker.empty()) RESQUE_RETURN_IF_ERROR(WorkerId(request.idle_worker));
  return DoUnreserve({.owner = request.owner,
                      .jobs = grouped,
                      .status_json = request.status_json,
                      .idle_worker = request.idle_worker});
}

absl::StatusOr<int64_t> Backend::Unreserve(std::string_view owner,
                                           absl::Span<const ReservedJob> jobs,
                                           absl::Span<const std::string> job_ids,
                                           std::string_view status_json) {
  RESQUE_RETURN_IF_ERROR(WorkerId(owner));
  if (!job_ids.empty() && job_ids.size() != jobs.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unreserve: %d job ids for %d jobs", job_ids.size(), jobs.size()));
  }
  std::vector<UnreserveJob> paired;
  paired.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    paired.push_back({.job = jobs[i], .job_id = job_ids.empty() ? "" : job_ids[i]});
  }
  return Unreserve({.owner = owner, .jobs = paired, .status_json = status_json});
}

absl::StatusOr<std::vector<ReservedJob>> Backend::InFlight(std::string_view owner) {
  RESQUE_RETURN_IF_ERROR(WorkerId(owner));
  return DoInFlight(owner);
}

absl::Status Backend::Heartbeat(absl::Span<const std::string> worker_ids, std::string_view beat) {
  for (const std::string& id : worker_ids) RESQUE_RETURN_IF_ERROR(WorkerId(id));
  if (worker_ids.empty()) return absl::OkStatus();
  return DoHeartbeat(worker_ids, beat);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Backend::Heartbeats() {
  return DoHeartbeats();
}

absl::StatusOr<std::optional<int64_t>> Backend::RecoverWorker(
    std::string_view worker_id, std::optional<std::string> if_heartbeat) {
  RESQUE_ASSIGN_OR_RETURN(
      std::optional<RecoverResult> r,
      RecoverWorker({.worker_id = worker_id, .if_heartbeat = std::move(if_heartbeat)}));
  if (!r.has_value()) return std::nullopt;
  return std::optional<int64_t>(r->handed_back);
}

// ---- Pausing every worker ----

absl::StatusOr<bool> Backend::AllWorkersPaused() { return DoAllWorkersPaused(); }

absl::Status Backend::PauseAllWorkers(bool paused) { return DoPauseAllWorkers(paused); }

absl::Status Backend::SetWorkerPaused(std::string_view worker_id, bool paused) {
  RESQUE_RETURN_IF_ERROR(WorkerId(worker_id));
  return DoSetWorkerPaused(worker_id, paused);
}

absl::StatusOr<std::vector<std::string>> Backend::PausedWorkers() { return DoPausedWorkers(); }

absl::StatusOr<std::optional<RecoverResult>> Backend::RecoverWorker(const RecoverRequest& request) {
  RESQUE_RETURN_IF_ERROR(WorkerId(request.worker_id));
  if (request.dirty_exit.has_value() && request.dirty_exit->working_json.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "recover %s: a dirty exit needs the working-on record", AbslView(request.worker_id)));
  }
  return DoRecoverWorker(request, WorkerStatNames(request.worker_id));
}

absl::StatusOr<LivenessView> Backend::ReadLiveness() { return DoReadLiveness(); }

// ---- Stats ----

absl::StatusOr<int64_t> Backend::IncrementStat(std::string_view name, int64_t by) {
  RESQUE_RETURN_IF_ERROR(StatName(name));
  RESQUE_ASSIGN_OR_RETURN(std::optional<int64_t> value, DoIncrementStat(name, by));
  if (!value.has_value()) {
    return absl::OutOfRangeError(
        absl::StrFormat("stat %s: adding %d overflows 64 bits", AbslView(name), by));
  }
  return *value;
}

absl::StatusOr<int64_t> Backend::GetStat(std::string_view name) {
  RESQUE_RETURN_IF_ERROR(StatName(name));
  return DoGetStat(name);
}

absl::Status Backend::ClearStat(std::string_view name) {
  RESQUE_RETURN_IF_ERROR(StatName(name));
  return DoClearStat(name);
}

// ---- Failures ----

namespace {

absl::Status FoundFailure(const absl::StatusOr<bool>& found, int64_t index) {
  if (!found.ok()) return found.status();
  if (*found) return absl::OkStatus();
  return absl::NotFoundError(absl::StrFormat("no failure record at index %d", index));
}

// Checks `queue` against the layout (see "Failures" in backend.h); `needed` when a per-queue
// layout cannot do without one.
absl::Status FailureQueue(FailureLayout layout, std::string_view queue, bool needed) {
  if (layout == FailureLayout::kOneList) {
    if (queue.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrFormat(
        "failures are kept in one list, not by queue: no failure list of queue \"%s\" (Ruby's "
        "redis_multi_queue failure backend keeps one per queue)",
        AbslView(queue)));
  }
  if (queue.empty() && needed) {
    return absl::InvalidArgumentError(
        "failures are kept in one list per queue (redis_multi_queue): name the queue");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Backend::PushFailure(std::string_view failure_json, std::string_view queue) {
  const FailureLayout layout = DoFailureLayout();
  if (layout == FailureLayout::kOneList) return DoPushFailure("", failure_json);
  RESQUE_RETURN_IF_ERROR(FailureQueue(layout, queue, /*needed=*/true));
  return DoPushFailure(queue, failure_json);
}

absl::StatusOr<int64_t> Backend::FailureCount(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/false));
  return DoFailureCount(queue);
}

absl::StatusOr<std::vector<std::string>> Backend::Failures(int64_t start, int64_t count,
                                                           std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(Range(start, count));
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/true));
  return DoFailures(queue, start, count);
}

absl::Status Backend::UpdateFailure(int64_t index, std::string_view failure_json,
                                    std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(Index(index));
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/true));
  return FoundFailure(DoUpdateFailure(queue, index, failure_json), index);
}

absl::Status Backend::RemoveFailure(int64_t index, std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(Index(index));
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/true));
  return FoundFailure(DoRemoveFailure(queue, index), index);
}

absl::StatusOr<bool> Backend::EditFailure(const FailureEdit& edit, std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(Index(edit.index));
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/true));
  if (!edit.push_queue.empty()) RESQUE_RETURN_IF_ERROR(QueueName(edit.push_queue));
  return DoEditFailure(queue, edit);
}

absl::Status Backend::ClearFailures(std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(FailureQueue(DoFailureLayout(), queue, /*needed=*/false));
  return DoClearFailures(queue);
}

absl::StatusOr<std::vector<std::string>> Backend::FailureQueues() {
  if (DoFailureLayout() == FailureLayout::kOneList) return std::vector<std::string>();
  return DoFailureQueues();
}

// ---- Bulk reads ----

absl::StatusOr<std::vector<QueueSummary>> Backend::DoQueueSummaries(QueueParts parts) {
  absl::StatusOr<std::vector<std::string>> names = DoQueues();
  if (!names.ok()) return names.status();
  std::vector<QueueSummary> out;
  out.reserve(names->size());
  for (std::string& name : *names) {
    absl::StatusOr<int64_t> size = DoSize(name);
    absl::StatusOr<std::vector<std::string>> head =
        !size.ok()                        ? absl::StatusOr<std::vector<std::string>>(size.status())
        : parts == QueueParts::kSizesOnly ? std::vector<std::string>{}
                                          : DoPeek(name, 0, 1);
    if (!head.ok() && !absl::IsFailedPrecondition(head.status())) return head.status();
    if (!head.ok()) {
      out.push_back({.name = std::move(name), .error = std::string(head.status().message())});
      continue;
    }
    out.push_back({.name = std::move(name),
                   .size = *size,
                   .head = head->empty() ? std::nullopt
                                         : std::optional<std::string>(std::move(head->front()))});
  }
  return out;
}

absl::StatusOr<std::vector<WorkerSummary>> Backend::DoWorkerSummaries() {
  absl::StatusOr<std::vector<std::string>> ids = DoWorkers();
  if (!ids.ok()) return ids.status();
  std::vector<WorkerSummary> out;
  out.reserve(ids->size());
  for (std::string& id : *ids) {
    WorkerSummary w;
    absl::StatusOr<std::optional<std::string>> started = DoWorkerStarted(id);
    if (!started.ok()) return started.status();
    absl::StatusOr<std::optional<std::string>> job = DoWorkerJob(id);
    if (!job.ok()) return job.status();
    absl::StatusOr<int64_t> processed = DoGetStat("processed:" + id);
    if (!processed.ok()) return processed.status();
    absl::StatusOr<int64_t> failed = DoGetStat("failed:" + id);
    if (!failed.ok()) return failed.status();
    out.push_back({.id = std::move(id),
                   .started = std::move(*started),
                   .job = std::move(*job),
                   .processed = *processed,
                   .failed = *failed});
  }
  return out;
}

// ---- Delayed jobs ----

namespace {

absl::Status LockHolder(std::string_view holder) { return NotEmpty(holder, "lock holder"); }

absl::Status Unimplemented() {
  return absl::UnimplementedError("this backend keeps no delayed jobs");
}

}  // namespace

absl::Status Backend::PushDelayed(int64_t at, std::string_view item) {
  RESQUE_RETURN_IF_ERROR(DelayedSecond(at));
  RESQUE_RETURN_IF_ERROR(DelayedItem(item));
  return DoPushDelayed(at, item);
}

absl::StatusOr<int64_t> Backend::DelayedCount() { return DoDelayedCount(); }

absl::StatusOr<std::vector<DelayedTime>> Backend::DelayedTimes(int64_t start, int64_t count) {
  RESQUE_RETURN_IF_ERROR(Range(start, count));
  return DoDelayedTimes(start, count);
}

absl::StatusOr<std::vector<std::string>> Backend::DelayedItems(int64_t at, int64_t start,
                                                               int64_t count) {
  RESQUE_RETURN_IF_ERROR(DelayedSecond(at));
  RESQUE_RETURN_IF_ERROR(Range(start, count));
  return DoDelayedItems(at, start, count);
}

absl::StatusOr<int64_t> Backend::RemoveDelayed(std::string_view item) {
  RESQUE_RETURN_IF_ERROR(DelayedItem(item));
  return DoRemoveDelayed(item);
}

absl::StatusOr<int64_t> Backend::MoveDelayed(std::string_view item, std::string_view queue) {
  RESQUE_RETURN_IF_ERROR(DelayedItem(item));
  RESQUE_RETURN_IF_ERROR(QueueName(queue));
  return DoMoveDelayed(item, queue);
}

absl::StatusOr<MoveDueResult> Backend::MoveDue(const MoveDueRequest& request) {
  RESQUE_RETURN_IF_ERROR(DelayedSecond(request.now));
  if (request.max < 1 || request.max > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrFormat("a move of %d items (1 to %d)", request.max, kMaxBatch));
  }
  return DoMoveDue(request);
}

absl::StatusOr<bool> Backend::HoldSchedulerLock(std::string_view holder, absl::Duration ttl) {
  RESQUE_RETURN_IF_ERROR(LockHolder(holder));
  const int64_t seconds = absl::ToInt64Seconds(ttl);
  if (seconds < 1 || absl::Seconds(seconds) != ttl || ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("a scheduler lock of %s (a whole number of seconds, at least 1)",
                        absl::FormatDuration(ttl)));
  }
  return DoHoldSchedulerLock(holder, seconds);
}

absl::Status Backend::ReleaseSchedulerLock(std::string_view holder) {
  RESQUE_RETURN_IF_ERROR(LockHolder(holder));
  return DoReleaseSchedulerLock(holder);
}

absl::StatusOr<std::vector<SchedulerLock>> Backend::SchedulerLocks() { return DoSchedulerLocks(); }

absl::Status Backend::DoPushDelayed(int64_t, std::string_view) { return Unimplemented(); }
absl::StatusOr<int64_t> Backend::DoDelayedCount() { return Unimplemented(); }
absl::StatusOr<std::vector<DelayedTime>> Backend::DoDelayedTimes(int64_t, int64_t) {
  return Unimplemented();
}
absl::StatusOr<std::vector<std::string>> Backend::DoDelayedItems(int64_t, int64_t, int64_t) {
  return Unimplemented();
}
absl::StatusOr<int64_t> Backend::DoRemoveDelayed(std::string_view) { return Unimplemented(); }
absl::StatusOr<int64_t> Backend::DoMoveDelayed(std::string_view, std::string_view) {
  return Unimplemented();
}
absl::StatusOr<MoveDueResult> Backend::DoMoveDue(const MoveDueRequest&) { return Unimplemented(); }
absl::StatusOr<bool> Backend::DoHoldSchedulerLock(std::string_view, int64_t) {
  return Unimplemented();
}
absl::Status Backend::DoReleaseSchedulerLock(std::string_view) { return Unimplemented(); }
absl::StatusOr<std::vector<SchedulerLock>> Backend::DoSchedulerLocks() { return Unimplemented(); }

// ---- Recurring schedules ----

absl::StatusOr<bool> Backend::SetSchedule(std::string_view name, std::string_view config,
                                          int64_t since) {
  RESQUE_RETURN_IF_ERROR(NotEmpty(name, "schedule name"));
  RESQUE_RETURN_IF_ERROR(NotEmpty(config, "schedule config"));
  RESQUE_RETURN_IF_ERROR(DelayedSecond(since));
  return DoSetSchedule(name, config, since);
}

absl::StatusOr<bool> Backend::RemoveSchedule(std::string_view name) {
  RESQUE_RETURN_IF_ERROR(NotEmpty(name, "schedule name"));
  return DoRemoveSchedule(name);
}

absl::StatusOr<std::vector<ScheduleEntry>> Backend::Schedules() { return DoSchedules(); }

absl::StatusOr<bool> Backend::EnqueueOccurrence(const ScheduleOccurrence& occurrence) {
  RESQUE_RETURN_IF_ERROR(NotEmpty(occurrence.name, "schedule name"));
  RESQUE_RETURN_IF_ERROR(DelayedSecond(occurrence.at));
  if (!occurrence.mark_only) {
    RESQUE_RETURN_IF_ERROR(QueueName(occurrence.queue));
    RESQUE_RETURN_IF_ERROR(NotEmpty(occurrence.payload, "payload"));
  }
  return DoEnqueueOccurrence(occurrence);
}

absl::StatusOr<bool> Backend::DoSetSchedule(std::string_view, std::string_view, int64_t) {
  return absl::UnimplementedError("this backend keeps no schedules");
}
absl::StatusOr<bool> Backend::DoRemoveSchedule(std::string_view) {
  return absl::UnimplementedError("this backend keeps no schedules");
}
absl::StatusOr<std::vector<ScheduleEntry>> Backend::DoSchedules() {
  return absl::UnimplementedError("this backend keeps no schedules");
}
absl::StatusOr<bool> Backend::DoEnqueueOccurrence(const ScheduleOccurrence&) {
  return absl::UnimplementedError("this backend keeps no schedules");
}

}  // namespace resque
