#!/usr/bin/env bash
# resque_start_redis DIR [ARGS...]: starts a redis-server of our own on a free loopback port (never
# 6379: a developer's Redis may be there), with its files in DIR and ARGS added to its command
# line, and sets redis_pid and redis_port. The caller stops it (kill "$redis_pid"). Sourced by
# bench/run.sh and scripts/install_check.sh.

resque_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

resque_start_redis() {
  local dir=$1 attempt port
  shift
  for attempt in $(seq 1 20); do
    port=$((20000 + RANDOM % 20000))
    resque_port_in_use "$port" && continue
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
      --logfile "$dir/redis.log" "$@" &
    redis_pid=$!
    for _ in $(seq 1 50); do
      # Ours answers with its own pid: another server that took the port meanwhile does not.
      if redis-cli -p "$port" info server 2>/dev/null | grep -q "^process_id:$redis_pid"; then
        # shellcheck disable=SC2034 # the caller's
        redis_port=$port
        return 0
      fi
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
  done
  echo "could not start redis-server on a free loopback port (attempt $attempt)" >&2
  return 1
}
