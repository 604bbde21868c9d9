-- finish_reserve.lua: a finish and the next reserve in one step (Backend::FinishAndReserve).
-- The build defines finish_many(), reserve_many() and reserve() before this body: each is that
-- script's body as a function of its own KEYS and ARGV (see COMPOSED in CMakeLists.txt).
-- KEYS: finish_many.lua's, then the reserve script's.
-- ARGV: 1 how many of KEYS are the finish's, 2 how many of ARGV (after these three) are the
--       finish's, 3 "many" (reserve_many.lua, into an in-flight list) or "one" (reserve.lua),
--       then the finish's ARGV, then the reserve's.
-- Replies {the finish's reply, the reserve's reply}; when the reserve fails (a queue key of the
-- wrong type) {the finish's reply, 0, the reserve's error}: the finish stands either way, as
-- it would have alone. A finish that fails (it checks every key first) writes nothing and is
-- the reply, reserving nothing.

local function slice(t, from, to)
  local out = {}
  for i = from, to do out[#out + 1] = t[i] end
  return out
end

local finish_keys = tonumber(ARGV[1])
local finish_args = tonumber(ARGV[2])
local finished = finish_many(slice(KEYS, 1, finish_keys), slice(ARGV, 4, 3 + finish_args))
if type(finished) == 'table' and finished.err then return finished end
local take = ARGV[3] == 'many' and reserve_many or reserve
local got = take(slice(KEYS, finish_keys + 1, #KEYS), slice(ARGV, 4 + finish_args, #ARGV))
if type(got) == 'table' and got.err then return {finished, 0, got.err} end
return {finished, got}
