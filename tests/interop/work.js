// node work.js PORT QUEUES COUNT: a node-resque Worker on QUEUES (comma-separated) performs
// COUNT jobs, then ends (unregistering itself). Prints what each job saw: its class and args.
// Jobs: Add (returns the sum), Echo (returns nothing), Fail (throws "deliberate failure").
"use strict";
const { Worker } = require("node-resque");
const { connection, run } = require("./peer");

run(async () => {
  const expected = Number(process.argv[4]);
  const seen = [];
  const jobs = {
    Add: {
      perform: (...args) => {
        seen.push({ class: "Add", args });
        return args.reduce((sum, n) => sum + n, 0);
      },
    },
    Echo: {
      perform: (...args) => {
        seen.push({ class: "Echo", args });
      },
    },
    Fail: {
      perform: (...args) => {
        seen.push({ class: "Fail", args });
        throw new Error("deliberate failure");
      },
    },
  };
  const worker = new Worker(
    { connection: connection(process.argv[2]), queues: process.argv[3].split(","), timeout: 20 },
    jobs,
  );
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  const count = () => {
    if (++done >= expected) finished();
  };
  worker.on("success", count);
  worker.on("failure", count);
  worker.on("error", (error) => process.stderr.write(`worker error: ${error}\n`));
  await worker.connect();
  await worker.start();
  await allDone;
  await worker.end();
  return { worker: worker.name, seen };
});
