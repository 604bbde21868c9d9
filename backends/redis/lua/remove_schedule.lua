-- remove_schedule.lua: one recurring schedule removed (Backend::RemoveSchedule) with its last
-- times, its name flagged changed as resque-scheduler's Resque.remove_schedule flags it.
-- KEYS: 1 schedules, 2 schedules_changed, 3 schedule_occurrences, 4 delayed:last_enqueued_at.
-- ARGV: 1 the name. Replies 1 when there was such a schedule.

local err = check(KEYS[1], 'hash') or check(KEYS[2], 'set') or check(KEYS[3], 'hash') or
  check(KEYS[4], 'hash')
if err then return err end
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return removed
