// Keys: the Redis key layout of docs/wire-format.md, in one place. Every key the Redis backend
// reads or writes is spelled here, under a configurable namespace ("resque" by default, as
// php-resque's PREFIX, Ruby's Resque.redis.namespace and node-resque's `namespace`).
//
//   resque::redis::Keys keys("resque");
//   keys.Queue("mail");           // "resque:queue:mail"
//   keys.Status("b1f0...");       // "resque:job:b1f0...:status"
#ifndef RESQUE_BACKENDS_REDIS_KEYS_H_
#define RESQUE_BACKENDS_REDIS_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace resque::redis {

class Keys {
 public:
  explicit Keys(std::string ns = "resque") : prefix_(std::move(ns) + ":") {}

  // "<ns>:" : what every key starts with.
  const std::string& prefix() const { return prefix_; }

  // Set of the names of every queue pushed to.
  std::string Queues() const { return Join("queues"); }
  // List of payloads, oldest at the head.
  std::string Queue(std::string_view queue) const { return Join("queue:", queue); }
  // "<ns>:queue:": a queue's key minus its name (the Lua reserve script strips it).
  std::string QueuePrefix() const { return Join("queue:"); }
  // String: the status JSON of a tracked job.
  std::string Status(std::string_view job_id) const { return Join("job:", job_id, ":status"); }
  // "<ns>:job:": a status key minus its id and ":status" (recover.lua adds them).
  std::string StatusPrefix() const { return Join("job:"); }
  // Set of registered worker ids.
  std::string Workers() const { return Join("workers"); }
  // String: "true" (Ruby's rule, backend.h PauseFlagSet) while no worker may take a job.
  std::string PauseAllWorkers() const { return Join("pause-all-workers"); }
  // String: the JSON of the job a worker is performing; absent while it is idle.
  std::string Worker(std::string_view worker_id) const { return Join("worker:", worker_id); }
  // String: when a worker started (a date string).
  std::string WorkerStarted(std::string_view worker_id) const {
    return Join("worker:", worker_id, ":started");
  }
  // String (an integer): counter `name` ("processed", "failed", "processed:<worker id>").
  std::string Stat(std::string_view name) const { return Join("stat:", name); }
  // List of failure records, oldest first.
  std::string Failed() const { return Join("failed"); }
  // Ruby's redis_multi_queue failure backend: one list of failure records per job queue,
  // "<ns>:<queue>_failed", whose name ("<queue>_failed") is a member of the set
  // "<ns>:failed_queues".
  std::string FailedQueue(std::string_view queue) const { return Join(FailedQueueName(queue)); }
  static std::string FailedQueueName(std::string_view queue) {
    return std::string(queue).append(kFailedSuffix);
  }
  std::string FailedQueues() const { return Join("failed_queues"); }
  // "<ns>:": FailedQueue(q) minus its queue and suffix (recover.lua adds them).
  std::string FailedQueuePrefix() const { return Join(""); }
  static constexpr std::string_view kFailedSuffix = "_failed";
  // Hash: worker id -> its last heartbeat (ISO 8601), as resque 2.x keeps it.
  std::string Heartbeats() const { return Join("workers:heartbeat"); }
  // Hash: worker id -> the seconds without a heartbeat after which it counts as dead, as each of
  // our workers declares it when it registers (resque-cpp's own; a peer's beat has none).
  std::string Liveness() const { return Join("workers:liveness"); }
  // Set: our workers that reserve in flight, listed from registration until their recovery, so
  // that their in-flight lists are found without a SCAN after a peer unregistered them.
  std::string InFlightOwners() const { return Join("workers:inflight"); }
  // Set: our workers paused by USR2 (resque-cpp's own; peers keep no such mark).
  std::string PausedWorkers() const { return Join("workers:paused"); }
  // Hash: SHA-1 of a payload -> how many times a worker died running it (resque-cpp's own; see
  // RecoverRequest::max_recoveries).
  std::string Recoveries() const { return Join("recoveries"); }
  // Set: the queues from which worker `worker_id` has payloads in flight (resque-cpp's own).
  std::string InFlightQueues(std::string_view worker_id) const {
    return Join("inflight:", worker_id);
  }
  // List: the payloads worker `worker_id` took from `queue` and has not finished, oldest first.
  // One list per queue, so that a payload moved by BLMOVE (which cannot tag it) still knows
  // where it came from.
  std::string InFlight(std::string_view worker_id, std::string_view queue) const {
    return Join("inflight:", worker_id, std::string(":queue:").append(queue));
  }
  // "<ns>:inflight:<wid>:queue:": an in-flight list's key minus its queue (the scripts add it).
  std::string InFlightPrefix(std::string_view worker_id) const {
    return Join("inflight:", worker_id, ":queue:");
  }

  // resque-scheduler's delayed jobs, which node-resque's scheduler shares: the sorted set of
  // the seconds that hold items (member and score both the unix second), each second's list of
  // items ("<ns>:delayed:<second>", oldest first), and each item's set of the seconds it is
  // due at ("<ns>:timestamps:<item>", members "delayed:<second>").
  std::string DelayedSchedule() const { return Join("delayed_queue_schedule"); }
  std::string DelayedAt(int64_t at) const { return Join("delayed:", std::to_string(at)); }
  std::string DelayedTimestamps(std::string_view item) const { return Join("timestamps:", item); }
  // Recurring schedules where resque-scheduler keeps its persistent dynamic ones: the hash of
  // configs by name, the set of names changed since its schedulers last looked, the hash of each
  // one's last enqueue time (resque-web's "Last Enqueued"); and ours, the hash of each schedule's
  // last occurrence (unix second) that a scheduler of ours enqueued. (resque-scheduler >= 3.1 keeps
  // the schedules set with `persist: true` there; its Resque.schedule, which resque-web shows,
  // merges them with the ones in its memory.)
  std::string Schedules() const { return Join("persistent_schedules"); }
  std::string SchedulesChanged() const { return Join("schedules_changed"); }
  std::string ScheduleLastEnqueuedAt() const { return Join("delayed:last_enqueued_at"); }
  std::string ScheduleOccurrences() const { return Join("schedule_occurrences"); }
  // The scheduler leader locks, strings holding the leader's name with a TTL:
  // resque-scheduler's master lock, whose name redis-namespace prefixes a second time
  // ("<ns>:<ns>:resque_scheduler_master_lock"), and node-resque's leader lock.
  std::string SchedulerMasterLock() const {
    return Join(std::string(prefix_).append("resque_scheduler_master_lock"));
  }
  std::string SchedulerLeaderLock() const { return Join("resque_scheduler_leader_lock"); }

 private:
  std::string Join(std::string_view a, std::string_view b = {}, std::string_view c = {}) const {
    std::string key;
    key.reserve(prefix_.size() + a.size() + b.size() + c.size());
    key.append(prefix_).append(a).append(b).append(c);
    return key;
  }

  std::string prefix_;
};

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_KEYS_H_
