-- finish_many.lua: records finished jobs of one worker (Backend::Finish).
-- KEYS: 1 worker:<wid>, 2 stat:processed, 3 stat:processed:<wid>, 4 stat:failed,
--       5 stat:failed:<wid>, 6 failed_queues (the set of per-queue failure lists),
--       7 delayed_queue_schedule.
-- ARGV: thirteen per job (kFinishArgsPerJob in scripts.h), in this order:
--       1 status key ("" for none), 2 status JSON, 3 its TTL in ms ("" for none: it never
--       expires), 4 in-flight list ("" for none), 5 the in-flight payload, 6 "1" when the job
--       failed (else "0"), 7 failure JSON ("" when there is no record), 8 the failure list it
--       goes to (failed, or <queue>_failed; "" for no record), 9 that list's name to add to
--       failed_queues ("" for none), 10 a retry's list delayed:<at> ("" for no retry), 11 the
--       retry item's set timestamps:<item>, 12 the retry's second, 13 the retry item.
-- A retry goes into the delayed jobs as push_delayed.lua adds one, instead of a record; only once
-- (a finish sent again after a lost reply delays nothing more).
-- Checks every key first, then applies everything; the counters move once per batch. The
-- in-flight payloads go in the same step as the stats, so that a job is never both counted and
-- handed back by a recovery. Returns how many jobs were recorded.

local n = #ARGV / 13
local failures = 0
local named = false
local retries = false
for j = 0, n - 1 do
  local b = j * 13
  if ARGV[b + 6] == '1' then
    failures = failures + 1
    if ARGV[b + 9] ~= '' then named = true end
  end
  if ARGV[b + 10] ~= '' then retries = true end
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
if retries then
  local err = check(KEYS[7], 'zset')
  if err then return err end
end
local seen = {}
for j = 0, n - 1 do
  local b = j * 13
  local keys = {{ARGV[b + 4], 'list'}, {ARGV[b + 8], 'list'}, {ARGV[b + 10], 'list'}}
  if ARGV[b + 10] ~= '' then keys[4] = {ARGV[b + 11], 'set'} end
  for _, k in ipairs(keys) do
    if k[1] ~= '' and not seen[k[1]] then
      local err = check(k[1], k[2])
      if err then return err end
      seen[k[1]] = true
    end
  end
end
for j = 0, n - 1 do
  local b = j * 13
  if ARGV[b + 1] ~= '' then
    if ARGV[b + 3] == '' then
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'XX')
    else
      redis.call('SET', ARGV[b + 1], ARGV[b + 2], 'PX', ARGV[b + 3], 'XX')
    end
  end
  -- The oldest match: a batch is finished in the order it was reserved.
  local taken = 1
  if ARGV[b + 4] ~= '' then taken = redis.call('LREM', ARGV[b + 4], 1, ARGV[b + 5]) end
  if ARGV[b + 10] ~= '' then
    -- A finish sent again after a lost reply finds its job gone from the in-flight list, or its
    -- retry already delayed: the retry is delayed once.
    if taken == 1 and redis.call('SISMEMBER', ARGV[b + 11], 'delayed:' .. ARGV[b + 12]) == 0 then
      redis.call('RPUSH', ARGV[b + 10], ARGV[b + 13])
      redis.call('SADD', ARGV[b + 11], 'delayed:' .. ARGV[b + 12])
      redis.call('ZADD', KEYS[7], ARGV[b + 12], ARGV[b + 12])
    end
  elseif ARGV[b + 8] ~= '' then
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
