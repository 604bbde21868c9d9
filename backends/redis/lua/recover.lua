-- recover.lua: declares a worker dead and forgets it (Backend::RecoverWorker), in one step.
-- KEYS: 1 workers, 2 worker:<wid>, 3 worker:<wid>:started, 4 stat:processed:<wid>,
--       5 stat:failed:<wid>, 6 workers:heartbeat, 7 inflight:<wid>, 8 queues,
--       9 workers:liveness, 10 workers:inflight, 11 failed, 12 stat:failed, 13 failed_queues.
-- ARGV: 1 the worker id, 2 its in-flight lists' prefix, 3 the queues' prefix,
--       4 "1" to act only if the heartbeat is ARGV[5] (else "0"), 5 that heartbeat,
--       6 "1" to act only if the worker is an orphan: declared (workers:liveness) or listed as an
--         in-flight owner, and neither registered nor beating (else "0"),
--       7 the working-on record a dirty exit was built from ("" for no dirty exit): act only if
--         the record is still exactly that, 8 the dirty exit's failure JSON, 9 its job's status
--         key ("" for none), 10 the failed status JSON, 11 its TTL in ms,
--       12 how many of the newest failure records to search for a peer's DirtyExit,
--       13 the list the dirty exit goes to (failed, or <queue>_failed), 14 that list's name to add
--         to failed_queues ("" for none), 15 "" to search failed for a peer's DirtyExit, else the
--         prefix of the per-queue failure lists ("<ns>:"): each in-flight queue's own is searched,
--       16 the running job's in-flight payload, to count ("" for none; only with a dirty exit),
--       17 the recoveries at which it is failed, 18 the failure JSON recorded then,
--       19 the counts' TTL in ms, 20 how many counts at most,
--       21 the status JSON of a tracked job handed back ("" to leave statuses alone),
--       22 the status keys' prefix ("<ns>:job:", then the id and ":status").
-- KEYS 14: recoveries (hash: SHA-1 of a payload -> how many times a worker died running it).
-- Every type is checked before anything moves. An in-flight payload that a DirtyExit record of
-- this worker among the newest failures names (same id; same class and args without one) was
-- recorded as failed by the peer that pruned the worker: it is dropped, not run again. The rest
-- of each in-flight list goes back to the head of its queue, its oldest payload first in line.
-- When nothing was in flight, the dirty exit (a job that was not in flight: a peer's, or ours
-- reserved without an owner) is recorded as failed. The running job (ARGV[16]), when in flight,
-- is counted: at ARGV[17] it is recorded as failed (ARGV[18]) instead of handed back. Returns
-- {handed back, dirty exits recorded, dropped as already failed, poisoned, the running job's
-- count}, or nil when a condition did not hold.

local wid = ARGV[1]
local err = check(KEYS[6], 'hash') or check(KEYS[7], 'set') or check(KEYS[1], 'set') or
            check(KEYS[8], 'set') or check(KEYS[9], 'hash') or check(KEYS[10], 'set') or
            check(KEYS[13], 'set')
if err then return err end
local running = ARGV[7] ~= '' and ARGV[16] or ''
if running ~= '' then
  err = check(KEYS[14], 'hash')
  if err then return err end
end
if ARGV[4] == '1' and redis.call('HGET', KEYS[6], wid) ~= ARGV[5] then return false end
if ARGV[6] == '1' and (redis.call('SISMEMBER', KEYS[1], wid) == 1 or
                       redis.call('HEXISTS', KEYS[6], wid) == 1 or
                       (redis.call('SISMEMBER', KEYS[10], wid) == 0 and
                        redis.call('HEXISTS', KEYS[9], wid) == 0)) then
  return false
end
local dirty = ARGV[7] ~= ''
if dirty then
  err = check(ARGV[13], 'list')
  if err then return err end
  local t = redis.call('TYPE', KEYS[2]).ok
  if t ~= 'string' or redis.call('GET', KEYS[2]) ~= ARGV[7] then return false end
  local v = redis.pcall('GET', KEYS[12])
  if type(v) == 'table' then return redis.error_reply('WRONGTYPE ' .. KEYS[12]) end
  if v and (#v > 20 or not (v == '0' or string.match(v, '^%-?[1-9]%d*$'))) then
    return redis.error_reply('NOTINT ' .. KEYS[12])
  end
end
local queues = redis.call('SMEMBERS', KEYS[7])
-- Where a peer that pruned this worker would have put its DirtyExit record of queue q's job.
local function failure_list(q)
  if ARGV[15] == '' then return KEYS[11] end
  return ARGV[15] .. q .. '_failed'
end
-- A queue key of the wrong type matters only to jobs that must go back to it: a worker whose
-- in-flight list of that queue is empty is still recovered (or it would stay a ghost).
for _, q in ipairs(queues) do
  err = check(ARGV[2] .. q, 'list')
  if not err and redis.call('LLEN', ARGV[2] .. q) > 0 then err = check(ARGV[3] .. q, 'list') end
  if err then return err end
end

-- JSON text of a decoded value with object keys sorted, so that equal args compare equal.
local function canon(v)
  if type(v) ~= 'table' then return cjson.encode(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  local parts = {}
  if #keys == #v then
    for i = 1, #v do parts[i] = canon(v[i]) end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i, k in ipairs(keys) do parts[i] = cjson.encode(tostring(k)) .. ':' .. canon(v[k]) end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- What names a job: its id, else its class and args. nil for what is not a job.
local function job_key(payload)
  if type(payload) ~= 'table' then return nil end
  if type(payload.id) == 'string' and payload.id ~= '' then return 'id:' .. payload.id end
  if type(payload.class) ~= 'string' then return nil end
  return 'class:' .. payload.class .. ':' .. canon(payload.args or {})
end

-- The jobs a peer recorded as DirtyExit failures of this worker (how many of each).
local failed = {}
local searched = {}
for _, q in ipairs(queues) do
  local list = failure_list(q)
  -- A failure list of another type holds no DirtyExit record: nothing to search.
  if not searched[list] and redis.call('TYPE', list).ok == 'list' then
    searched[list] = true
    for _, record in ipairs(redis.call('LRANGE', list, -tonumber(ARGV[12]), -1)) do
      if string.find(record, wid, 1, true) then
        local ok, f = pcall(cjson.decode, record)
        if ok and type(f) == 'table' and f.worker == wid and type(f.exception) == 'string' and
           string.find(f.exception, 'DirtyExit', 1, true) then
          local key = job_key(f.payload)
          if key then failed[key] = (failed[key] or 0) + 1 end
        end
      end
    end
  end
end

-- One more death of a worker running it: true when that makes it a poison job (its count is
-- then forgotten). The counts start afresh rather than grow past ARGV[20].
local count = 0
local function poisoned_by_this_death(payload)
  local field = redis.sha1hex(payload)
  if redis.call('HEXISTS', KEYS[14], field) == 0 and
     redis.call('HLEN', KEYS[14]) >= tonumber(ARGV[20]) then
    redis.call('DEL', KEYS[14])
  end
  count = redis.call('HINCRBY', KEYS[14], field, 1)
  if count >= tonumber(ARGV[17]) then
    redis.call('HDEL', KEYS[14], field)
    return true
  end
  redis.call('PEXPIRE', KEYS[14], ARGV[19])
  return false
end

local moved, dropped, poisoned = 0, 0, 0
for _, q in ipairs(queues) do
  local list, queue = ARGV[2] .. q, ARGV[3] .. q
  local payloads = redis.call('LRANGE', list, 0, -1)
  redis.call('DEL', list)
  local n = 0
  for i = #payloads, 1, -1 do
    local ok, p = pcall(cjson.decode, payloads[i])
    local key = ok and job_key(p) or nil
    local is_running = running ~= '' and payloads[i] == running
    if is_running then running = '' end
    if key and (failed[key] or 0) > 0 then
      failed[key] = failed[key] - 1
      dropped = dropped + 1
    elseif is_running and poisoned_by_this_death(payloads[i]) then
      poisoned = 1
    else
      redis.call('LPUSH', queue, payloads[i])
      if ARGV[21] ~= '' and ok and type(p) == 'table' and type(p.id) == 'string' and p.id ~= '' then
        redis.call('SET', ARGV[22] .. p.id .. ':status', ARGV[21], 'XX')
      end
      n = n + 1
    end
  end
  if n > 0 then redis.call('SADD', KEYS[8], q) end
  moved = moved + n
end

-- Records the dirty exit's job as failed with `failure`.
local function fail_running_job(failure)
  if ARGV[14] ~= '' then redis.call('SADD', KEYS[13], ARGV[14]) end
  redis.call('RPUSH', ARGV[13], failure)
  redis.call('INCR', KEYS[12])
  if ARGV[9] ~= '' then redis.call('SET', ARGV[9], ARGV[10], 'PX', ARGV[11], 'XX') end
end

local exits = 0
if poisoned == 1 then
  fail_running_job(ARGV[18])
elseif dirty and moved + dropped == 0 then
  fail_running_job(ARGV[8])
  exits = 1
end
redis.call('SREM', KEYS[1], wid)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[7])
redis.call('HDEL', KEYS[6], wid)
redis.call('HDEL', KEYS[9], wid)
redis.call('SREM', KEYS[10], wid)
return {moved, exits, dropped, poisoned, count}
