-- reserve_many.lua: reliable reserve without waiting (Backend::Reserve with an owner).
-- KEYS: the queues' keys in priority order, then inflight:<wid> (the worker's set of queues),
--       then, when the reserve honours the fleet-wide pause flag, the pause-all-workers key.
-- ARGV: 1 the in-flight lists' prefix, 2 the most payloads to take, then the queue names, in
--       KEYS' order.
-- LPOPs up to ARGV[2] payloads (Redis >= 6.2) from the first non-empty queue and RPUSHes them to
-- its in-flight list, noting the queue in the worker's set. Returns {index, {payloads}} or nil;
-- -1, taking nothing, while the pause flag reads "true" (Ruby's rule: stripped, any case).

local queues = #ARGV - 2
local set = KEYS[queues + 1]
if #KEYS > queues + 1 then
  local flag = redis.pcall('GET', KEYS[#KEYS])
  if type(flag) == 'string' and string.lower(flag):match('^[%s%z]*(.-)[%s%z]*$') == 'true' then
    return -1
  end
end
local err = check(set, 'set')
if err then return err end
for i = 1, queues do
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
