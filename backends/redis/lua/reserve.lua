-- reserve.lua: reserve without waiting (Backend::Reserve with no wait).
-- KEYS: the queues' keys, in priority order.
-- ARGV: none.
-- LPOPs the first non-empty queue of KEYS. Returns {index (1-based into KEYS), payload}, or nil
-- when every queue is empty; "WRONGTYPE <key>" when a queue key holds something else.

for i, key in ipairs(KEYS) do
  local payload = redis.pcall('LPOP', key)
  if type(payload) == 'table' and payload.err then
    return redis.error_reply('WRONGTYPE ' .. key)
  end
  if payload then return {i, payload} end
end
return false
