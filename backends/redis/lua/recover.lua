-- recover.lua: hands a dead worker's in-flight jobs back and forgets it (Backend::RecoverWorker).
-- KEYS: 1 workers, 2 worker:<wid>, 3 worker:<wid>:started, 4 stat:processed:<wid>,
--       5 stat:failed:<wid>, 6 workers:heartbeat, 7 inflight:<wid>, 8 queues.
-- ARGV: 1 the worker id, 2 its in-flight lists' prefix, 3 the queues' prefix,
--       4 "1" to act only if the heartbeat is ARGV[5] (else "0"), 5 that heartbeat.
-- Every type is checked before anything moves. Each in-flight list goes back to the head of its
-- queue from its newest end, so its oldest payload ends up first in line. Returns how many
-- payloads went back, or nil when the heartbeat did not match.

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
