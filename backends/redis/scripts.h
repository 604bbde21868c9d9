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
local function check_counter(key)
  local t = redis.call('TYPE', key).ok
  if t == 'none' then return nil end
  if t ~= 'string' then return redis.error_reply('WRONGTYPE ' .. key) end
  local v = redis.call('GET', key)
  if #v > 20 or not string.match(v, '^%-?%d+$') then
    return redis.error_reply('NOTINT ' .. key)
  end
  return nil
end
local last = failed and 5 or 3
for i = 2, last do
  local err = check_counter(KEYS[i])
  if err then return err end
end
if failed then
  local t = redis.call('TYPE', KEYS[6]).ok
  if t ~= 'none' and t ~= 'list' then return redis.error_reply('WRONGTYPE ' .. KEYS[6]) end
end
if KEYS[7] and redis.call('EXISTS', KEYS[7]) == 1 then
  if ARGV[4] == '' then
    redis.call('SET', KEYS[7], ARGV[3])
  else
    redis.call('SET', KEYS[7], ARGV[3], 'PX', ARGV[4])
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
