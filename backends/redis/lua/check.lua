-- check.lua: the helper the writing scripts share. check(key, want) is nil when `key` is missing
-- or holds a `want` (a TYPE name), else the "WRONGTYPE <key>" error reply for the caller to
-- return before anything is written.
--
-- Not a script of its own: a Redis script cannot require() a file, define a global, or call a
-- function another script defined (Redis 7's FUNCTION LOAD could share one, but Redis 6.2 is
-- served too), so the build prepends this file to each script that lists it in CMakeLists.txt.
-- The build drops this header (the leading "--" lines) as it does every script's.
local function check(key, want)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. key) end
  return nil
end
