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
// 5 stat:failed:<wid>, 6 failed, [7 job:<id>:status]. ARGV: 1 "1" when the job failed,
// 2 failure JSON, 3 status JSON, 4 status TTL in ms ("" keeps it forever).
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
-- Then the writes, none of which can fail now.
if KEYS[7] then
  if ARGV[4] == '' then
    redis.call('SET', KEYS[7], ARGV[3], 'XX')
  else
    redis.call('SET', KEYS[7], ARGV[3], 'PX', ARGV[4], 'XX')
  end
end
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

// Indexes of the scripts in the connection pool's list.
enum ScriptIndex : size_t { kReserve = 0, kFinish = 1 };

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_SCRIPTS_H_
