-- reserve.lua: reserve without waiting (Backend::Reserve with no wait).
-- KEYS: the queues' keys, in priority order, then (ARGV[1] == '1') the pause-all-workers key.
-- ARGV: 1 '1' when the reserve honours the fleet-wide pause flag, else '0' or nothing.
-- LPOPs the first non-empty queue of the queues. Returns {index (1-based into KEYS), payload},
-- nil when every queue is empty, -1 (taking nothing) while the pause flag reads "true" (Ruby's
-- rule: stripped, any case); "WRONGTYPE <key>" when a queue key holds something else.

local n = #KEYS
if ARGV[1] == '1' then
  n = n - 1
  local flag = redis.pcall('GET', KEYS[#KEYS])
  if type(flag) == 'string' and string.lower(flag):match('^[%s%z]*(.-)[%s%z]*$') == 'true' then
    return -1
  end
end
for i = 1, n do
  local key = KEYS[i]
  local payload = redis.pcall('LPOP', key)
  if type(payload) == 'table' and payload.err then
    return redis.error_reply('WRONGTYPE ' .. key)
  end
  if payload then return {i, payload} end
end
return false
