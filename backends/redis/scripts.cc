#include "backends/redis/scripts.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/absl_view.h"

namespace resque::redis {
namespace {

// "processed:<worker id>": a worker's own counter, as Resque names it.
std::string WorkerStat(std::string_view stat, std::string_view worker_id) {
  return absl::StrFormat("%s:%s", AbslView(stat), AbslView(worker_id));
}

}  // namespace

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

ScriptCall ReserveCall(std::vector<std::string> queue_keys) {
  return ScriptCall(lua::Script::kReserve, std::move(queue_keys), {});
}

ScriptCall RecoverCall(const Keys& keys, std::string_view worker_id,
                       const std::optional<std::string>& if_heartbeat) {
  return ScriptCall(lua::Script::kRecover,
                    {
                        keys.Workers(),
                        keys.Worker(worker_id),
                        keys.WorkerStarted(worker_id),
                        keys.Stat(WorkerStat("processed", worker_id)),
                        keys.Stat(WorkerStat("failed", worker_id)),
                        keys.Heartbeats(),
                        keys.InFlightQueues(worker_id),
                        keys.Queues(),
                    },
                    {
                        std::string(worker_id),
                        keys.InFlightPrefix(worker_id),
                        keys.QueuePrefix(),
                        if_heartbeat.has_value() ? "1" : "0",
                        if_heartbeat.value_or(""),
                    });
}

ScriptCall ReserveManyCall(const Keys& keys, absl::Span<const std::string> queues,
                           std::string_view owner, int max) {
  std::vector<std::string> queue_keys;
  std::vector<std::string> args = {keys.InFlightPrefix(owner), Int(max)};
  queue_keys.reserve(queues.size() + 1);
  args.reserve(queues.size() + 2);
  for (const std::string& q : queues) {
    queue_keys.push_back(keys.Queue(q));
    args.push_back(q);
  }
  queue_keys.push_back(keys.InFlightQueues(owner));
  return ScriptCall(lua::Script::kReserveMany, std::move(queue_keys), std::move(args));
}

std::array<std::string, kFinishArgsPerJob> FinishArgs(const Keys& keys, const JobFinish& finish) {
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
  if (finish.failed) group[kFinishFailureJson] = finish.failure_json;
  return group;
}

ScriptCall FinishManyCall(const Keys& keys, absl::Span<const JobFinish> finishes) {
  const std::string_view wid = finishes.empty() ? std::string_view() : finishes[0].worker_id;
  std::vector<std::string> args;
  args.reserve(finishes.size() * kFinishArgsPerJob);
  for (const JobFinish& f : finishes) {
    std::array<std::string, kFinishArgsPerJob> group = FinishArgs(keys, f);
    args.insert(args.end(), std::make_move_iterator(group.begin()),
                std::make_move_iterator(group.end()));
  }
  return ScriptCall(lua::Script::kFinishMany,
                    {
                        keys.Worker(wid),
                        keys.Stat("processed"),
                        keys.Stat(WorkerStat("processed", wid)),
                        keys.Stat("failed"),
                        keys.Stat(WorkerStat("failed", wid)),
                        keys.Failed(),
                    },
                    std::move(args));
}

ScriptCall UnreserveCall(const Keys& keys, std::string_view owner,
                         absl::Span<const ReservedJob> jobs, absl::Span<const std::string> job_ids,
                         std::string_view status_json) {
  std::vector<std::string> args = {keys.InFlightPrefix(owner), keys.QueuePrefix(),
                                   std::string(status_json)};
  args.reserve(3 + 3 * jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    args.push_back(jobs[i].queue);
    args.push_back(jobs[i].payload);
    args.push_back(job_ids.empty() || job_ids[i].empty() ? "" : keys.Status(job_ids[i]));
  }
  return ScriptCall(lua::Script::kUnreserve, {keys.Queues()}, std::move(args));
}

}  // namespace resque::redis
