-- finish_reserve.lua: a finish and the next reserve in one step (Backend::FinishAndReserve),
-- and the start of the job it takes.
-- The build defines finish_many(), reserve_many() and reserve() before this body: each is that
-- script's body as a function of its own KEYS and ARGV (see COMPOSED in CMakeLists.txt).
-- KEYS: finish_many.lua's (KEYS[1] is the worker's working-on record), then the reserve
--       script's (its queues' keys first).
-- ARGV: 1 how many of KEYS are the finish's, 2 how many of ARGV (after the ten of this header)
--       are the finish's, 3 "many" (reserve_many.lua, into an in-flight list) or "one"
--       (reserve.lua), 4 "1" to record the start of the job taken (else "", and 5-10 are ""),
--       5 its "run_at" (a JSON string), 6 its "worker" (a JSON string), 7 the running status,
--       8 and 9 what goes before and after a job id to make its status key, 10 the prefix of
--       the queues' keys; then the finish's ARGV, then the reserve's.
-- Replies {the finish's reply, the reserve's reply, 1 when the start was recorded else 0};
-- when the reserve fails (a queue key of the wrong type) {the finish's reply, 0, the reserve's
-- error}: the finish stands either way, as it would have alone. A finish that fails (it checks
-- every key first) writes nothing and is the reply, reserving nothing.
-- The start is recorded as StartJob records it, for one job whose payload is a JSON object with
-- a "class" string: the job the worker will start (it fails any other without starting it).

local header = 10

local function slice(t, from, to)
  local out = {}
  for i = from, to do out[#out + 1] = t[i] end
  return out
end

local finish_keys = tonumber(ARGV[1])
local finish_args = tonumber(ARGV[2])
local finished = finish_many(slice(KEYS, 1, finish_keys),
                             slice(ARGV, header + 1, header + finish_args))
if type(finished) == 'table' and finished.err then return finished end
local many = ARGV[3] == 'many'
local take = many and reserve_many or reserve
local got = take(slice(KEYS, finish_keys + 1, #KEYS), slice(ARGV, header + 1 + finish_args, #ARGV))
if type(got) == 'table' and got.err then return {finished, 0, got.err} end

local started = 0
if ARGV[4] == '1' and type(got) == 'table' then
  local payload = got[2]
  if many then payload = #payload == 1 and payload[1] or nil end
  local ok, job = false, nil
  if payload then ok, job = pcall(cjson.decode, payload) end
  if ok and type(job) == 'table' and type(job.class) == 'string' and job.class ~= '' then
    local queue = string.sub(KEYS[finish_keys + got[1]], #ARGV[10] + 1)
    redis.call('SET', KEYS[1], '{"queue":' .. cjson.encode(queue) .. ',"run_at":' .. ARGV[5] ..
      ',"payload":' .. payload .. ',"worker":' .. ARGV[6] .. '}')
    if type(job.id) == 'string' and job.id ~= '' then
      redis.call('SET', ARGV[8] .. job.id .. ARGV[9], ARGV[7], 'XX')
    end
    started = 1
  end
end
return {finished, got, started}
