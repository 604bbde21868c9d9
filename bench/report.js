// Reads what bench/run.sh measured (Google Benchmark JSON of each binary, node-resque's and
// Sidekiq's JSON, the latter optional), writes latest.json, prints the markdown tables of ratios and of the worker sweep, and writes
// the gnuplot script of docs/benchmarks-worker.png. With --doc, also replaces the block between
// the "bench/run.sh: results" markers of that markdown file with the machine and the tables.
// No dependencies beyond node itself.
//
//   node bench/report.js --results bench/results --plot plot.gp --png docs/benchmarks-worker.png \
//       [--doc docs/benchmarks.md]
"use strict";
const fs = require("fs");
const path = require("path");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const dir = args.results;
const load = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const memory = load("bench_memory_queue.json");
const redis = load("bench_redis.json");
const worker = load("bench_worker.json");
const node = load("node.json");
// The second round of worker throughput (bench/run.sh): each point keeps its best round.
const loadIf = (name) => (fs.existsSync(path.join(dir, name)) ? load(name) : undefined);
const worker2 = loadIf("bench_worker.round2.json");
const node2 = loadIf("node.round2.json");
for (const w of node.worker) {
  const again = node2?.worker.find((x) => x.concurrency === w.concurrency);
  w.rounds = [w.jobs_per_second, ...(again ? [again.jobs_per_second] : [])];
  w.jobs_per_second = Math.max(...w.rounds);
  if (again?.latency && again.latency.p50_us < w.latency.p50_us) w.latency = again.latency;
}
node.best_jobs_per_second = Math.max(...node.worker.map((w) => w.jobs_per_second));
// Sidekiq (bench/sidekiq/measure.rb): each round is already the median of its drains; the same
// better-of-two as node-resque's. Absent from results of before it was measured.
const sidekiq = loadIf("sidekiq.json");
const sidekiq2 = loadIf("sidekiq.round2.json");
for (const w of sidekiq?.worker ?? []) {
  const again = sidekiq2?.worker.find((x) => x.concurrency === w.concurrency);
  w.runs = [w.jobs_per_second, ...(again ? [again.jobs_per_second] : [])];
  w.jobs_per_second = Math.max(...w.runs);
  if (again?.latency && again.latency.p50_us < w.latency.p50_us) w.latency = again.latency;
}
if (sidekiq) sidekiq.best_jobs_per_second = Math.max(...sidekiq.worker.map((w) => w.jobs_per_second));
const sidekiqAt = (c) => sidekiq?.worker.find((w) => w.concurrency === c);
// Our slots against Sidekiq's -c: its customary settings (5; 10, its default; 25, its default
// before 6.0) at or above our powers of two, so that it never has fewer threads than we slots.
const SIDEKIQ_MATCH = [[1, 1], [4, 5], [8, 10], [16, 25]];

// The median of repetitions when there are some, else the single run; undefined when the
// benchmark is missing (its backend not built) or failed.
function find(doc, name) {
  // Google Benchmark appends its options to the name ("/iterations:1/manual_time", ...); any
  // other suffix is another point ("/batch:64").
  const option = /^(iterations|min_time|repeats|threads|manual_time|real_time|process_time)(:|$)/;
  const same = (runName) =>
    runName === name ||
    (runName.startsWith(name + "/") &&
      runName.slice(name.length + 1).split("/").every((segment) => option.test(segment)));
  const rows = doc.benchmarks.filter((b) => same(b.run_name) && !b.error_occurred);
  return rows.find((b) => b.aggregate_name === "median") || rows.find((b) => b.run_type === "iteration");
}
const rate = (doc, name) => find(doc, name)?.items_per_second;
const counter = (doc, name, key) => find(doc, name)?.[key];

const CONCURRENCIES = [1, 2, 4, 8, 16];
// The reserve modes, one job at a time, then the same with batches of up to 64 (WorkerOptions::batch).
const BASE_MODES = ["blocking", "poll_1ms", "poll_10ms", "poll_100ms"];
const MODES = [...BASE_MODES, ...BASE_MODES.map((m) => `${m}/batch:64`)];
const pointName = (backend, mode, c) => {
  const [m, batch] = mode.split("/");
  return `${backend}/${m}/c:${c}${batch ? "/" + batch : ""}`;
};
const sweep = {};
for (const backend of ["memory", "redis"]) {
  sweep[backend] = {};
  for (const mode of MODES) {
    sweep[backend][mode] = CONCURRENCIES.map((c) => {
      const point = pointName(backend, mode, c);
      // The round with the lower p50, when there are two.
      const lat = [worker, worker2]
        .map((doc) => doc && find(doc, `BM_WorkerLatency/${point}`))
        .filter((v) => v !== undefined)
        .reduce((a, b) => (a === undefined || b.p50_us < a.p50_us ? b : a), undefined);
      const rounds = [worker, worker2]
        .map((doc) => doc && rate(doc, `BM_WorkerThroughput/${point}`))
        .filter((v) => v !== undefined);
      return {
        concurrency: c,
        jobs_per_second: rounds.length ? Math.max(...rounds) : undefined,
        throughput_rounds: rounds,
        p50_us: lat?.p50_us,
        p99_us: lat?.p99_us,
        p999_us: lat?.p999_us,
      };
    });
  }
}
const best = (points, key) => Math.max(...points.map((p) => p[key] ?? 0));
const ourBestRedis =
  Math.max(...MODES.map((m) => best(sweep.redis[m], "jobs_per_second"))) || undefined;
const ourBestRedisSingle =
  Math.max(...BASE_MODES.map((m) => best(sweep.redis[m], "jobs_per_second"))) || undefined;
const nodeBestLatency = node.worker.reduce((a, w) => (w.latency.p50_us < a.latency.p50_us ? w : a));
const sidekiqBestLatency = sidekiq?.worker.reduce((a, w) => (w.latency.p50_us < a.latency.p50_us ? w : a));
const blocking = sweep.redis.blocking.filter((p) => p.p50_us !== undefined);
const worst = (key) => (blocking.length ? Math.max(...blocking.map((p) => p[key])) : undefined);
const bestOf = (key) => (blocking.length ? Math.min(...blocking.map((p) => p[key])) : undefined);

// [what, ours, baseline, baseline name, target ratio (ours/baseline >= target), unit]
const rows = [
  ["memory push+pop, 1 thread", rate(memory, "BM_PushPop<MemoryBackend>"), rate(memory, "BM_PushPop<MutexDeque>"), "mutex+deque", 2],
  ["memory push+pop, 1 thread", rate(memory, "BM_PushPop<MemoryBackend>"), rate(memory, "BM_PushPop<RawMoodycamel>"), "raw moodycamel", 0.8],
  ["memory push, 1 thread", rate(memory, "BM_Push<MemoryBackend>"), rate(memory, "BM_Push<MutexDeque>"), "mutex+deque"],
  ["memory pop, 1 thread", rate(memory, "BM_Pop<MemoryBackend>"), rate(memory, "BM_Pop<MutexDeque>"), "mutex+deque"],
  ["memory push+pop, 2 producers x 2 consumers", rate(memory, "BM_PushPop2x2<MemoryBackend>"), rate(memory, "BM_PushPop2x2<MutexDeque>"), "mutex+deque", 2],
  ["memory push+pop, 2 producers x 2 consumers", rate(memory, "BM_PushPop2x2<MemoryBackend>"), rate(memory, "BM_PushPop2x2<RawMoodycamel>"), "raw moodycamel"],
  ["redis Push, one at a time", rate(redis, "BM_BackendPush"), rate(redis, "BM_RawRpushPipelined/1"), "raw RPUSH, depth 1"],
  ["redis PushMany, batch of 10", rate(redis, "BM_BackendPushMany/10"), rate(redis, "BM_RawRpushPipelined/10"), "raw RPUSH pipelined, depth 10", 0.8],
  ["redis PushMany, batch of 100", rate(redis, "BM_BackendPushMany/100"), rate(redis, "BM_RawRpushPipelined/100"), "raw RPUSH pipelined, depth 100", 0.8],
  ["redis PushMany, batch of 100", rate(redis, "BM_BackendPushMany/100"), rate(redis, "BM_RawRpushVariadic/100"), "raw RPUSH of 100 values"],
  ["redis Reserve", rate(redis, "BM_BackendReserve/finish:0"), rate(redis, "BM_RawLpop"), "raw LPOP"],
  ["redis Reserve + FinishJob", rate(redis, "BM_BackendReserve/finish:1"), rate(redis, "BM_RawLpop"), "raw LPOP"],
  ["redis Reserve + FinishJob", rate(redis, "BM_BackendReserve/finish:1"), rate(redis, "BM_RawLpopFinish"), "raw LPOP, then MULTI INCR INCR DEL EXEC"],
  ["redis ReserveInFlightMany + FinishJobs, batch of 64 (per job)", rate(redis, "BM_BackendReserveFinishMany/batch:64"), rate(redis, "BM_RawLpop"), "raw LPOP"],
  ["enqueue one at a time (redis)", rate(redis, "BM_BackendPush"), node.enqueue_per_second.sequential, "node-resque enqueue, awaited one by one"],
  ["enqueue batched (redis)", rate(redis, "BM_BackendPushMany/100"), node.enqueue_per_second.concurrent, "node-resque enqueue, 100 in flight"],
  ["worker no-op jobs/s on redis, best of the sweep", ourBestRedis, node.best_jobs_per_second, "node-resque workers, best of 1-16, timeout 1 ms", 10],
  ["worker no-op jobs/s on redis, best with batch 1 (one job per reserve)", ourBestRedisSingle, node.best_jobs_per_second, "node-resque workers, best of 1-16, timeout 1 ms", 3],
  // "*" over 10,000 known queues of which 10 hold the jobs, against the same jobs in one queue.
  ["worker no-op jobs/s on redis, 1 slot, \"*\" over 10,000 queues (10 busy)", rate(worker, "BM_WorkerStar/redis/queues:10000/busy:10"), rate(worker, "BM_WorkerStar/redis/queues:1/busy:1"), "the same jobs in one queue", 0.5],
];
if (sidekiq) {
  const sk = `Sidekiq ${sidekiq.sidekiq}`;
  const cs = sidekiq.worker.map((w) => w.concurrency);
  for (const [ours, theirs] of SIDEKIQ_MATCH) {
    rows.push([
      `worker no-op jobs/s on redis, one job at a time, blocking, ${ours} slot${ours > 1 ? "s" : ""}`,
      sweep.redis.blocking.find((p) => p.concurrency === ours)?.jobs_per_second,
      sidekiqAt(theirs)?.jobs_per_second, `${sk}, -c ${theirs}`, 2,
    ]);
  }
  rows.push(["worker no-op jobs/s on redis, best with batch 1 (one job per reserve)", ourBestRedisSingle, sidekiq.best_jobs_per_second, `${sk}, best of -c ${Math.min(...cs)}-${Math.max(...cs)}`, 2]);
  rows.push(["worker no-op jobs/s on redis, best of the sweep", ourBestRedis, sidekiq.best_jobs_per_second, `${sk}, best of -c ${Math.min(...cs)}-${Math.max(...cs)}`]);
}

const si = (v) => {
  if (v === undefined || !Number.isFinite(v)) return "n/a";
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k/s`;
  return `${v.toFixed(0)} /s`;
};
const us = (v) => (v === undefined ? "n/a" : v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} us`);
const holds = (ok) => (ok === undefined ? "" : ok ? "yes" : "**no**");

const table = [];
const lines = [
  "| measure | ours | baseline | ours / baseline | target | holds |",
  "|---|---|---|---|---|---|",
];
for (const [what, ours, base, baseName, target] of rows) {
  const ratio = ours !== undefined && base ? ours / base : undefined;
  const ok = target === undefined || ratio === undefined ? undefined : ratio >= target;
  table.push({ what, ours, baseline: baseName, baseline_value: base, ratio, target, holds: ok });
  lines.push(
    `| ${what} | ${si(ours)} | ${baseName}: ${si(base)} | ${ratio === undefined ? "n/a" : ratio.toFixed(2) + "x"} | ${target === undefined ? "" : ">= " + target + "x"} | ${holds(ok)} |`,
  );
}
const c1 = sweep.redis.blocking[0];
const latencyRows = [
  ["blocking p50, redis, 1 slot", c1.p50_us, 100],
  ["blocking p99, redis, 1 slot", c1.p99_us, 1000],
  ["blocking p50, redis, best of 1-16 slots", bestOf("p50_us"), 100],
  ["blocking p99, redis, best of 1-16 slots", bestOf("p99_us"), 1000],
  ["blocking p50, redis, worst of 1-16 slots", worst("p50_us"), 100],
  ["blocking p99, redis, worst of 1-16 slots", worst("p99_us"), 1000],
];
const sidekiqHead = sidekiq ? ` Sidekiq ${sidekiq.sidekiq} (best p50: -c ${sidekiqBestLatency.concurrency}) |` : "";
lines.push("", "| enqueue-to-perform latency | ours | node-resque (best p50: " + nodeBestLatency.concurrency + " workers, timeout 1 ms) |" + sidekiqHead + " target | holds |", `|---|---|---|${sidekiq ? "---|" : ""}---|---|`);
for (const [what, v, limit] of latencyRows) {
  const ok = v === undefined ? undefined : v <= limit;
  const key = what.includes("p50") ? "p50_us" : "p99_us";
  const nodeV = nodeBestLatency.latency[key];
  const sidekiqV = sidekiqBestLatency?.latency[key];
  table.push({ what, ours_us: v, node_resque_us: nodeV, sidekiq_us: sidekiqV, target_us: limit, holds: ok });
  lines.push(`| ${what} | ${us(v)} | ${us(nodeV)} |${sidekiq ? ` ${us(sidekiqV)} |` : ""} <= ${us(limit)} | ${holds(ok)} |`);
}
if (sidekiq) {
  // Matched as the throughput rows are: our blocking slots against Sidekiq's -c.
  lines.push("", `| enqueue-to-perform latency, matched | ours, blocking | Sidekiq ${sidekiq.sidekiq} | Sidekiq / ours |`, "|---|---|---|---|");
  for (const [ours, theirs] of SIDEKIQ_MATCH) {
    const p = sweep.redis.blocking.find((x) => x.concurrency === ours);
    const w = sidekiqAt(theirs);
    for (const key of ["p50_us", "p99_us"]) {
      const what = `${key.slice(0, 3)}, ${ours} slot${ours > 1 ? "s" : ""} / -c ${theirs}`;
      const ratio = p?.[key] && w ? w.latency[key] / p[key] : undefined;
      table.push({ what: `enqueue-to-perform ${what}`, ours_us: p?.[key], sidekiq_us: w?.latency[key], ratio });
      lines.push(`| ${what} | ${us(p?.[key])} | ${us(w?.latency[key])} | ${ratio === undefined ? "n/a" : ratio.toFixed(2) + "x"} |`);
    }
  }
}

lines.push("", "Worker sweep: no-op jobs/s draining a prefilled queue; enqueue-to-perform latency p50 / p99 at 1000 jobs/s. Redis throughput, Redis blocking latency, node-resque and Sidekiq: the better of two rounds (Sidekiq's each the median of its drains).", "");
lines.push("| backend | mode | " + CONCURRENCIES.map((c) => `c=${c}`).join(" | ") + " |");
lines.push("|---|---|" + CONCURRENCIES.map(() => "---").join("|") + "|");
for (const backend of ["redis", "memory"]) {
  for (const mode of MODES) {
    const cells = sweep[backend][mode].map((p) => `${si(p.jobs_per_second)}<br>${us(p.p50_us)} / ${us(p.p99_us)}`);
    lines.push(`| ${backend} | ${mode} | ${cells.join(" | ")} |`);
  }
}
const nodeCells = CONCURRENCIES.map((c) => {
  const w = node.worker.find((x) => x.concurrency === c);
  return w ? `${si(w.jobs_per_second)}<br>${us(w.latency.p50_us)} / ${us(w.latency.p99_us)}` : "n/a";
});
lines.push(`| node-resque ${node.node_resque} | timeout 1 ms | ${nodeCells.join(" | ")} |`);
if (sidekiq) {
  const cell = (c) => {
    const w = sidekiqAt(c);
    return w ? `${si(w.jobs_per_second)}<br>${us(w.latency.p50_us)} / ${us(w.latency.p99_us)}` : "n/a";
  };
  // The same number of threads as the column's slots, then the matched -c (2 against 2).
  lines.push(`| Sidekiq ${sidekiq.sidekiq} | -c = c | ${CONCURRENCIES.map(cell).join(" | ")} |`);
  const matched = CONCURRENCIES.map((c) => SIDEKIQ_MATCH.find(([o]) => o === c)?.[1] ?? c);
  lines.push(`| Sidekiq ${sidekiq.sidekiq} | -c ${matched.join(", ")} | ${matched.map(cell).join(" | ")} |`);
}
console.log(lines.join("\n"));

const machine = fs.readFileSync(path.join(dir, "machine.txt"), "utf8").trim();
if (args.doc) {
  const begin = "<!-- bench/run.sh: results begin -->";
  const end = "<!-- bench/run.sh: results end -->";
  const doc = fs.readFileSync(args.doc, "utf8");
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${args.doc} lacks the markers ${begin} ... ${end}`);
  const block = [
    begin,
    `Run of ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, \`bench/run.sh\`, on:`,
    "",
    "```",
    machine,
    "```",
    "",
    ...lines,
    "",
  ].join("\n");
  fs.writeFileSync(args.doc, doc.slice(0, from) + block + doc.slice(to));
}

fs.writeFileSync(
  path.join(dir, "latest.json"),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: "bench/run.sh",
      machine: machine.split("\n"),
      table,
      worker_sweep: sweep,
      node_resque: node,
      sidekiq: sidekiq ?? null,
      raw: {
        bench_memory_queue: memory,
        bench_redis: redis,
        bench_worker: worker,
        bench_worker_round2: worker2 ?? null,
        node_round2: node2 ?? null,
        sidekiq_round2: sidekiq2 ?? null,
      },
    },
    null,
    1,
  ) + "\n",
);

// ---- the plot: throughput and latency against concurrency ----
const column = (points, key) => points.map((p) => p[key] ?? "NaN");
const nodeCol = (f) => CONCURRENCIES.map((c) => f(node.worker.find((w) => w.concurrency === c)) ?? "NaN");
const block = (name, header, cols) =>
  [`$${name} << EOD`, `# c ${header.join(" ")}`]
    .concat(CONCURRENCIES.map((c, i) => [c, ...cols.map((col) => col[i])].join(" ")), ["EOD"])
    .join("\n");
const tput = block("tput", ["redis_blocking", "redis_poll_1ms", "memory_blocking", "memory_poll_1ms", "node", "redis_blocking_batch"], [
  column(sweep.redis.blocking, "jobs_per_second"),
  column(sweep.redis.poll_1ms, "jobs_per_second"),
  column(sweep.memory.blocking, "jobs_per_second"),
  column(sweep.memory.poll_1ms, "jobs_per_second"),
  nodeCol((w) => w?.jobs_per_second),
  column(sweep.redis["blocking/batch:64"], "jobs_per_second"),
]);
const lat = block("lat", ["blocking_p50", "blocking_p99", "p1_p50", "p10_p50", "p100_p50", "mem_blocking_p50", "node_p50", "node_p99"], [
  column(sweep.redis.blocking, "p50_us"),
  column(sweep.redis.blocking, "p99_us"),
  column(sweep.redis.poll_1ms, "p50_us"),
  column(sweep.redis.poll_10ms, "p50_us"),
  column(sweep.redis.poll_100ms, "p50_us"),
  column(sweep.memory.blocking, "p50_us"),
  nodeCol((w) => w?.latency.p50_us),
  nodeCol((w) => w?.latency.p99_us),
]);
// Sidekiq at its own -c values (5, 10, 25 besides ours), when it was measured.
const sidekiqBlock = [
  "$sidekiq << EOD",
  "# c jobs_per_second p50_us p99_us",
  ...(sidekiq?.worker ?? [])
    .map((w) => [w.concurrency, w.jobs_per_second, w.latency.p50_us, w.latency.p99_us].join(" ")),
  ...(sidekiq ? [] : ["1 NaN NaN NaN"]),
  "EOD",
].join("\n");
const sidekiqName = sidekiq ? `Sidekiq ${sidekiq.sidekiq}` : "Sidekiq (not measured)";
const plot = `${tput}
${lat}
${sidekiqBlock}
set terminal pngcairo size 1400,680 font "sans,11"
set output "${args.png}"
set multiplot layout 1,2 title "resque-cpp worker, no-op jobs, one process (${new Date().toISOString().slice(0, 10)})"
set logscale xy
set xtics (1, 2, 4, 8, 16, 25)
set xrange [0.8:30]
set xlabel "concurrency (slots; node-resque: Worker instances; Sidekiq: -c)"
set grid
set key outside below maxrows 3
set title "throughput, draining a prefilled queue"
set ylabel "jobs/s"
plot $tput u 1:2 w lp lw 2 pt 7 t "redis, blocking", \\
     $tput u 1:3 w lp lw 2 pt 5 t "redis, poll 1 ms", \\
     $tput u 1:4 w lp lw 2 pt 7 dt 2 t "memory, blocking", \\
     $tput u 1:5 w lp lw 2 pt 5 dt 2 t "memory, poll 1 ms", \\
     $tput u 1:7 w lp lw 2 pt 13 t "redis, blocking, batch 64", \\
     $tput u 1:6 w lp lw 2 pt 9 lc rgb "black" t "node-resque ${node.node_resque}, timeout 1 ms", \\
     $sidekiq u 1:2 w lp lw 2 pt 11 lc rgb "dark-red" t "${sidekiqName}"
set title "enqueue-to-perform latency at 1000 jobs/s"
set ylabel "microseconds"
plot $lat u 1:2 w lp lw 2 pt 7 t "redis, blocking, p50", \\
     $lat u 1:3 w lp lw 2 pt 7 dt 2 t "redis, blocking, p99", \\
     $lat u 1:4 w lp lw 2 pt 5 t "redis, poll 1 ms, p50", \\
     $lat u 1:5 w lp lw 2 pt 5 t "redis, poll 10 ms, p50", \\
     $lat u 1:6 w lp lw 2 pt 5 t "redis, poll 100 ms, p50", \\
     $lat u 1:7 w lp lw 2 pt 6 dt 3 t "memory, blocking, p50", \\
     $lat u 1:8 w lp lw 2 pt 9 lc rgb "black" t "node-resque, p50", \\
     $lat u 1:9 w lp lw 2 pt 9 lc rgb "black" dt 2 t "node-resque, p99", \\
     $sidekiq u 1:3 w lp lw 2 pt 11 lc rgb "dark-red" t "Sidekiq, p50", \\
     $sidekiq u 1:4 w lp lw 2 pt 11 lc rgb "dark-red" dt 2 t "Sidekiq, p99"
unset multiplot
`;
fs.writeFileSync(args.plot, plot);
