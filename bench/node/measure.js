// Measures node-resque (pinned in package-lock.json) on the Redis that bench/run.sh started, the
// way bench_worker measures resque-cpp: enqueue rate, no-op jobs/s of its worker against a
// prefilled queue, and enqueue-to-perform latency of jobs enqueued at a steady rate.
//
//   node measure.js --redis redis://127.0.0.1:PORT [--scale 1] [--out node.json] [--only worker]
//
// --only worker skips the enqueue rates: bench/run.sh measures the workers a second time, after
// a second run of ours, so that both sides get two chances at a quiet machine.
//
// Its fastest settings: a poll timeout of 1 ms (node-resque's default is 5000) and several
// Worker instances in one process, each with its own connection (as MultiWorker makes them);
// the sweep goes over the same concurrencies as bench_worker. Every key it writes lives under
// the "resque-bench-node" namespace and is deleted at the end.
"use strict";
const os = require("os");
const fs = require("fs");
const { Queue, Worker } = require("node-resque");

const CONCURRENCIES = [1, 2, 4, 8, 16];
const QUEUE = "bench";
const NAMESPACE = "resque-bench-node";
const POLL_TIMEOUT_MS = 1;
const LATENCY_RATE = 1000; // jobs/s, as bench_worker

function parseArgs(argv) {
  const args = { redis: process.env.RESQUE_BENCH_REDIS, scale: 1, out: null, only: null };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    args[key] = key === "scale" ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.redis) throw new Error("give --redis redis://127.0.0.1:PORT or set RESQUE_BENCH_REDIS");
  const m = /^(?:redis:\/\/)?([^:/]+):(\d+)/.exec(args.redis);
  if (!m) throw new Error(`cannot read the Redis address "${args.redis}"`);
  args.host = m[1];
  args.port = Number(m[2]);
  return args;
}

const nowNs = () => Number(process.hrtime.bigint());
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves when `expected` jobs were reported, or rejects after `timeoutMs`.
class Recorder {
  reset(expected, timeoutMs) {
    this.done = 0;
    this.samples = [];
    this.lastDone = 0;
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.timer = setTimeout(
        () => reject(new Error(`only ${this.done} of ${expected} jobs performed in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.expected = expected;
    });
  }
  record(latencyNs) {
    this.done += 1;
    if (latencyNs !== undefined) this.samples.push(latencyNs);
    if (this.done === this.expected) {
      this.lastDone = nowNs();
      clearTimeout(this.timer);
      this.resolve();
    }
  }
}

const recorder = new Recorder();
const jobs = {
  NoOp: { perform: async () => recorder.record() },
  Latency: { perform: async (enqueuedNs) => recorder.record(nowNs() - enqueuedNs) },
};

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function startWorkers(connection, n) {
  const workers = [];
  for (let i = 1; i <= n; i += 1) {
    const worker = new Worker(
      {
        connection,
        queues: [QUEUE],
        timeout: POLL_TIMEOUT_MS,
        name: `${os.hostname()}:${process.pid}+${i}`,
      },
      jobs,
    );
    worker.on("error", (error) => console.error(`node-resque worker ${i}: ${error}`));
    await worker.connect();
    workers.push(worker);
  }
  return workers;
}

async function enqueueRates(queue, n) {
  let start = nowNs();
  for (let i = 0; i < n; i += 1) await queue.enqueue(QUEUE, "NoOp", [i]);
  const sequential = n / ((nowNs() - start) / 1e9);
  await queue.connection.redis.del(queue.connection.key("queue", QUEUE));
  // 100 enqueues in flight at a time: as close to a batch as its API comes.
  start = nowNs();
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j += 1) batch.push(queue.enqueue(QUEUE, "NoOp", [j]));
    await Promise.all(batch);
  }
  const concurrent = n / ((nowNs() - start) / 1e9);
  await queue.connection.redis.del(queue.connection.key("queue", QUEUE));
  return { sequential, concurrent };
}

async function throughput(connection, queue, concurrency, n) {
  const redis = queue.connection.redis;
  const key = queue.connection.key("queue", QUEUE);
  const payload = JSON.stringify({ class: "NoOp", queue: QUEUE, args: [0] });
  for (let i = 0; i < n; i += 1000) {
    await redis.rpush(key, ...Array(Math.min(1000, n - i)).fill(payload));
  }
  const workers = await startWorkers(connection, concurrency);
  const done = recorder.reset(n, 120000);
  const start = nowNs();
  for (const w of workers) w.start();
  try {
    await done;
  } finally {
    await Promise.all(workers.map((w) => w.end()));
    await redis.del(key);
  }
  return n / ((recorder.lastDone - start) / 1e9);
}

async function latency(connection, queue, concurrency, seconds) {
  const n = Math.max(10, Math.round(LATENCY_RATE * seconds));
  const periodNs = 1e9 / LATENCY_RATE;
  const workers = await startWorkers(connection, concurrency);
  for (const w of workers) w.start();
  const done = recorder.reset(n, 60000);
  const start = nowNs();
  const pending = [];
  try {
    for (let i = 0; i < n; i += 1) {
      const aheadMs = (start + i * periodNs - nowNs()) / 1e6;
      if (aheadMs >= 1) await sleep(Math.floor(aheadMs));
      pending.push(queue.enqueue(QUEUE, "Latency", [nowNs()]));
    }
    await Promise.all(pending);
    await done;
  } finally {
    await Promise.all(workers.map((w) => w.end()));
  }
  const sorted = recorder.samples.sort((a, b) => a - b);
  return {
    p50_us: percentile(sorted, 0.5) / 1e3,
    p99_us: percentile(sorted, 0.99) / 1e3,
    p999_us: percentile(sorted, 0.999) / 1e3,
    max_us: sorted[sorted.length - 1] / 1e3,
    samples: sorted.length,
  };
}

async function main() {
  const args = parseArgs(process.argv);
  const connection = { pkg: "ioredis", host: args.host, port: args.port, namespace: NAMESPACE };
  const queue = new Queue({ connection }, jobs);
  queue.on("error", (error) => console.error(`node-resque queue: ${error}`));
  await queue.connect();
  const version = require("node-resque/package.json").version;
  const result = { node_resque: version, node: process.version, poll_timeout_ms: POLL_TIMEOUT_MS };
  const progress = (what) => console.error(`   node-resque: ${what}`);

  if (args.only !== "worker") {
    progress("enqueue rate");
    result.enqueue_per_second = await enqueueRates(queue, Math.max(200, Math.round(10000 * args.scale)));
  }
  result.worker = [];
  for (const c of CONCURRENCIES) {
    progress(`worker throughput and latency, ${c} worker(s)`);
    const jobsPerSecond = await throughput(
      connection, queue, c, Math.max(100, Math.round(5000 * args.scale)));
    const lat = await latency(connection, queue, c, Math.max(0.05, args.scale));
    result.worker.push({ concurrency: c, jobs_per_second: jobsPerSecond, latency: lat });
  }
  result.best_jobs_per_second = Math.max(...result.worker.map((w) => w.jobs_per_second));

  const redis = queue.connection.redis;
  const keys = await redis.keys(`${NAMESPACE}:*`);
  if (keys.length) await redis.del(...keys);
  await queue.end();
  const text = JSON.stringify(result, null, 2);
  if (args.out) fs.writeFileSync(args.out, text + "\n");
  else console.log(text);
}

main().catch((error) => {
  console.error(`node-resque measurement failed: ${error.stack || error}`);
  process.exit(1);
});
