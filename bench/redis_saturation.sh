#!/usr/bin/env bash
# Where one Redis saturates with our worker (docs/scaling.md): Redis's CPU time per job while
# `resque work` drains a prefilled queue, one job at a time and in batches.
#
#   bench/redis_saturation.sh            3 rounds of each point (about 5 minutes here), then the
#                                        markdown tables of docs/scaling.md on stdout
#   bench/redis_saturation.sh --quick    one small round of each point (< 1 minute): a check
#                                        that the script still works, not figures
#
# A 2-core shared machine cannot saturate Redis with a worker beside it, so this measures what
# one job costs Redis instead: its CPU time (utime + stime of the redis-server process, from
# /proc/<pid>/stat) before and after each drain, less the cost of starting and stopping the
# same worker on an empty queue. Redis runs commands on one thread, so 1e6 / (us per job) is the
# jobs/s at which that thread is 100% busy. INFO commandstats and INFO stats (after CONFIG
# RESETSTAT) give the commands and socket reads per job; a short drain under MONITOR gives the
# commands the worker sends, apart from the ones its Lua scripts run.
#
# Environment: RESQUE (default build/cli/resque), BENCH_REDIS (default build/bench/bench_redis;
# its enqueue points are skipped without it), JOBS (jobs per drain one at a time, default
# 100000), BATCH_JOBS (per drain in batches, default 300000), ROUNDS (default 3).
# Needs redis-server >= 6.2, redis-cli, a C++20 compiler (the no-op job library is built here,
# against this tree's headers), awk. Starts its own redis-server on a free loopback port (never
# 6379) and stops it, and any worker still running, on exit, whatever the exit.
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resque=${RESQUE:-$RESQUE_ROOT/build/cli/resque}
bench_redis=${BENCH_REDIS:-$RESQUE_ROOT/build/bench/bench_redis}
jobs=${JOBS:-100000}
batch_jobs=${BATCH_JOBS:-300000}
rounds=${ROUNDS:-3}
sample_jobs=3200  # the MONITOR drains: 50 batches of 64
bench_time=2      # seconds of each bench_redis enqueue point
case "${1:-}" in
  "") ;;
  --quick) jobs=5000 batch_jobs=20000 rounds=1 sample_jobs=640 bench_time=0.2 ;;
  *) echo "usage: bench/redis_saturation.sh [--quick]" >&2; exit 2 ;;
esac

[ -x "$resque" ] || { echo "no resque binary at $resque (build it, or set RESQUE)" >&2; exit 1; }
for tool in redis-server redis-cli c++ awk; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

log() { echo "== $*" >&2; }

# At a higher priority when this user may raise it (root), as bench/run.sh: other work on a
# shared machine then disturbs the measurement less. Redis and the workers inherit it.
if renice -n -10 -p $$ >/dev/null 2>&1; then log "measuring at nice -10"; fi

# ---- processes of our own, stopped on exit ----
work_dir=$(mktemp -d)
redis_pid=""
redis_port=""
worker_pid=""
monitor_pid=""
cleanup() {
  local pid
  for pid in "$worker_pid" "$monitor_pid" "$redis_pid"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../scripts/redis.sh
. "$RESQUE_ROOT/scripts/redis.sh"
resque_start_redis "$work_dir"
url=redis://127.0.0.1:$redis_port
cli() { redis-cli -p "$redis_port" "$@"; }
log "$(redis-server --version | cut -d' ' -f1-3) on $url (pid $redis_pid)"

# ---- the no-op job class (NoOp), loaded by `resque work --load` ----
cat >"$work_dir/noop.cc" <<'EOF'
#include "core/job_registry.h"

namespace {
class NoOp : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override { return absl::OkStatus(); }
};
}  // namespace
RESQUE_REGISTER_JOB(NoOp, "NoOp");
EOF
c++ -std=c++20 -O2 -shared -fPIC -I"$RESQUE_ROOT" -o "$work_dir/libnoop.so" "$work_dir/noop.cc"

# ---- measuring ----
ticks_per_second=$(getconf CLK_TCK)
redis_ticks() { awk '{print $14 + $15}' "/proc/$redis_pid/stat"; }
# The same CPU time as Redis reports it (getrusage), in microseconds: finer than a tick, for the
# empty-queue runs, which take less than one. Prints "total sys".
redis_cpu_us() {
  cli info cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_sys" {s = $2} $1 == "used_cpu_user" {u = $2}
    END {printf "%d %d\n", (s + u) * 1e6, s * 1e6}'
}
now_ns() { date +%s%N; }
# FIELD of INFO stats (after CONFIG RESETSTAT: since then).
info_stat() { cli info stats | tr -d '\r' | awk -F: -v f="$1" '$1 == f {print $2}'; }
# usec=... of one command in INFO commandstats (0 when it did not run).
command_usec() {
  cli info commandstats | tr -d '\r' |
    awk -F'[:,=]' -v c="cmdstat_$1" '
      $1 == c {for (i = 2; i < NF; i++) if ($i == "usec") u = $(i + 1)}
      END {print u + 0}'
}

# Pushes N payloads of class NoOp to resque:queue:bench as our enqueue writes them (class, args,
# id, queue_time; each id distinct), 1,000 per RPUSH, and lists the queue in resque:queues.
prefill() {
  awk -v n="$1" 'function bulk(s) { printf "$%d\r\n%s\r\n", length(s), s }
    BEGIN {
      item = "{\"class\":\"NoOp\",\"args\":[],\"id\":\"%032x\",\"queue_time\":1764000000.123456}"
      for (i = 0; i < n; i += 1000) {
        m = n - i < 1000 ? n - i : 1000
        printf "*%d\r\n", m + 2; bulk("RPUSH"); bulk("resque:queue:bench")
        for (j = 0; j < m; j++) bulk(sprintf(item, i + j))
      }
      printf "*3\r\n"; bulk("SADD"); bulk("resque:queues"); bulk("bench")
    }' | cli --pipe >/dev/null
}

# Runs `resque work` with ARGS to its end (bounded by `timeout`), in the background so that the
# exit trap can stop it.
work() {
  timeout 900 "$resque" work --redis "$url" --load "$work_dir/libnoop.so" "$@" \
    >>"$work_dir/worker.log" 2>&1 &
  worker_pid=$!
  local rc=0
  wait "$worker_pid" || rc=$?
  worker_pid=""
  if [ "$rc" != 0 ]; then
    tail -n 20 "$work_dir/worker.log" >&2
    echo "resque work $* exited $rc" >&2
    exit 1
  fi
}

# One drain: prints "jobs wall_s redis_cpu_s redis_cpu_info_s commands reads script_usec
# blmove_usec redis_sys_s": redis_cpu_s from /proc (in ticks), redis_cpu_info_s and redis_sys_s
# (the kernel's part) from INFO cpu; the commands counted with those the scripts run, as INFO
# counts them.
drain() {  # JOBS ARGS...
  local n=$1 t0 w0 t1 w1 u0 u1
  shift
  cli flushall >/dev/null
  [ "$n" = 0 ] || prefill "$n"
  cli config resetstat >/dev/null
  u0=$(redis_cpu_us)
  t0=$(redis_ticks)
  w0=$(now_ns)
  work "$@"
  w1=$(now_ns)
  t1=$(redis_ticks)
  u1=$(redis_cpu_us)
  local left processed
  left=$(cli llen resque:queue:bench)
  processed=$(cli get resque:stat:processed)
  if [ "$left" != 0 ] || [ "${processed:-0}" != "$n" ]; then
    echo "drain of $n jobs ($*) left $left in the queue, processed ${processed:-0}" >&2
    exit 1
  fi
  echo "$n $w0 $w1 $t0 $t1 $u0 $u1 $(info_stat total_commands_processed)" \
    "$(info_stat total_reads_processed) $(command_usec evalsha) $(command_usec blmove)" |
    awk -v hz="$ticks_per_second" '{
      printf "%d %.6f %.2f %.6f %d %d %d %d %.6f\n", $1, ($3 - $2) / 1e9, ($5 - $4) / hz,
        ($8 - $6) / 1e6, $10, $11, $12, $13, ($9 - $7) / 1e6 }'
}

median() {
  sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
spread() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.1f-%.1f\n", lo, hi}'; }

# ---- the points ----
# name | concurrency | jobs | resque work flags (the queue list first)
five=e1,e2,e3,e4,bench  # four empty queues ahead of the one that holds the jobs
points=(
  "one at a time, polling, 1 slot|1|$jobs|-q bench --burst --batch 1 -c 1"
  "one at a time, polling, 8 slots|8|$jobs|-q bench --burst --batch 1 -c 8"
  "one at a time, blocking, 1 slot|1|$jobs|-q bench --blocking --max-jobs $jobs --batch 1 -c 1"
  "one at a time, blocking, 8 slots|8|$jobs|-q bench --blocking --max-jobs $jobs --batch 1 -c 8"
  "one at a time, polling, 1 slot, 5 queues (4 empty first)|1|$jobs|-q $five --burst --batch 1 -c 1"
  "--batch 64, 1 slot|1|$batch_jobs|-q bench --burst --batch 64 -c 1"
  "--batch 64, 8 slots|8|$batch_jobs|-q bench --burst --batch 64 -c 8"
)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
raw=$work_dir/raw.txt
: >"$raw"
for round in $(seq 1 "$rounds"); do
  # The fixed cost: a worker that starts (registers, loads its scripts on each connection),
  # finds the queue empty and stops.
  for c in 1 8; do
    log "round $round: empty queue, $c slot(s)"
    echo "idle|$c|$(drain 0 -q bench --burst --batch 1 -c "$c")" >>"$raw"
  done
  for p in "${points[@]}"; do
    IFS='|' read -r name c n flags <<<"$p"
    log "round $round: $name ($n jobs)"
    # shellcheck disable=SC2086 # the flags are words
    echo "$name|$c|$(drain "$n" $flags)" >>"$raw"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Median over the rounds of FIELD (awk expression over the drain's fields, the idle drain's
# CPU as `idle`) for point NAME.
idle_cpu() {
  awk -F'|' -v c="$1" '$1 == "idle" && $2 == c {split($3, f, " "); print f[4]}' "$raw" | median
}
point_median() {  # NAME EXPR
  local c
  c=$(awk -F'|' -v n="$1" '$1 == n {print $2; exit}' "$raw")
  awk -F'|' -v n="$1" -v idle="$(idle_cpu "$c")" '$1 == n {
      split($3, f, " "); jobs = f[1]; wall = f[2]; cpu = f[3]; info = f[4]; cmds = f[5]
      reads = f[6]; script = f[7]; blmove = f[8]; sys = f[9]; print '"$2"' }' "$raw" |
    "${3:-median}"
}

# The largest gap, over the drains, between the CPU time of /proc and that of INFO cpu.
point_max_gap() {
  awk -F'|' '$1 != "idle" {split($3, f, " "); d = f[3] - f[4]; d = d < 0 ? -d : d
    if (d > m) m = d} END {printf "%.0f ms\n", m * 1000}' "$raw"
}

# ---- commands per job, from MONITOR ----
# Drains SAMPLE jobs (and an empty queue, subtracted) with MONITOR on: per job, the commands the
# worker sends and the ones its scripts run, by name.
monitor_counts() {  # JOBS ARGS... -> "NAME sent|script COUNT" lines
  local n=$1 out=$work_dir/monitor.txt
  shift
  cli flushall >/dev/null
  [ "$n" = 0 ] || prefill "$n"
  # redis-cli itself, not through cli(): the pid to stop must be its own.
  redis-cli -p "$redis_port" monitor >"$out" 2>/dev/null &
  monitor_pid=$!
  for _ in $(seq 1 50); do grep -q '^OK' "$out" 2>/dev/null && break; sleep 0.1; done
  work "$@"
  cli echo saturation-monitor-end >/dev/null
  local seen=no
  for _ in $(seq 1 100); do
    if grep -q 'saturation-monitor-end' "$out"; then seen=yes; break; fi
    sleep 0.1
  done
  kill "$monitor_pid" 2>/dev/null || true
  wait "$monitor_pid" 2>/dev/null || true
  monitor_pid=""
  [ "$seen" = yes ] || { echo "MONITOR missed the end of the drain" >&2; exit 1; }
  awk '$2 ~ /^\[/ {
         cmd = toupper($4); gsub(/"/, "", cmd)
         if (cmd == "ECHO") next
         from = ($3 == "lua]") ? "script" : "sent"; count[from " " cmd]++ }
       END { for (k in count) print k, count[k] }' "$out"
}
per_job_counts() {  # JOBS ARGS... -> "sent|script CMD per_job" lines, the empty drain taken off
  local n=$1
  shift
  monitor_counts 0 -q bench --burst --batch 1 -c 1 >"$work_dir/m0.txt"
  monitor_counts "$n" "$@" >"$work_dir/m1.txt"
  awk -v n="$n" 'NR == FNR {idle[$1 " " $2] = $3; next}
       {v = ($3 - idle[$1 " " $2]) / n; if (v > 0.004) printf "%s %s %.2f\n", $1, $2, v}' \
    "$work_dir/m0.txt" "$work_dir/m1.txt" | sort -k1,1r -k3,3gr
}

samples=(
  "one at a time, polling, 1 slot|-q bench --burst --batch 1 -c 1"
  "one at a time, blocking, 1 slot|-q bench --blocking --max-jobs $sample_jobs --batch 1 -c 1"
  "--batch 64, 1 slot|-q bench --burst --batch 64 -c 1"
)
monitor_txt=$work_dir/monitor_table.txt
: >"$monitor_txt"
for s in "${samples[@]}"; do
  IFS='|' read -r name flags <<<"$s"
  log "MONITOR: $name ($sample_jobs jobs)"
  # shellcheck disable=SC2086 # the flags are words
  per_job_counts "$sample_jobs" $flags >"$work_dir/counts.txt"
  sent=$(awk '$1 == "sent" {printf "%s%s %s", sep, $2, $3; sep = ", "}' "$work_dir/counts.txt")
  script=$(awk '$1 == "script" {printf "%s%s %s", sep, $2, $3; sep = ", "}' "$work_dir/counts.txt")
  total_sent=$(awk '$1 == "sent" {t += $3} END {printf "%.2f", t}' "$work_dir/counts.txt")
  total_script=$(awk '$1 == "script" {t += $3} END {printf "%.2f", t}' "$work_dir/counts.txt")
  echo "| $name | $total_sent: $sent | $total_script: ${script:--} |" >>"$monitor_txt"
done

# ---- enqueue, for comparison: bench_redis's Push and PushMany against the same server ----
enqueue_txt=$work_dir/enqueue_table.txt
: >"$enqueue_txt"
if [ -x "$bench_redis" ]; then
  for spec in "Push, one per call and round trip|^BM_BackendPush/|1" \
              "PushMany, 100 per call|^BM_BackendPushMany/100/|100"; do
    IFS='|' read -r name filter depth <<<"$spec"
    : >"$work_dir/enqueue_raw.txt"
    for round in $(seq 1 "$rounds"); do
      log "round $round: enqueue, $name"
      cli flushall >/dev/null
      cli config resetstat >/dev/null
      t0=$(redis_ticks)
      RESQUE_BENCH_REDIS=$url timeout 300 "$bench_redis" --benchmark_filter="$filter" \
        --benchmark_min_time="$bench_time" >>"$work_dir/bench_redis.log" 2>&1
      t1=$(redis_ticks)
      pushes=$(cli info commandstats | tr -d '\r' |
        awk -F'[:,=]' '$1 == "cmdstat_rpush" {p = $3} END {print p + 0}')
      [ "$pushes" -gt 0 ] || { echo "bench_redis $filter pushed nothing" >&2; exit 1; }
      echo "$((t1 - t0)) $pushes $depth" |
        awk -v hz="$ticks_per_second" '{printf "%.3f\n", $1 / hz * 1e6 / ($2 * $3)}' \
        >>"$work_dir/enqueue_raw.txt"
    done
    us=$(median <"$work_dir/enqueue_raw.txt")
    echo "| $name | $(printf '%.2f' "$us") | $(awk -v u="$us" 'BEGIN {printf "%.0f", 1e6 / u}') |" \
      >>"$enqueue_txt"
  done
else
  log "no $bench_redis: enqueue points skipped"
fi

# ---- the report ----
echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/redis_saturation.sh${1:+ $1}\`" \
  "(JOBS=$jobs BATCH_JOBS=$batch_jobs ROUNDS=$rounds), on:"
echo
echo '```'
echo "nproc: $(nproc)"
echo "cpu: $(awk -F': ' '/^model name/ {n = $2} /^cpu family/ {f = $2} /^model\t/ {m = $2}
  END {printf "%s (family %s, model %s)", n, f, m}' /proc/cpuinfo)"
echo "kernel: $(uname -sr)"
echo "redis: $(redis-server --version)"
echo "resque: $("$resque" --version 2>&1 | head -n 1) ($resque)"
cache=$(dirname "$resque")/../CMakeCache.txt
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$cache" 2>/dev/null || true)
# An empty cache entry is the project's default (CMakeLists.txt): RelWithDebInfo, -O2 -g.
echo "resque build type: ${build_type:-RelWithDebInfo, the default of CMakeLists.txt}"
echo "load average (1, 5, 15 min) before: $load_before, after: $load_after"
echo '```'
echo
echo "Drains (median of $rounds, and the range; Redis CPU from /proc/<pid>/stat, less the"
echo "empty-queue run of the same slots; INFO cpu agrees within $(point_max_gap)):"
echo
echo "| point | jobs | worker jobs/s | Redis busy | Redis CPU per job (range) | of it in the kernel | one Redis core full at | commands per job (with the scripts') | socket reads per job | in scripts per job |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for p in "${points[@]}"; do
  IFS='|' read -r name c n _ <<<"$p"
  rate=$(point_median "$name" 'jobs / wall')
  busy=$(point_median "$name" 'cpu / wall * 100')
  us=$(point_median "$name" '(cpu - idle) / jobs * 1e6')
  range=$(point_median "$name" '(cpu - idle) / jobs * 1e6' spread)
  kernel=$(point_median "$name" 'sys / info * 100')
  cmds=$(point_median "$name" 'cmds / jobs')
  reads=$(point_median "$name" 'reads / jobs')
  script=$(point_median "$name" '(script + blmove) / jobs')
  awk -v name="$name" -v n="$n" -v rate="$rate" -v busy="$busy" -v us="$us" -v range="$range" \
    -v kernel="$kernel" -v cmds="$cmds" -v reads="$reads" -v script="$script" 'BEGIN {
      printf "| %s | %d | %.1f k/s | %.0f%% | %.1f us (%s) | %.0f%% | %.1f k/s | %.2f | %.2f | %.1f us |\n",
        name, n, rate / 1000, busy, us, range, kernel, 1000 / us, cmds, reads, script }'
done
echo
printf '%s\n' "Empty-queue run (start, register, load the scripts, stop), Redis CPU:" \
  "$(idle_cpu 1 | awk '{printf "%.1f ms", $1 * 1000}') at 1 slot," \
  "$(idle_cpu 8 | awk '{printf "%.1f ms", $1 * 1000}') at 8 slots." | paste -sd' '
echo
echo "Commands per job under MONITOR ($sample_jobs jobs, an empty-queue run taken off):"
echo
echo "| point | sent by the worker | run inside its scripts |"
echo "|---|---|---|"
cat "$monitor_txt"
if [ -s "$enqueue_txt" ]; then
  echo
  echo "Enqueue, for comparison (bench_redis, ${bench_time}s per point, median of $rounds):"
  echo
  echo "| enqueue | Redis CPU per job (us) | one Redis core full at (jobs/s) |"
  echo "|---|---|---|"
  cat "$enqueue_txt"
fi
echo
echo "Raw drains (name|slots|jobs wall_s redis_cpu_s redis_cpu_info_s commands reads" \
  "script_usec blmove_usec redis_sys_s):"
echo
echo '```'
cat "$raw"
echo '```'
