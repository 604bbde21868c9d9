-- move_due.lua: the scheduler's step (Backend::MoveDue): due delayed items to their queues.
-- KEYS: 1 the schedule (<ns>:delayed_queue_schedule), 2 queues (the set), 3 the failure list
--       for items that cannot move.
-- ARGV: 1 now (unix seconds), 2 the most items to move, 3 "<ns>:", 4-6 the bad item record's
--       prefix, middle and suffix (see MoveDueRequest).
-- Takes the earliest due second, its items in order, until `max` items or no second is due;
-- each item leaves its second's list and its set of seconds, and goes to the end of its queue
-- (the "queue" field), or, when it cannot, into a failure record. An emptied second leaves the
-- schedule. A second listed with no items (a peer's crash) leaves it too. Replies
-- {moved, failed, the earliest second left or false}.

local err = check(KEYS[1], 'zset') or check(KEYS[2], 'set') or check(KEYS[3], 'list')
if err then return err end
local now, max, ns = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local moved, failed = 0, 0

-- The queue an item goes to, or nil and why not.
local function queue_of(item)
  local ok, decoded = pcall(cjson.decode, item)
  if not ok or type(decoded) ~= 'table' or string.sub(item, 1, 1) ~= '{' then
    return nil, 'the delayed item is not a JSON object'
  end
  local queue = decoded['queue']
  if type(queue) ~= 'string' or queue == '' then
    return nil, 'the delayed item names no queue'
  end
  local t = redis.call('TYPE', ns .. 'queue:' .. queue).ok
  if t ~= 'none' and t ~= 'list' then
    return nil, 'the key of queue ' .. queue .. ' is not a list'
  end
  return queue, nil
end

local function fail(item, why)
  local payload = item
  local ok, decoded = pcall(cjson.decode, item)
  if not ok or type(decoded) ~= 'table' or string.sub(item, 1, 1) ~= '{' then
    payload = '{"class":"","args":[' .. cjson.encode(item) .. ']}'
  end
  redis.call('RPUSH', KEYS[3], ARGV[4] .. payload .. ARGV[5] .. cjson.encode(why) .. ARGV[6])
  failed = failed + 1
end

-- Bounded: each turn moves at least one item or drops one empty second.
for _ = 1, 2 * max + 1 do
  if moved + failed >= max then break end
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)[1]
  if not due then break end
  local key = ns .. 'delayed:' .. due
  err = check(key, 'list')
  if err then return err end
  local items = redis.call('LRANGE', key, 0, max - moved - failed - 1)
  for _, item in ipairs(items) do
    redis.call('SREM', ns .. 'timestamps:' .. item, 'delayed:' .. due)
    local queue, why = queue_of(item)
    if queue then
      redis.call('RPUSH', ns .. 'queue:' .. queue, item)
      redis.call('SADD', KEYS[2], queue)
      moved = moved + 1
    else
      fail(item, why)
    end
  end
  redis.call('LTRIM', key, #items, -1)
  if redis.call('LLEN', key) == 0 then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], due)
  end
end
local next_at = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or false
return {moved, failed, next_at}
