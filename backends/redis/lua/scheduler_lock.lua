-- scheduler_lock.lua: the scheduler leader lock (Backend::HoldSchedulerLock and
-- ReleaseSchedulerLock): both peers' locks, taken together or not at all.
-- KEYS: the locks (resque-scheduler's master lock, node-resque's leader lock).
-- ARGV: 1 the holder, 2 the lock's seconds ("0": release).
-- Hold: when no key is held by another, each is set to the holder with the TTL (taken or
-- extended), replying 1; else nothing changes, replying 0. Release: each key the holder holds
-- is deleted, replying how many.

for _, key in ipairs(KEYS) do
  local err = check(key, 'string')
  if err then return err end
end
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  local released = 0
  for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then released = released + redis.call('DEL', key) end
  end
  return released
end
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then return 0 end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'EX', ttl) end
return 1
