-- luacheck's configuration for the Redis backend's scripts (the RedisLuaScriptsPassLuacheck test
-- runs `luacheck --config backends/redis/lua/.luacheckrc backends/redis/lua`).
-- Redis runs scripts on Lua 5.1 with these globals of its own; a script may define none.
std = "lua51"
read_globals = { "redis", "KEYS", "ARGV", "cjson", "cmsgpack", "bit", "struct" }
max_line_length = 100  -- as the C++ (.clang-format)

-- check.lua is prepended to the scripts that use check() (see CMakeLists.txt): alone, it
-- defines check() for nobody, and they call a check() they do not define.
files["check.lua"] = { ignore = { "211/check" } }
files["recover.lua"] = { read_globals = { "check" } }
files["reserve_many.lua"] = { read_globals = { "check" } }
files["finish_many.lua"] = { read_globals = { "check" } }
files["unreserve.lua"] = { read_globals = { "check" } }
files["edit_failure.lua"] = { read_globals = { "check" } }
files["push_delayed.lua"] = { read_globals = { "check" } }
files["move_delayed.lua"] = { read_globals = { "check" } }
files["move_due.lua"] = { read_globals = { "check" } }
files["scheduler_lock.lua"] = { read_globals = { "check" } }
files["set_schedule.lua"] = { read_globals = { "check" } }
files["remove_schedule.lua"] = { read_globals = { "check" } }
files["enqueue_occurrence.lua"] = { read_globals = { "check" } }
-- finish_reserve.lua runs after the build defined the scripts it is composed of.
files["finish_reserve.lua"] = { read_globals = { "finish_many", "reserve_many", "reserve" } }
