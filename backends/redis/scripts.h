// The Redis backend's Lua scripts (backends/redis/lua/*.lua, embedded by the build) and one typed
// call per script: each takes named arguments and builds the KEYS and ARGV its script reads, so
// that a script's layout is written once in C++ (here and in scripts.cc) and once, as its header
// comment, in the .lua.
//
// Each script makes one worker step one round trip and checks every key it will touch before
// writing anything, so that a key of the wrong type (written by someone else) fails the whole
// step instead of half-applying it. Errors come back as "WRONGTYPE <key>" or "NOTINT <key>" so
// the caller can name the key.
//
//   ScriptCall call = ReserveCall({keys.Queue("high"), keys.Queue("mail")});
//   pool.Run({call.Evalsha(pool.ScriptSha(call.index()))});
#ifndef RESQUE_BACKENDS_REDIS_SCRIPTS_H_
#define RESQUE_BACKENDS_REDIS_SCRIPTS_H_

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "backends/redis/connection.h"
#include "backends/redis/keys.h"
#include "backends/redis/lua_scripts.h"
#include "core/backend.h"

namespace resque::redis {

// Every script's source, in lua::Script order: what the pool loads (SCRIPT LOAD) on each new
// connection, so that ScriptSha(index) is the digest of that script.
std::vector<std::string> ScriptSources();

// One call of a script, its KEYS and ARGV in place: EVALSHA of the digest the server gave, or
// EVAL of the source when the server does not know the digest (it was restarted or flushed its
// scripts since the connection was made).
class ScriptCall {
 public:
  ScriptCall(lua::Script script, std::vector<std::string> keys, std::vector<std::string> args);

  lua::Script script() const { return script_; }
  // The script's index in ScriptSources().
  size_t index() const { return static_cast<size_t>(script_); }
  std::string_view name() const { return lua::kNames[index()]; }

  // EVALSHA <sha> <number of KEYS> KEYS... ARGV...
  const Command& Evalsha(std::string sha);
  // EVAL <source> <number of KEYS> KEYS... ARGV...
  const Command& Eval();

  // The KEYS and ARGV the script gets.
  absl::Span<const std::string> keys() const;
  absl::Span<const std::string> args() const;

 private:
  lua::Script script_;
  size_t key_count_;
  Command command_;  // {"EVALSHA" or "EVAL", digest or source, key count, KEYS..., ARGV...}
};

// reserve.lua: LPOP of the first non-empty queue of `queue_keys` (priority order). Replies
// {index (1-based), payload} or nil; -1 while the flag at `pause_key` (when not empty) is set.
ScriptCall ReserveCall(std::vector<std::string> queue_keys, std::string pause_key = "");

// recover.lua: declares worker `request.worker_id` dead, under the request's conditions: hands
// its in-flight payloads back (but those a peer recorded as DirtyExit failures), records its
// dirty exit when nothing was in flight, counts the running job's death (failing it at
// max_recoveries), and forgets the worker. Replies {handed back, dirty exits, already failed,
// poisoned, the running job's deaths}, or nil when a condition did not hold.
// With FailureLayout::kPerQueue the dirty exit goes to its queue's failure list, and a peer's
// DirtyExit record is looked for in each in-flight queue's own.
ScriptCall RecoverCall(const Keys& keys, const RecoverRequest& request, const WorkerStats& stats,
                       FailureLayout layout = FailureLayout::kOneList);

// reserve_many.lua: up to `max` payloads of the first non-empty of `queues` (names, priority
// order) into `owner`'s in-flight list. Replies {index (1-based), {payloads}} or nil; -1 while
// the fleet-wide pause flag is set, when `honour_pause`.
ScriptCall ReserveManyCall(const Keys& keys, absl::Span<const std::string> queues,
                           std::string_view owner, int max, bool honour_pause = false);

// finish_many.lua reads its ARGV as one group per job, each word at one of these positions
// (ARGV[job * kFinishArgsPerJob + position + 1]); the script's header comment names them too.
enum FinishArg : size_t {
  kFinishStatusKey,        // "" when the job has no status to write
  kFinishStatusJson,       // written only if the status key exists
  kFinishStatusTtlMillis,  // "" for no TTL: the status never expires
  kFinishInFlightList,     // "" when the job was not reserved in flight
  kFinishInFlightPayload,  // the payload to take out of that list
  kFinishFailed,           // "1" or "0"
  kFinishFailureJson,      // appended to the failure list when the job failed, else ""
  kFinishFailureList,      // that list: "failed", or "<queue>_failed" (kPerQueue)
  kFinishFailedQueueName,  // "<queue>_failed" to add to "failed_queues" (kPerQueue), else ""
  kFinishRetryList,        // a retry's second's list (<ns>:delayed:<at>), "" for no retry
  kFinishRetrySeconds,     // the retry item's set of seconds (<ns>:timestamps:<item>)
  kFinishRetryAt,          // the retry's second (unix seconds)
  kFinishRetryItem,        // the delayed item
  kFinishArgsPerJob,       // the width of one group: not a word
};

// One job's group of finish_many.lua's ARGV. The only place the group is built. `layout` says
// where failure records go.
std::array<std::string, kFinishArgsPerJob> FinishArgs(const Keys& keys, const JobFinish& finish,
                                                      FailureLayout layout);

// finish_many.lua: records what `write` says (jobs of one worker, checked by core), in one step.
// Replies how many jobs were recorded.
ScriptCall FinishManyCall(const Keys& keys, const FinishWrite& write, FailureLayout layout);

// finish_reserve.lua: `finish` (a FinishManyCall) and then `reserve` (a ReserveManyCall or a
// ReserveCall) in one step, and with `start` the start of the one job the reserve takes.
// Replies {the finish's reply, the reserve's reply, 1 when the start was recorded else 0}, or
// {the finish's reply, 0, the reserve's error} when only the reserve failed.
inline constexpr size_t kFinishReserveHeader = 10;  // ARGV before the finish's
ScriptCall FinishReserveCall(const Keys& keys, const ScriptCall& finish, const ScriptCall& reserve,
                             const FoldedStart* start);

// star_queues.lua: every known queue when there are at most `all_up_to`, else those holding a
// job. Replies {1 or 0 (all or not), {names}}.
ScriptCall StarQueuesCall(const Keys& keys, int64_t all_up_to);

// unreserve.lua: hands the request's jobs back to the head of their queues, last first, each
// with its status (when it has a job id) set to the request's status_json if it exists. Replies
// how many went back.
ScriptCall UnreserveCall(const Keys& keys, const UnreserveRequest& request);

// edit_failure.lua: applies `edit` to the failure list at `failed_key` (the record replaced or
// removed, the payload pushed, in one step). `mark` is a value no one else writes, for the
// removal. Replies 1, or 0 when the record was gone.
ScriptCall EditFailureCall(const Keys& keys, std::string failed_key, const FailureEdit& edit,
                           std::string mark);

// push_delayed.lua: `item` due at second `at` (Backend::PushDelayed).
ScriptCall PushDelayedCall(const Keys& keys, int64_t at, std::string_view item);

// move_delayed.lua: every copy of `item` out of the delayed structures, to the end of `queue`
// (dropped when `queue` is empty). Replies the number of copies.
ScriptCall MoveDelayedCall(const Keys& keys, std::string_view item, std::string_view queue);

// move_due.lua: the scheduler's step into `failed_key` for bad items (Backend::MoveDue).
// Replies {moved, failed, the earliest second left or nil}.
ScriptCall MoveDueCall(const Keys& keys, std::string failed_key, const MoveDueRequest& request);

// scheduler_lock.lua: both leader locks held for `ttl_seconds` by `holder`, or released when
// `ttl_seconds` is 0. Replies 1/0 (hold) or the locks released.
ScriptCall SchedulerLockCall(const Keys& keys, std::string_view holder, int64_t ttl_seconds);

// set_schedule.lua, remove_schedule.lua, enqueue_occurrence.lua: the recurring schedule verbs.
// Each replies 1 when it changed something, else 0.
ScriptCall SetScheduleCall(const Keys& keys, std::string_view name, std::string_view config,
                           int64_t since);
ScriptCall RemoveScheduleCall(const Keys& keys, std::string_view name);
ScriptCall EnqueueOccurrenceCall(const Keys& keys, const ScheduleOccurrence& occurrence);

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_SCRIPTS_H_
