-- push_delayed.lua: one delayed item added (Backend::PushDelayed), as resque-scheduler writes it.
-- KEYS: 1 the second's list (<ns>:delayed:<at>), 2 the item's set of seconds
--       (<ns>:timestamps:<item>), 3 the schedule (<ns>:delayed_queue_schedule).
-- ARGV: 1 the second (unix seconds), 2 the item.
-- The item goes to the end of the second's list, "delayed:<at>" into the item's set, and the
-- second into the schedule (member and score both the second).

local err = check(KEYS[1], 'list') or check(KEYS[2], 'set') or check(KEYS[3], 'zset')
if err then return err end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], 'delayed:' .. ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[1])
return 1
