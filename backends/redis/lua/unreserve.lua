-- unreserve.lua: hands reserved jobs back to their queues (Backend::Unreserve).
-- KEYS: 1 queues (the set), then (optional) 2 the working-on record of a worker marked idle.
-- ARGV: 1 the in-flight lists' prefix ("" for jobs reserved without an owner, which go back
--       whatever), 2 the queues' prefix, 3 the status JSON, then triples of
--       queue name, payload and status key ("" for none), in the order they go back.
-- Types are checked first; then from the last triple to the first, a payload found (newest
-- match) in its in-flight list goes to the head of its queue and its status, if it exists,
-- becomes ARGV[3]; the worker of KEYS[2], if given, works on none of them any more. Returns how
-- many went back.

local err = check(KEYS[1], 'set')
if err then return err end
for j = 4, #ARGV, 3 do
  err = (ARGV[1] ~= '' and check(ARGV[1] .. ARGV[j], 'list')) or check(ARGV[2] .. ARGV[j], 'list')
  if err then return err end
end
if KEYS[2] then redis.call('DEL', KEYS[2]) end
local moved = 0
for j = #ARGV - 2, 4, -3 do
  local q, payload, status = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  if ARGV[1] == '' or redis.call('LREM', ARGV[1] .. q, -1, payload) == 1 then
    if status ~= '' then redis.call('SET', status, ARGV[3], 'XX') end
    redis.call('LPUSH', ARGV[2] .. q, payload)
    redis.call('SADD', KEYS[1], q)
    moved = moved + 1
  end
end
return moved
