#!/usr/bin/env bash
# Runs the benchmark suite on this machine and reports it against its baselines, node-resque and
# Sidekiq.
#
#   bench/run.sh          full run (< 12 min): builds Release into build-bench/, starts its own
#                         redis-server on a free loopback port, runs bench_memory_queue,
#                         bench_redis, bench_worker, node-resque (bench/node, pinned) and Sidekiq
#                         (bench/sidekiq, Debian's ruby-sidekiq) on it, writes
#                         bench/results/latest.json, prints the markdown table of ratios,
#                         puts it in docs/benchmarks.md and draws docs/benchmarks-worker.png
#   bench/run.sh --smoke  CI: builds the benchmarks in $BUILD_DIR (default build/) and runs each
#                         binary, the node-resque scripts and the Sidekiq driver for a moment
#                         (< 1 min), so that none of them rots; no report
#
# Nothing else is installed than scripts/deps.sh gives (and gnuplot-nox for the plot). Every
# process started here is stopped on exit, whatever the exit.
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RESQUE_ROOT
bench=$RESQUE_ROOT/bench
mode=full
case "${1:-}" in
  "") ;;
  --smoke) mode=smoke ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

start=$(date +%s)
step() { echo "== [$(($(date +%s) - start))s] $*"; }

# shellcheck source=../scripts/deps.sh
. "$RESQUE_ROOT/scripts/deps.sh"
step "dependencies"
if [ "$mode" = full ]; then resque_install_deps gnuplot-nox; else resque_install_deps; fi

if [ "$mode" = full ]; then
  build_dir=${BUILD_DIR:-$RESQUE_ROOT/build-bench}
  # -O2, as every earlier run in docs/benchmarks.md, so that figures stay comparable.
  cmake_args=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG"
    -DRESQUE_BUILD_BENCH=ON)
  results=$bench/results
else
  build_dir=${BUILD_DIR:-$RESQUE_ROOT/build}
  cmake_args=(-DRESQUE_BUILD_BENCH=ON)
  results=$(mktemp -d)
fi
step "build ($build_dir)"
cmake -S "$RESQUE_ROOT" -B "$build_dir" -G Ninja "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)" --target bench_memory_queue bench_redis bench_worker bench_web \
  bench_durability resque
mkdir -p "$results"

step "node-resque (npm ci in bench/node)"
(cd "$bench/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# The measurements (and the redis-server and node they start) run at a higher priority when this
# user may raise it (root): other work on a shared machine then disturbs them less. Ours and
# node-resque's run at the same priority.
if renice -n -10 -p $$ >/dev/null 2>&1; then
  echo "   measuring at nice -10"
fi

# ---- our own redis-server, on a free loopback port, stopped on exit ----
redis_pid=""
redis_port=""
redis_dir=$(mktemp -d)
pair_pids=()  # the replicated pair of bench_durability
cleanup() {
  for pid in "$redis_pid" "${pair_pids[@]}"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$redis_dir"
  if [ "$mode" = smoke ]; then rm -rf "$results"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../scripts/redis.sh
. "$RESQUE_ROOT/scripts/redis.sh"
step "redis-server"
resque_start_redis "$redis_dir"
export RESQUE_BENCH_REDIS=redis://127.0.0.1:$redis_port
echo "   $(redis-server --version | cut -d' ' -f1-3) on $RESQUE_BENCH_REDIS (pid $redis_pid)"

# ---- the benchmarks ----
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$mode" = full ]; then
  repeat=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
  queue_time=0.2
  worker_scale=1
  node_scale=1
  sidekiq_args=()
else
  repeat=()
  queue_time=0.001
  worker_scale=0.02
  node_scale=0.02
  # One drain and a few latency jobs at two concurrencies: two Sidekiq boots, < 15 s.
  sidekiq_args=(--rounds 1 --concurrency "1,5")
fi
run_bench() {  # NAME[.ROUND] [flags...]
  local name=$1
  shift
  step "$name"
  if ! "$build_dir/bench/${name%.*}" --benchmark_out="$results/$name.json" \
    --benchmark_out_format=json "$@" >"$results/$name.txt" 2>&1; then
    tail -n 20 "$results/$name.txt" >&2
    echo "$name failed" >&2
    return 1
  fi
  echo "   benchmarks run: $(grep -c '^BM_' "$results/$name.txt" || true)"
  if grep -q 'ERROR OCCURRED' "$results/$name.txt"; then
    grep 'ERROR OCCURRED' "$results/$name.txt" >&2
    return 1
  fi
}
run_bench bench_memory_queue --benchmark_min_time="$queue_time" "${repeat[@]}"
run_bench bench_redis --benchmark_min_time="$queue_time" "${repeat[@]}"
RESQUE_BENCH_SCALE=$worker_scale run_bench bench_worker
# 10,000 queues and 100,000 failures in the full run (a minute of filling Redis first).
RESQUE_BENCH_SCALE=$worker_scale run_bench bench_web

# wait_replicas on a master and replica of their own, so that replication does not slow the
# benchmarks above.
step "a master and its replica for bench_durability"
main_redis=("$redis_pid" "$redis_port")
mkdir -p "$redis_dir/master" "$redis_dir/replica"
resque_start_redis "$redis_dir/master"
pair_pids+=("$redis_pid")
pair_master=$redis_port
resque_start_redis "$redis_dir/replica" --replicaof 127.0.0.1 "$pair_master"
pair_pids+=("$redis_pid")
for _ in $(seq 1 100); do
  redis-cli -p "$redis_port" info replication | grep -q master_link_status:up && break
  sleep 0.1
done
redis_pid=${main_redis[0]}
redis_port=${main_redis[1]}
RESQUE_BENCH_REPLICATED=redis://127.0.0.1:$pair_master run_bench bench_durability \
  --benchmark_min_time="$queue_time" "${repeat[@]}"

step "node-resque enqueue, worker throughput and latency"
node "$bench/node/measure.js" --redis "$RESQUE_BENCH_REDIS" --scale "$node_scale" \
  --out "$results/node.json"

# Sidekiq (Debian's ruby-sidekiq), at -c 1, 2, 4, 5, 8, 10, 16, 25: one `sidekiq` process per
# concurrency, started and stopped by the driver; database 12, emptied at the end.
step "Sidekiq worker throughput and latency (bench/sidekiq)"
ruby "$bench/sidekiq/measure.rb" --redis "$RESQUE_BENCH_REDIS" --scale "$node_scale" \
  "${sidekiq_args[@]}" --out "$results/sidekiq.json"

step "schedulers: due jobs moved per second, lag from due second to queued (ours, node-resque's)"
if [ "$mode" = smoke ]; then sched_args=(--jobs 2000 --lag-jobs 40); else sched_args=(); fi
node "$bench/node/scheduler.js" --redis "$RESQUE_BENCH_REDIS" --resque "$build_dir/cli/resque" \
  "${sched_args[@]}" --out "$results/scheduler.json"

# Machines are shared: a second round of the Redis worker points that the targets and the
# comparisons with node-resque and Sidekiq rest on (throughput, blocking latency), ours, then
# node-resque's, then Sidekiq's; the report keeps the better round of each point, so every side
# gets two chances at a quiet moment.
if [ "$mode" = full ]; then
  RESQUE_BENCH_SCALE=$worker_scale run_bench bench_worker.round2 \
    '--benchmark_filter=BM_WorkerThroughput/redis|BM_WorkerLatency/redis/blocking'
  step "node-resque worker throughput and latency, round 2"
  node "$bench/node/measure.js" --redis "$RESQUE_BENCH_REDIS" --scale "$node_scale" \
    --only worker --out "$results/node.round2.json"
  step "Sidekiq worker throughput and latency, round 2"
  ruby "$bench/sidekiq/measure.rb" --redis "$RESQUE_BENCH_REDIS" --scale "$node_scale" \
    --out "$results/sidekiq.round2.json"
fi

if [ "$mode" = smoke ]; then
  step "smoke run done: every benchmark ran"
  exit 0
fi

step "report"
{
  echo "nproc: $(nproc)"
  lscpu | head -n 15
  echo "kernel: $(uname -srm)"
  echo "load average (1, 5, 15 min) before the measurements: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "redis: $(redis-server --version)"
  echo "compiler: $(c++ --version | head -n 1)"
} >"$results/machine.txt"
node "$bench/report.js" --results "$results" --plot "$results/plot.gp" \
  --png "$RESQUE_ROOT/docs/benchmarks-worker.png" --doc "$RESQUE_ROOT/docs/benchmarks.md" |
  tee "$results/table.md"
gnuplot "$results/plot.gp"
step "done: $results/latest.json, $results/table.md; docs/benchmarks.md and" \
  "docs/benchmarks-worker.png updated"
