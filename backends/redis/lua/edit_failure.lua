-- edit_failure.lua: one failure record retried or removed (Backend::EditFailure), all or nothing.
-- KEYS: 1 the failure list, then, when a payload is pushed: 2 queues (the set), 3 its queue.
-- ARGV: 1 the index where the record was read (0 = the oldest), 2 the record as read, 3 what it
--       becomes ("" removes it), 4 a mark no one else writes (for the removal), then, when a
--       payload is pushed: 5 its queue's name, 6 the payload.
-- The record is looked for at ARGV[1], then anywhere (LPOS: workers append and others remove
-- meanwhile, so the index may have moved); when it is gone, nothing is written and 0 returned.
-- Else it is replaced (LSET) or removed (LSET of the mark, LREM of the mark: a list has no
-- remove by index), the payload pushed, and 1 returned.

local err = check(KEYS[1], 'list')
if not err and #KEYS == 3 then err = check(KEYS[2], 'set') or check(KEYS[3], 'list') end
if err then return err end
local at = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], at) ~= ARGV[2] then
  at = redis.call('LPOS', KEYS[1], ARGV[2])
  if not at then return 0 end
end
if ARGV[3] == '' then
  redis.call('LSET', KEYS[1], at, ARGV[4])
  redis.call('LREM', KEYS[1], 1, ARGV[4])
else
  redis.call('LSET', KEYS[1], at, ARGV[3])
end
if #KEYS == 3 then
  redis.call('RPUSH', KEYS[3], ARGV[6])
  redis.call('SADD', KEYS[2], ARGV[5])
end
return 1
