-- finish_many.lua: records finished jobs of one worker (Backend::Finish).
-- KEYS: 1 worker:<wid>, 2 stat:processed, 3 stat:processed:<wid>, 4 stat:failed,
--       5 stat:failed:<wid>, 6 failed_queues (the set of per-queue failure lists).
-- ARGV: nine per job (kFinishArgsPerJob in scripts.h), in this order:
--       1 status key ("" for none), 2 status JSON, 3 its TTL in ms ("" for none: it never
--       expires), 4 in-flight list ("" for none), 5 the in-flight payload, 6 "1" when the job
--       failed (else "0"), 7 failure JSON ("" when it did not fail), 8 the failure list it goes
--       to (failed, or <queue>_failed), 9 that list's name to add to failed_queues ("" for none).
-- Checks every key first, then applies everything; the counters move once per batch. The
-- in-flight payloads go in the same step as the stats, so that a job is never both counted and
-- handed back by a recovery. Returns how many jobs were recorded.

local n = #ARGV / 9
local failures = 0
local named = false
for j = 0, n - 1 do
  local b = j * 9
  if ARGV[b + 6] == '1' then
    failures = failures + 1
    if ARGV[b + 9] ~= '' then named = true end
  end
end
local last = failures > 0 and 5 or 3
for i = 2, last do
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'table' then return redis.error_reply('WRONGTYPE ' .. KEYS[i]) end
  if v and (#v > 20 or not (v == '0' or string.match(v, '^%-?[1-9]%d*$'))) then
    return redis.error_reply('NOTINT ' .. KEYS[i])
  end
end
if named then
  local err = check(KEYS[6], 'set')
  if err then return err end
end
local seen = {}
for j = 0, n - 1 do
  local b = j * 9
  local lists = {ARGV[b + 4]}
  if ARGV[b + 6] == '1' then lists[2] = ARGV[b + 8] end
  for _, key in ipairs(lists) do
    if key ~= '' and not seen[key] then
      local err = check(key, 'list')
      if err then return err end
      seen[key] = true
    end
  end
end
for j = 0, n - 1 do
  local b = j * 9
  if ARGV[b + 1] ~= '' then
    if ARGV[b + 3] == '' then
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'XX')
    else
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'PX', ARGV[b + 3], 'XX')
    end
  end
  -- The oldest match: a batch is finished in the order it was reserved.
  if ARGV[b + 4] ~= '' then redis.call('LREM', ARGV[b + 4], 1, ARGV[b + 5]) end
  if ARGV[b + 6] == '1' then
    if ARGV[b + 9] ~= '' then redis.call('SADD', KEYS[6], ARGV[b + 9]) end
    redis.call('RPUSH', ARGV[b + 8], ARGV[b + 7])
  end
end
redis.call('INCRBY', KEYS[2], n)
redis.call('INCRBY', KEYS[3], n)
if failures > 0 then
  redis.call('INCRBY', KEYS[4], failures)
  redis.call('INCRBY', KEYS[5], failures)
end
redis.call('DEL', KEYS[1])
return n
