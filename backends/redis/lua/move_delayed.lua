-- move_delayed.lua: every copy of one delayed item out of the delayed structures, pushed to a
-- queue (Backend::MoveDelayed) or dropped (Backend::RemoveDelayed).
-- KEYS: 1 the item's set of seconds (<ns>:timestamps:<item>), 2 the schedule, then, to push:
--       3 queues (the set), 4 the queue.
-- ARGV: 1 the item, 2 "<ns>:", then, to push: 3 the queue's name.
-- Each second the set names loses every copy of the item, and leaves the schedule once empty;
-- the set goes. Replies how many copies there were.

local err = check(KEYS[1], 'set') or check(KEYS[2], 'zset')
if not err and #KEYS == 4 then err = check(KEYS[3], 'set') or check(KEYS[4], 'list') end
if err then return err end
local members = redis.call('SMEMBERS', KEYS[1])
for _, member in ipairs(members) do
  err = check(ARGV[2] .. member, 'list')
  if err then return err end
end
local count = 0
for _, member in ipairs(members) do
  local key = ARGV[2] .. member
  count = count + redis.call('LREM', key, 0, ARGV[1])
  if redis.call('LLEN', key) == 0 then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], string.sub(member, 9))
  end
end
redis.call('DEL', KEYS[1])
if #KEYS == 4 then
  for _ = 1, count do redis.call('RPUSH', KEYS[4], ARGV[1]) end
  if count > 0 then redis.call('SADD', KEYS[3], ARGV[3]) end
end
return count
