// Measures the schedulers, ours (`resque scheduler`) and node-resque's (pinned), on one Redis in
// one run: due delayed jobs moved per second from a backlog, and the lag from a job's due second
// to its arrival in its queue (p50, p99) when jobs come due at a steady rate.
//
//   node scheduler.js --redis redis://127.0.0.1:PORT --resque PATH/TO/resque [--jobs 20000]
//       [--lag-jobs 200] [--out scheduler.json]
//
// Both schedulers get the same settings where they have them: a poll of 1 s at most (ours
// --interval 1; node-resque's timeout 1000 ms, its default being 5000), batches of 100 (ours;
// node-resque moves one item a round trip). Everything is written under the "resque-bench-sched"
// namespace and deleted at the end.
"use strict";
const fs = require("fs");
const { spawn, spawnSync } = require("child_process");
const IORedis = require("ioredis");
const { Queue, Scheduler } = require("node-resque");

const NS = "resque-bench-sched";

function parseArgs(argv) {
  const args = { jobs: 20000, "lag-jobs": 200, out: null };
  for (let i = 2; i < argv.length; i += 2) args[argv[i].replace(/^--/, "")] = argv[i + 1];
  const m = /^(?:redis:\/\/)?(127\.0\.0\.1|localhost|\[::1\]):(\d+)/.exec(args.redis || "");
  if (!m) throw new Error("give --redis redis://127.0.0.1:PORT (loopback only)");
  if (!args.resque) throw new Error("give --resque PATH (the resque binary)");
  args.port = Number(m[2]);
  args.jobs = Number(args.jobs);
  args["lag-jobs"] = Number(args["lag-jobs"]);
  return args;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function clear(redis) {
  for (let i = 0; i < 1000; i++) {
    const [cursor, keys] = await redis.scan(0, "MATCH", `${NS}:*`, "COUNT", 10000);
    if (keys.length) await redis.del(...keys);
    if (cursor === "0" && keys.length === 0) return;
  }
}

// `count` delayed jobs due at `second`, written as node-resque's enqueueAt writes them.
async function delay(redis, count, secondOf) {
  for (let start = 0; start < count; start += 1000) {
    const multi = redis.multi();
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const at = secondOf(i);
      const item = JSON.stringify({ class: "Noop", queue: "sched", args: [i, at] });
      multi.rpush(`${NS}:delayed:${at}`, item);
      multi.sadd(`${NS}:timestamps:${item}`, `delayed:${at}`);
      multi.zadd(`${NS}:delayed_queue_schedule`, at, String(at));
    }
    await multi.exec();
  }
}

function ours(args, extra) {
  return [args.resque, "--redis", `redis://127.0.0.1:${args.port}`, "--namespace", NS,
    "scheduler", ...extra];
}

async function nodeScheduler(args, timeoutMs) {
  const connection = { host: "127.0.0.1", port: args.port, namespace: NS };
  const scheduler = new Scheduler({ connection, timeout: timeoutMs });
  scheduler.on("error", (e) => process.stderr.write(`node scheduler: ${e}\n`));
  await scheduler.connect();
  return scheduler;
}

// Jobs moved per second from a backlog of `jobs` due ones.
async function throughput(redis, args, who) {
  await clear(redis);
  const now = Math.floor(Date.now() / 1000);
  await delay(redis, args.jobs, (i) => now - 100 + (i % 50));
  const t0 = process.hrtime.bigint();
  if (who === "resque-cpp") {
    const r = spawnSync(ours(args, ["--once", "--batch", "100"])[0],
      ours(args, ["--once", "--batch", "100"]).slice(1), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`resque scheduler --once: ${r.stderr}`);
  } else {
    const scheduler = await nodeScheduler(args, 1000);
    await scheduler.poll();
    await scheduler.end();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const moved = await redis.llen(`${NS}:queue:sched`);
  if (moved !== args.jobs) throw new Error(`${who} moved ${moved} of ${args.jobs}`);
  return { jobs: moved, seconds, per_second: moved / seconds };
}

// Lag from due second to queued, for jobs coming due 20 a second over lag-jobs / 20 seconds.
async function lag(redis, args, who) {
  await clear(redis);
  const start = Math.floor(Date.now() / 1000) + 2;
  const n = args["lag-jobs"];
  await delay(redis, n, (i) => start + Math.floor(i / 20));
  let stop;
  if (who === "resque-cpp") {
    const child = spawn(ours(args, ["--interval", "1"])[0], ours(args, ["--interval", "1"]).slice(1),
      { stdio: ["ignore", "ignore", "inherit"] });
    stop = async () => { child.kill("SIGTERM"); await new Promise((r) => child.on("exit", r)); };
  } else {
    const scheduler = await nodeScheduler(args, 1000);
    await scheduler.start();
    stop = () => scheduler.end();
  }
  const blocking = new IORedis({ host: "127.0.0.1", port: args.port });
  const lags = [];
  const deadline = Date.now() + (n / 20 + 15) * 1000;
  while (lags.length < n && Date.now() < deadline) {
    const popped = await blocking.blpop(`${NS}:queue:sched`, 1);
    if (!popped) continue;
    const at = JSON.parse(popped[1]).args[1];
    lags.push(Date.now() - at * 1000);
  }
  await stop();
  blocking.disconnect();
  if (lags.length < n) throw new Error(`${who}: only ${lags.length} of ${n} jobs arrived`);
  lags.sort((a, b) => a - b);
  return { jobs: n, p50_ms: percentile(lags, 0.5), p99_ms: percentile(lags, 0.99),
    max_ms: lags[lags.length - 1] };
}

async function main() {
  const args = parseArgs(process.argv);
  const redis = new IORedis({ host: "127.0.0.1", port: args.port });
  const result = {};
  try {
    for (const who of ["resque-cpp", "node-resque"]) {
      result[who] = { moves: await throughput(redis, args, who), lag: await lag(redis, args, who) };
    }
    result.moves_ratio = result["resque-cpp"].moves.per_second / result["node-resque"].moves.per_second;
  } finally {
    await clear(redis);
    redis.disconnect();
  }
  const text = JSON.stringify(result, null, 2);
  if (args.out) fs.writeFileSync(args.out, text + "\n");
  process.stdout.write(text + "\n");
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
