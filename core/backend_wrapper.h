// BackendWrapper: a Backend that forwards every storage verb to another one, as leveldb's
// EnvWrapper does for Env. A test derives from it and overrides only the verbs it wants to break
// (fail the third Finish, lose a reserve's reply), keeping the wrapped backend's behaviour for
// the rest; the public verbs still check their arguments first, as on any Backend.
//
//   class LosesFinishes : public resque::BackendWrapper {
//    public:
//     using BackendWrapper::BackendWrapper;
//    private:
//     absl::Status DoFinish(const resque::FinishWrite&) override {
//       return absl::UnavailableError("injected");
//     }
//   };
//   LosesFinishes backend(real.get());
//
// A session opened on a wrapper is a forwarding session over the wrapper itself (so the faults
// stay), not the wrapped backend's own session.
#ifndef RESQUE_CORE_BACKEND_WRAPPER_H_
#define RESQUE_CORE_BACKEND_WRAPPER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/backend.h"

namespace resque {

class BackendWrapper : public Backend {
 public:
  // Not owned; must outlive the wrapper.
  explicit BackendWrapper(Backend* target) : target_(target) {}

  Backend* target() const { return target_; }

 protected:
  void DoCapWaits(absl::Duration cap) override { target_->DoCapWaits(cap); }
  bool DoSupportsRetry() const override { return target_->DoSupportsRetry(); }
  absl::Status DoPush(std::string_view queue,
                      absl::Span<const std::string_view> payloads) override {
    return target_->DoPush(queue, payloads);
  }
  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override {
    return target_->DoReserve(request, out);
  }
  absl::StatusOr<int64_t> DoSize(std::string_view queue) override { return target_->DoSize(queue); }
  absl::StatusOr<bool> DoAllWorkersPaused() override { return target_->DoAllWorkersPaused(); }
  absl::Status DoPauseAllWorkers(bool paused) override {
    return target_->DoPauseAllWorkers(paused);
  }
  absl::Status DoSetWorkerPaused(std::string_view worker_id, bool paused) override {
    return target_->DoSetWorkerPaused(worker_id, paused);
  }
  absl::StatusOr<std::vector<std::string>> DoPausedWorkers() override {
    return target_->DoPausedWorkers();
  }
  absl::StatusOr<std::vector<std::string>> DoPeek(std::string_view queue, int64_t start,
                                                  int64_t count) override {
    return target_->DoPeek(queue, start, count);
  }
  absl::StatusOr<std::vector<std::string>> DoQueues() override { return target_->DoQueues(); }
  absl::StatusOr<StarQueues> DoQueuesForStar(int64_t all_up_to) override {
    return target_->DoQueuesForStar(all_up_to);
  }
  absl::Status DoRemoveQueue(std::string_view queue) override {
    return target_->DoRemoveQueue(queue);
  }
  absl::StatusOr<int64_t> DoRemoveJobs(std::string_view queue, const JobMatcher& matcher) override {
    return target_->DoRemoveJobs(queue, matcher);
  }

  absl::StatusOr<std::optional<std::string>> DoGetStatus(std::string_view id) override {
    return target_->DoGetStatus(id);
  }
  absl::Status DoSetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                           bool only_if_exists) override {
    return target_->DoSetStatus(id, status_json, ttl, only_if_exists);
  }

  absl::Status DoRegisterWorker(std::string_view worker_id, std::string_view started,
                                const std::optional<WorkerLiveness>& liveness) override {
    return target_->DoRegisterWorker(worker_id, started, liveness);
  }
  absl::Status DoUnregisterWorker(std::string_view worker_id, const WorkerStats& stats) override {
    return target_->DoUnregisterWorker(worker_id, stats);
  }
  absl::StatusOr<std::vector<std::string>> DoWorkers() override { return target_->DoWorkers(); }
  absl::StatusOr<std::optional<std::string>> DoWorkerJob(std::string_view worker_id) override {
    return target_->DoWorkerJob(worker_id);
  }
  absl::StatusOr<std::optional<std::string>> DoWorkerStarted(std::string_view worker_id) override {
    return target_->DoWorkerStarted(worker_id);
  }
  absl::StatusOr<std::vector<QueueSummary>> DoQueueSummaries(QueueParts parts) override {
    return target_->DoQueueSummaries(parts);
  }
  absl::StatusOr<std::vector<WorkerSummary>> DoWorkerSummaries() override {
    return target_->DoWorkerSummaries();
  }
  absl::Status DoStartJob(const JobStart& start) override { return target_->DoStartJob(start); }
  absl::Status DoFinish(const FinishWrite& write) override { return target_->DoFinish(write); }

  absl::StatusOr<int64_t> DoUnreserve(const UnreserveRequest& request) override {
    return target_->DoUnreserve(request);
  }
  absl::StatusOr<std::vector<ReservedJob>> DoInFlight(std::string_view owner) override {
    return target_->DoInFlight(owner);
  }
  absl::Status DoHeartbeat(absl::Span<const std::string> worker_ids,
                           std::string_view beat) override {
    return target_->DoHeartbeat(worker_ids, beat);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DoHeartbeats() override {
    return target_->DoHeartbeats();
  }
  absl::StatusOr<std::optional<RecoverResult>> DoRecoverWorker(const RecoverRequest& request,
                                                               const WorkerStats& stats) override {
    return target_->DoRecoverWorker(request, stats);
  }
  absl::StatusOr<LivenessView> DoReadLiveness() override { return target_->DoReadLiveness(); }

  absl::StatusOr<std::optional<int64_t>> DoIncrementStat(std::string_view name,
                                                         int64_t by) override {
    return target_->DoIncrementStat(name, by);
  }
  absl::StatusOr<int64_t> DoGetStat(std::string_view name) override {
    return target_->DoGetStat(name);
  }
  absl::Status DoClearStat(std::string_view name) override { return target_->DoClearStat(name); }

  FailureLayout DoFailureLayout() override { return target_->DoFailureLayout(); }
  absl::Status DoPushFailure(std::string_view queue, std::string_view failure_json) override {
    return target_->DoPushFailure(queue, failure_json);
  }
  absl::StatusOr<int64_t> DoFailureCount(std::string_view queue) override {
    return target_->DoFailureCount(queue);
  }
  absl::StatusOr<std::vector<std::string>> DoFailures(std::string_view queue, int64_t start,
                                                      int64_t count) override {
    return target_->DoFailures(queue, start, count);
  }
  absl::StatusOr<bool> DoUpdateFailure(std::string_view queue, int64_t index,
                                       std::string_view failure_json) override {
    return target_->DoUpdateFailure(queue, index, failure_json);
  }
  absl::StatusOr<bool> DoRemoveFailure(std::string_view queue, int64_t index) override {
    return target_->DoRemoveFailure(queue, index);
  }
  absl::StatusOr<bool> DoEditFailure(std::string_view queue, const FailureEdit& edit) override {
    return target_->DoEditFailure(queue, edit);
  }
  absl::Status DoClearFailures(std::string_view queue) override {
    return target_->DoClearFailures(queue);
  }
  absl::StatusOr<std::vector<std::string>> DoFailureQueues() override {
    return target_->DoFailureQueues();
  }
  absl::Status DoPushDelayed(int64_t at, std::string_view item) override {
    return target_->DoPushDelayed(at, item);
  }
  absl::StatusOr<int64_t> DoDelayedCount() override { return target_->DoDelayedCount(); }
  absl::StatusOr<std::vector<DelayedTime>> DoDelayedTimes(int64_t start, int64_t count) override {
    return target_->DoDelayedTimes(start, count);
  }
  absl::StatusOr<std::vector<std::string>> DoDelayedItems(int64_t at, int64_t start,
                                                          int64_t count) override {
    return target_->DoDelayedItems(at, start, count);
  }
  absl::StatusOr<int64_t> DoRemoveDelayed(std::string_view item) override {
    return target_->DoRemoveDelayed(item);
  }
  absl::StatusOr<int64_t> DoMoveDelayed(std::string_view item, std::string_view queue) override {
    return target_->DoMoveDelayed(item, queue);
  }
  absl::StatusOr<MoveDueResult> DoMoveDue(const MoveDueRequest& request) override {
    return target_->DoMoveDue(request);
  }
  absl::StatusOr<bool> DoHoldSchedulerLock(std::string_view holder, int64_t ttl_seconds) override {
    return target_->DoHoldSchedulerLock(holder, ttl_seconds);
  }
  absl::Status DoReleaseSchedulerLock(std::string_view holder) override {
    return target_->DoReleaseSchedulerLock(holder);
  }
  absl::StatusOr<std::vector<SchedulerLock>> DoSchedulerLocks() override {
    return target_->DoSchedulerLocks();
  }
  absl::StatusOr<bool> DoSetSchedule(std::string_view name, std::string_view config,
                                     int64_t since) override {
    return target_->DoSetSchedule(name, config, since);
  }
  absl::StatusOr<bool> DoRemoveSchedule(std::string_view name) override {
    return target_->DoRemoveSchedule(name);
  }
  absl::StatusOr<std::vector<ScheduleEntry>> DoSchedules() override {
    return target_->DoSchedules();
  }
  absl::StatusOr<bool> DoEnqueueOccurrence(const ScheduleOccurrence& occurrence) override {
    return target_->DoEnqueueOccurrence(occurrence);
  }

 private:
  Backend* const target_;
};

}  // namespace resque

#endif  // RESQUE_CORE_BACKEND_WRAPPER_H_
