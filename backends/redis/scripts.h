// The Lua scripts of the Redis backend. Each makes one worker step one round trip (EVALSHA)
// and checks every key it will touch before writing anything, so that a key of the wrong type
// (written by someone else) fails the whole step instead of half-applying it. Errors come back
// as "WRONGTYPE <key>" or "NOTINT <key>" so the caller can name the key.
#ifndef RESQUE_BACKENDS_REDIS_SCRIPTS_H_
#define RESQUE_BACKENDS_REDIS_SCRIPTS_H_

namespace resque::redis {

// Reserve without waiting: LPOP the first non-empty queue of KEYS, in order (priority).
// Returns {index (1-based into KEYS), payload}, or nil when every queue is empty.
inline constexpr char kReserveScript[] = R"lua(
for i, key in ipairs(KEYS) do
  local payload = redis.pcall('LPOP', key)
  if type(payload) == 'table' and payload.err then
    return redis.error_reply('WRONGTYPE ' .. key)
  end
  if payload then return {i, payload} end
end
return false
)lua";

// FinishJob. KEYS: 1 worker:<wid>, 2 stat:processed, 3 stat:processed:<wid>, 4 stat:failed,
// 5 stat:failed:<wid>, 6 failed, [7 job:<id>:status], [last: inflight:<wid>:queue:<q>].
// ARGV: 1 "1" when the job failed, 2 failure JSON, 3 status JSON, 4 status TTL in ms ("" keeps
// it forever), 5 "1" when KEYS[7] is the status key, [6 the in-flight payload to remove].
// The in-flight payload goes in the same step as the stats, so that a job is never both counted
// and handed back by a recovery.
inline constexpr char kFinishScript[] = R"lua(
local failed = ARGV[1] == '1'
-- Checks first, one call per key: GET fails on a key that is not a string, and INCR fails on a
-- string that is not a canonical integer.
local last = failed and 5 or 3
for i = 2, last do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' then return redis.error_reply('WRONGTYPE ' .. KEYS[i]) end
  if v and (#v > 20 or not (v == '0' or string.match(v, '^%-?[1-9]%d*$'))) then
    return redis.error_reply('NOTINT ' .. KEYS[i])
  end
end
if failed then
  local t = redis.call('TYPE', KEYS[6]).ok
  if t ~= 'none' and t ~= 'list' then return redis.error_reply('WRONGTYPE ' .. KEYS[6]) end
end
local status_key = ARGV[5] == '1' and KEYS[7] or nil
local in_flight_key = ARGV[6] and KEYS[#KEYS] or nil
if in_flight_key then
  local t = redis.call('TYPE', in_flight_key).ok
  if t ~= 'none' and t ~= 'list' then return redis.error_reply('WRONGTYPE ' .. in_flight_key) end
end
-- Then the writes, none of which can fail now.
if status_key then
  if ARGV[4] == '' then
    redis.call('SET', status_key, ARGV[3], 'XX')
  else
    redis.call('SET', status_key, ARGV[3], 'PX', ARGV[4], 'XX')
  end
end
if in_flight_key then redis.call('LREM', in_flight_key, -1, ARGV[6]) end
redis.call('INCR', KEYS[2])
redis.call('INCR', KEYS[3])
if failed then
  redis.call('INCR', KEYS[4])
  redis.call('INCR', KEYS[5])
  redis.call('RPUSH', KEYS[6], ARGV[2])
end
redis.call('DEL', KEYS[1])
return 1
)lua";

// Reliable reserve without waiting: LMOVE the head of the first non-empty queue to the tail of
// its in-flight list, and note the queue in the worker's set of in-flight queues; LMOVE checks
// both keys' types before it moves anything. KEYS: the queues, then inflight:<wid> (the set).
// ARGV: 1 the in-flight lists' prefix, then the queue names, in KEYS' order.
// Returns {index (1-based into the queues), payload}, or nil when every queue is empty.
inline constexpr char kReserveInFlightScript[] = R"lua(
local set = KEYS[#KEYS]
local t = redis.call('TYPE', set).ok
if t ~= 'none' and t ~= 'set' then return redis.error_reply('WRONGTYPE ' .. set) end
for i = 1, #KEYS - 1 do
  local dest = ARGV[1] .. ARGV[i + 1]
  local payload = redis.pcall('LMOVE', KEYS[i], dest, 'LEFT', 'RIGHT')
  if type(payload) == 'table' and payload.err then
    local dt = redis.call('TYPE', dest).ok
    if dt ~= 'none' and dt ~= 'list' then return redis.error_reply('WRONGTYPE ' .. dest) end
    return redis.error_reply('WRONGTYPE ' .. KEYS[i])
  end
  if payload then
    redis.call('SADD', set, ARGV[i + 1])
    return {i, payload}
  end
end
return false
)lua";

// RecoverWorker. KEYS: 1 workers, 2 worker:<wid>, 3 worker:<wid>:started,
// 4 stat:processed:<wid>, 5 stat:failed:<wid>, 6 workers:heartbeat, 7 inflight:<wid>, 8 queues.
// ARGV: 1 the worker id, 2 its in-flight lists' prefix, 3 the queues' prefix, 4 "1" to act only
// if the heartbeat is ARGV[5], 5 that heartbeat.
// Every type is checked before anything moves. Each in-flight list goes back to the head of its
// queue from its newest end, so its oldest payload ends up first in line. Returns how many
// payloads went back, or nil when the heartbeat did not match.
inline constexpr char kRecoverScript[] = R"lua(
local function check(key, want)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. key) end
  return nil
end
local err = check(KEYS[6], 'hash') or check(KEYS[7], 'set') or check(KEYS[1], 'set') or
            check(KEYS[8], 'set')
if err then return err end
if ARGV[4] == '1' and redis.call('HGET', KEYS[6], ARGV[1]) ~= ARGV[5] then return false end
local queues = redis.call('SMEMBERS', KEYS[7])
for _, q in ipairs(queues) do
  err = check(ARGV[2] .. q, 'list') or check(ARGV[3] .. q, 'list')
  if err then return err end
end
local moved = 0
for _, q in ipairs(queues) do
  local list, queue = ARGV[2] .. q, ARGV[3] .. q
  local n = 0
  while redis.call('LMOVE', list, queue, 'RIGHT', 'LEFT') do n = n + 1 end
  if n > 0 then redis.call('SADD', KEYS[8], q) end
  moved = moved + n
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[7])
redis.call('HDEL', KEYS[6], ARGV[1])
return moved
)lua";

// Indexes of the scripts in the connection pool's list.
enum ScriptIndex : size_t { kReserve = 0, kFinish = 1, kReserveInFlight = 2, kRecover = 3 };

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_SCRIPTS_H_
