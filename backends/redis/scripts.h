// The Lua scripts of the Redis backend. Each makes one worker step one round trip (EVALSHA)
// and checks every key it will touch before writing anything, so that a key of the wrong type
// (written by someone else) fails the whole step instead of half-applying it. Errors come back
// as "WRONGTYPE <key>" or "NOTINT <key>" so the caller can name the key.
#ifndef RESQUE_BACKENDS_REDIS_SCRIPTS_H_
#define RESQUE_BACKENDS_REDIS_SCRIPTS_H_

namespace resque::redis {

// Lua the scripts below share: check(key, want) is nil when `key` is missing or holds a `want`,
// else the "WRONGTYPE <key>" error reply. (A macro, so that it joins the scripts' literals.)
#define RESQUE_LUA_CHECK                                                                    \
  "local function check(key, want)\n"                                                       \
  "  local t = redis.call('TYPE', key).ok\n"                                                \
  "  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. key) end\n" \
  "  return nil\n"                                                                          \
  "end\n"

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

// RecoverWorker. KEYS: 1 workers, 2 worker:<wid>, 3 worker:<wid>:started,
// 4 stat:processed:<wid>, 5 stat:failed:<wid>, 6 workers:heartbeat, 7 inflight:<wid>, 8 queues.
// ARGV: 1 the worker id, 2 its in-flight lists' prefix, 3 the queues' prefix, 4 "1" to act only
// if the heartbeat is ARGV[5], 5 that heartbeat.
// Every type is checked before anything moves. Each in-flight list goes back to the head of its
// queue from its newest end, so its oldest payload ends up first in line. Returns how many
// payloads went back, or nil when the heartbeat did not match.
inline constexpr char kRecoverScript[] = RESQUE_LUA_CHECK R"lua(
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

// ReserveInFlight and ReserveInFlightMany without waiting: LPOP up to ARGV[2] payloads (Redis
// >= 6.2) from the first non-empty queue and RPUSH them to its in-flight list, noting the queue in
// the worker's set. KEYS: the queues, then inflight:<wid> (the set). ARGV: 1 the in-flight lists'
// prefix, 2 the most to take, then the queue names, in KEYS' order. Returns {index, {payloads}} or
// nil.
inline constexpr char kReserveManyScript[] = RESQUE_LUA_CHECK R"lua(
local set = KEYS[#KEYS]
local err = check(set, 'set')
if err then return err end
for i = 1, #KEYS - 1 do
  local got = redis.pcall('LPOP', KEYS[i], ARGV[2])
  if type(got) == 'table' and got.err then return redis.error_reply('WRONGTYPE ' .. KEYS[i]) end
  if got then
    local dest = ARGV[1] .. ARGV[i + 2]
    local pushed = redis.pcall('RPUSH', dest, unpack(got))
    if type(pushed) == 'table' and pushed.err then
      -- Back where they were, first in line again: nothing moved.
      for j = #got, 1, -1 do redis.call('LPUSH', KEYS[i], got[j]) end
      return redis.error_reply('WRONGTYPE ' .. dest)
    end
    redis.call('SADD', set, ARGV[i + 2])
    return {i, got}
  end
end
return false
)lua";

// FinishJob and FinishJobs. KEYS: 1 worker:<wid>, 2 stat:processed, 3 stat:processed:<wid>,
// 4 stat:failed, 5 stat:failed:<wid>, 6 failed. ARGV: seven per job: status key ("" for none),
// status JSON, its TTL in ms ("" keeps it), in-flight list ("" for none), the in-flight payload,
// "1" when the job failed, failure JSON. Checks every key first, then applies everything; the
// counters move once per batch. The in-flight payloads go in the same step as the stats, so that a
// job is never both counted and handed back by a recovery. Returns how many jobs were recorded.
inline constexpr char kFinishManyScript[] = RESQUE_LUA_CHECK R"lua(
local n = #ARGV / 7
local failures = 0
for j = 0, n - 1 do
  if ARGV[j * 7 + 6] == '1' then failures = failures + 1 end
end
local last = failures > 0 and 5 or 3
for i = 2, last do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' then return redis.error_reply('WRONGTYPE ' .. KEYS[i]) end
  if v and (#v > 20 or not (v == '0' or string.match(v, '^%-?[1-9]%d*$'))) then
    return redis.error_reply('NOTINT ' .. KEYS[i])
  end
end
if failures > 0 then
  local err = check(KEYS[6], 'list')
  if err then return err end
end
local seen = {}
for j = 0, n - 1 do
  local key = ARGV[j * 7 + 4]
  if key ~= '' and not seen[key] then
    local err = check(key, 'list')
    if err then return err end
    seen[key] = true
  end
end
for j = 0, n - 1 do
  local b = j * 7
  if ARGV[b + 1] ~= '' then
    if ARGV[b + 3] == '' then
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'XX')
    else
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'PX', ARGV[b + 3], 'XX')
    end
  end
  -- The oldest match: a batch is finished in the order it was reserved.
  if ARGV[b + 4] ~= '' then redis.call('LREM', ARGV[b + 4], 1, ARGV[b + 5]) end
  if ARGV[b + 6] == '1' then redis.call('RPUSH', KEYS[6], ARGV[b + 7]) end
end
redis.call('INCRBY', KEYS[2], n)
redis.call('INCRBY', KEYS[3], n)
if failures > 0 then
  redis.call('INCRBY', KEYS[4], failures)
  redis.call('INCRBY', KEYS[5], failures)
end
redis.call('DEL', KEYS[1])
return n
)lua";

// Unreserve. KEYS: 1 queues (the set). ARGV: 1 the in-flight lists' prefix, 2 the queues'
// prefix, 3 the status JSON, then triples of queue name, payload and status key ("" for none),
// in the order they go back. Types are checked first; then from the last triple to the first, a
// payload found (newest match) in its in-flight list goes to the head of its queue and its
// status, if it exists, becomes ARGV[3]. Returns how many went back.
inline constexpr char kUnreserveScript[] = RESQUE_LUA_CHECK R"lua(
local err = check(KEYS[1], 'set')
if err then return err end
for j = 4, #ARGV, 3 do
  err = check(ARGV[1] .. ARGV[j], 'list') or check(ARGV[2] .. ARGV[j], 'list')
  if err then return err end
end
local moved = 0
for j = #ARGV - 2, 4, -3 do
  local q, payload, status = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  if redis.call('LREM', ARGV[1] .. q, -1, payload) == 1 then
    if status ~= '' then redis.call('SET', status, ARGV[3], 'XX') end
    redis.call('LPUSH', ARGV[2] .. q, payload)
    redis.call('SADD', KEYS[1], q)
    moved = moved + 1
  end
end
return moved
)lua";

// Indexes into kScripts, the list the connection pool loads.
enum ScriptIndex : size_t {
  kReserve = 0,
  kRecover,
  kReserveMany,
  kFinishMany,
  kUnreserve,
};
inline constexpr const char* kScripts[] = {
    kReserveScript, kRecoverScript, kReserveManyScript, kFinishManyScript, kUnreserveScript,
};

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_SCRIPTS_H_
