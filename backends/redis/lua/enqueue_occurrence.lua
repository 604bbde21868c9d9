-- enqueue_occurrence.lua: one occurrence of a recurring schedule (Backend::EnqueueOccurrence).
-- KEYS: 1 schedules, 2 schedule_occurrences, then, to enqueue: 3 delayed:last_enqueued_at,
--       4 queues (the set), 5 the queue.
-- ARGV: 1 the name, 2 the occurrence's second, then, to enqueue: 3 the payload, 4 the queue's
--       name, 5 the last_enqueued_at text.
-- Only while the schedule exists and its last occurrence is before this one: records this one
-- as its last and pushes the job, in one step, so that schedulers racing for it (a leader
-- change, a restart) enqueue it once. Replies 1 when it did.

local enqueue = #KEYS == 5
local err = check(KEYS[1], 'hash') or check(KEYS[2], 'hash')
if not err and enqueue then
  err = check(KEYS[3], 'hash') or check(KEYS[4], 'set') or check(KEYS[5], 'list')
end
if err then return err end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if last and last >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if enqueue then
  redis.call('RPUSH', KEYS[5], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
end
return 1
