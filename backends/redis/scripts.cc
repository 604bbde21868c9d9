#include "backends/redis/scripts.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/status.h"

namespace resque::redis {
std::vector<std::string> ScriptSources() {
  return std::vector<std::string>(std::begin(lua::kSources), std::end(lua::kSources));
}

ScriptCall::ScriptCall(lua::Script script, std::vector<std::string> keys,
                       std::vector<std::string> args)
    : script_(script), key_count_(keys.size()) {
  command_.reserve(3 + keys.size() + args.size());
  command_ = {"EVALSHA", "", Int(static_cast<int64_t>(keys.size()))};
  command_.insert(command_.end(), std::make_move_iterator(keys.begin()),
                  std::make_move_iterator(keys.end()));
  command_.insert(command_.end(), std::make_move_iterator(args.begin()),
                  std::make_move_iterator(args.end()));
}

const Command& ScriptCall::Evalsha(std::string sha) {
  command_[0] = "EVALSHA";
  command_[1] = std::move(sha);
  return command_;
}

const Command& ScriptCall::Eval() {
  command_[0] = "EVAL";
  command_[1] = std::string(lua::kSources[index()]);
  return command_;
}

absl::Span<const std::string> ScriptCall::keys() const {
  return absl::MakeConstSpan(command_).subspan(3, key_count_);
}

absl::Span<const std::string> ScriptCall::args() const {
  return absl::MakeConstSpan(command_).subspan(3 + key_count_);
}

ScriptCall ReserveCall(std::vector<std::string> queue_keys, std::string pause_key) {
  if (pause_key.empty()) return ScriptCall(lua::Script::kReserve, std::move(queue_keys), {});
  queue_keys.push_back(std::move(pause_key));
  return ScriptCall(lua::Script::kReserve, std::move(queue_keys), {"1"});
}

ScriptCall RecoverCall(const Keys& keys, const RecoverRequest& request, const WorkerStats& stats,
                       FailureLayout layout) {
  const bool per_queue = layout == FailureLayout::kPerQueue;
  const std::string_view wid = request.worker_id;
  std::vector<std::string> args = {
      std::string(wid),
      keys.InFlightPrefix(wid),
      keys.QueuePrefix(),
      request.if_heartbeat.has_value() ? "1" : "0",
      request.if_heartbeat.value_or(""),
      request.if_orphaned ? "1" : "0",
      "",
      "",
      "",
      "",
      TtlMillis(kFinishedStatusTtl),
      Int(kDirtyExitLookback),
      "",
      "",
      per_queue ? keys.FailedQueuePrefix() : "",
      "",
      Int(request.max_recoveries),
      "",
      TtlMillis(kRecoveryCountTtl),
      Int(kMaxRecoveryCounts),
      request.waiting_status_json,
      keys.StatusPrefix(),
  };
  if (const std::optional<DirtyExit>& exit = request.dirty_exit; exit.has_value()) {
    if (request.max_recoveries > 0) {
      args[15] = exit->payload_json;
      args[17] = exit->poison_failure_json;
    }
    args[6] = exit->working_json;
    args[7] = exit->failure_json;
    if (!exit->job_id.empty()) args[8] = keys.Status(exit->job_id);
    args[9] = exit->status_json;
    args[12] = per_queue ? keys.FailedQueue(exit->queue) : keys.Failed();
    if (per_queue) args[13] = Keys::FailedQueueName(exit->queue);
  }
  return ScriptCall(lua::Script::kRecover,
                    {
                        keys.Workers(),
                        keys.Worker(wid),
                        keys.WorkerStarted(wid),
                        keys.Stat(stats.processed),
                        keys.Stat(stats.failed),
                        keys.Heartbeats(),
                        keys.InFlightQueues(wid),
                        keys.Queues(),
                        keys.Liveness(),
                        keys.InFlightOwners(),
                        keys.Failed(),
                        keys.Stat(kFailedStat),
                        keys.FailedQueues(),
                        keys.Recoveries(),
                    },
                    std::move(args));
}

ScriptCall ReserveManyCall(const Keys& keys, absl::Span<const std::string> queues,
                           std::string_view owner, int max, bool honour_pause) {
  std::vector<std::string> queue_keys;
  std::vector<std::string> args = {keys.InFlightPrefix(owner), Int(max)};
  queue_keys.reserve(queues.size() + 1);
  args.reserve(queues.size() + 2);
  for (const std::string& q : queues) {
    queue_keys.push_back(keys.Queue(q));
    args.push_back(q);
  }
  queue_keys.push_back(keys.InFlightQueues(owner));
  if (honour_pause) queue_keys.push_back(keys.PauseAllWorkers());
  return ScriptCall(lua::Script::kReserveMany, std::move(queue_keys), std::move(args));
}

std::array<std::string, kFinishArgsPerJob> FinishArgs(const Keys& keys, const JobFinish& finish,
                                                      FailureLayout layout) {
  std::array<std::string, kFinishArgsPerJob> group;
  if (!finish.job_id.empty()) group[kFinishStatusKey] = keys.Status(finish.job_id);
  group[kFinishStatusJson] = finish.status_json;
  if (finish.status_ttl != absl::InfiniteDuration()) {
    group[kFinishStatusTtlMillis] = TtlMillis(finish.status_ttl);
  }
  if (finish.in_flight.has_value()) {
    group[kFinishInFlightList] = keys.InFlight(finish.worker_id, finish.in_flight->queue);
    group[kFinishInFlightPayload] = finish.in_flight->payload;
  }
  group[kFinishFailed] = finish.failed ? "1" : "0";
  if (finish.retry.has_value()) {
    group[kFinishRetryList] = keys.DelayedAt(finish.retry->at);
    group[kFinishRetrySeconds] = keys.DelayedTimestamps(finish.retry->item);
    group[kFinishRetryAt] = std::to_string(finish.retry->at);
    group[kFinishRetryItem] = finish.retry->item;
  } else if (finish.failed) {
    group[kFinishFailureJson] = finish.failure_json;
    if (layout == FailureLayout::kPerQueue) {
      group[kFinishFailureList] = keys.FailedQueue(finish.failure_queue);
      group[kFinishFailedQueueName] = Keys::FailedQueueName(finish.failure_queue);
    } else {
      group[kFinishFailureList] = keys.Failed();
    }
  }
  return group;
}

ScriptCall FinishManyCall(const Keys& keys, const FinishWrite& write, FailureLayout layout) {
  std::vector<std::string> args;
  args.reserve(write.jobs.size() * kFinishArgsPerJob);
  for (const JobFinish& f : write.jobs) {
    std::array<std::string, kFinishArgsPerJob> group = FinishArgs(keys, f, layout);
    args.insert(args.end(), std::make_move_iterator(group.begin()),
                std::make_move_iterator(group.end()));
  }
  return ScriptCall(lua::Script::kFinishMany,
                    {
                        keys.Worker(write.worker_id),
                        keys.Stat(kProcessedStat),
                        keys.Stat(write.stats.processed),
                        keys.Stat(kFailedStat),
                        keys.Stat(write.stats.failed),
                        keys.FailedQueues(),
                        keys.DelayedSchedule(),
                    },
                    std::move(args));
}

ScriptCall FinishReserveCall(const Keys& keys_of, const ScriptCall& finish,
                             const ScriptCall& reserve, const FoldedStart* start) {
  std::vector<std::string> keys(finish.keys().begin(), finish.keys().end());
  keys.insert(keys.end(), reserve.keys().begin(), reserve.keys().end());
  std::vector<std::string> args = {Int(static_cast<int64_t>(finish.keys().size())),
                                   Int(static_cast<int64_t>(finish.args().size())),
                                   reserve.script() == lua::Script::kReserveMany ? "many" : "one"};
  args.reserve(kFinishReserveHeader + finish.args().size() + reserve.args().size());
  if (start != nullptr) {
    const std::string probe = keys_of.Status("");
    const std::string status_prefix = keys_of.StatusPrefix();
    args.insert(args.end(), {"1", start->run_at, start->worker, start->status_json, status_prefix,
                             probe.substr(status_prefix.size()), keys_of.QueuePrefix()});
  } else {
    args.insert(args.end(), kFinishReserveHeader - args.size(), std::string());
  }
  args.insert(args.end(), finish.args().begin(), finish.args().end());
  args.insert(args.end(), reserve.args().begin(), reserve.args().end());
  return ScriptCall(lua::Script::kFinishReserve, std::move(keys), std::move(args));
}

ScriptCall StarQueuesCall(const Keys& keys, int64_t all_up_to) {
  return ScriptCall(lua::Script::kStarQueues, {keys.Queues()},
                    {keys.QueuePrefix(), Int(all_up_to)});
}

ScriptCall UnreserveCall(const Keys& keys, const UnreserveRequest& request) {
  // No owner: no in-flight list, the jobs go back whatever (unreserve.lua reads "" so).
  std::vector<std::string> args = {
      request.owner.empty() ? std::string() : keys.InFlightPrefix(request.owner),
      keys.QueuePrefix(), std::string(request.status_json)};
  args.reserve(3 + 3 * request.jobs.size());
  for (const UnreserveJob& j : request.jobs) {
    args.push_back(j.job.queue);
    args.push_back(j.job.payload);
    args.push_back(j.job_id.empty() ? "" : keys.Status(j.job_id));
  }
  std::vector<std::string> key_list = {keys.Queues()};
  if (!request.idle_worker.empty()) key_list.push_back(keys.Worker(request.idle_worker));
  return ScriptCall(lua::Script::kUnreserve, std::move(key_list), std::move(args));
}

ScriptCall EditFailureCall(const Keys& keys, std::string failed_key, const FailureEdit& edit,
                           std::string mark) {
  std::vector<std::string> key_list = {std::move(failed_key)};
  std::vector<std::string> args = {absl::StrFormat("%d", edit.index), std::string(edit.record),
                                   std::string(edit.replacement), std::move(mark)};
  if (!edit.push_queue.empty()) {
    key_list.push_back(keys.Queues());
    key_list.push_back(keys.Queue(edit.push_queue));
    args.emplace_back(edit.push_queue);
    args.emplace_back(edit.push_payload);
  }
  return ScriptCall(lua::Script::kEditFailure, std::move(key_list), std::move(args));
}

ScriptCall PushDelayedCall(const Keys& keys, int64_t at, std::string_view item) {
  return ScriptCall(lua::Script::kPushDelayed,
                    {keys.DelayedAt(at), keys.DelayedTimestamps(item), keys.DelayedSchedule()},
                    {absl::StrFormat("%d", at), std::string(item)});
}

ScriptCall MoveDelayedCall(const Keys& keys, std::string_view item, std::string_view queue) {
  std::vector<std::string> key_list = {keys.DelayedTimestamps(item), keys.DelayedSchedule()};
  std::vector<std::string> args = {std::string(item), keys.prefix()};
  if (!queue.empty()) {
    key_list.push_back(keys.Queues());
    key_list.push_back(keys.Queue(queue));
    args.emplace_back(queue);
  }
  return ScriptCall(lua::Script::kMoveDelayed, std::move(key_list), std::move(args));
}

ScriptCall MoveDueCall(const Keys& keys, std::string failed_key, const MoveDueRequest& request) {
  return ScriptCall(
      lua::Script::kMoveDue, {keys.DelayedSchedule(), keys.Queues(), std::move(failed_key)},
      {absl::StrFormat("%d", request.now), absl::StrFormat("%d", request.max), keys.prefix(),
       request.bad_item_prefix, request.bad_item_middle, request.bad_item_suffix});
}

ScriptCall SchedulerLockCall(const Keys& keys, std::string_view holder, int64_t ttl_seconds) {
  return ScriptCall(lua::Script::kSchedulerLock,
                    {keys.SchedulerMasterLock(), keys.SchedulerLeaderLock()},
                    {std::string(holder), absl::StrFormat("%d", ttl_seconds)});
}

ScriptCall SetScheduleCall(const Keys& keys, std::string_view name, std::string_view config,
                           int64_t since) {
  return ScriptCall(lua::Script::kSetSchedule,
                    {keys.Schedules(), keys.SchedulesChanged(), keys.ScheduleOccurrences()},
                    {std::string(name), std::string(config), std::to_string(since)});
}

ScriptCall RemoveScheduleCall(const Keys& keys, std::string_view name) {
  return ScriptCall(lua::Script::kRemoveSchedule,
                    {keys.Schedules(), keys.SchedulesChanged(), keys.ScheduleOccurrences(),
                     keys.ScheduleLastEnqueuedAt()},
                    {std::string(name)});
}

ScriptCall EnqueueOccurrenceCall(const Keys& keys, const ScheduleOccurrence& occurrence) {
  std::vector<std::string> key_list = {keys.Schedules(), keys.ScheduleOccurrences()};
  std::vector<std::string> args = {std::string(occurrence.name), std::to_string(occurrence.at)};
  if (!occurrence.mark_only) {
    key_list.push_back(keys.ScheduleLastEnqueuedAt());
    key_list.push_back(keys.Queues());
    key_list.push_back(keys.Queue(occurrence.queue));
    args.emplace_back(occurrence.payload);
    args.emplace_back(occurrence.queue);
    args.emplace_back(occurrence.enqueued_at);
  }
  return ScriptCall(lua::Script::kEnqueueOccurrence, std::move(key_list), std::move(args));
}

}  // namespace resque::redis
