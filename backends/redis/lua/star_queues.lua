-- star_queues.lua: what a worker's "*" stands for (Backend::QueuesForStar).
-- KEYS: 1 queues (the set of known queues).
-- ARGV: 1 the queues' key prefix, 2 the most queues to list all of.
-- Replies {1, every known queue} when there are at most ARGV[2], else {0, the known queues whose
-- list holds a job or whose key holds something else than a list}; unsorted. A server-side
-- look, so that the names of the empty queues never cross the network.

local count = redis.call('SCARD', KEYS[1])
if count <= tonumber(ARGV[2]) then return {1, redis.call('SMEMBERS', KEYS[1])} end
local busy = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local n = redis.pcall('LLEN', ARGV[1] .. name)
  if type(n) ~= 'number' or n > 0 then busy[#busy + 1] = name end
end
return {0, busy}
