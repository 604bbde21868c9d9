-- set_schedule.lua: one recurring schedule stored (Backend::SetSchedule), as resque-scheduler's
-- Resque.set_schedule stores it, and where a scheduler of ours counts its occurrences from.
-- KEYS: 1 persistent_schedules (hash), 2 schedules_changed (set), 3 schedule_occurrences (hash).
-- ARGV: 1 the name, 2 the config JSON, 3 the second its occurrences count from.
-- The config it already has changes nothing (its count goes on); a changed one counts from the
-- later of `since` and its last occurrence. Replies 1 when it changed.

local err = check(KEYS[1], 'hash') or check(KEYS[2], 'set') or check(KEYS[3], 'hash')
if err then return err end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
-- Never back: a caller whose clock is behind must not bring back occurrences already enqueued.
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not last or last < tonumber(ARGV[3]) then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
return 1
