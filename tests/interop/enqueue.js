// node enqueue.js PORT JOBS_JSON: enqueues each [queue, class, args] of JOBS_JSON with
// node-resque's Queue#enqueue, as a Node app would.
"use strict";
const { Queue } = require("node-resque");
const { connection, run } = require("./peer");

run(async () => {
  const jobs = JSON.parse(process.argv[3]);
  const queue = new Queue({ connection: connection(process.argv[2]) });
  queue.on("error", (error) => process.stderr.write(`queue error: ${error}\n`));
  await queue.connect();
  for (const [q, jobClass, args] of jobs) await queue.enqueue(q, jobClass, args);
  await queue.end();
  return { enqueued: jobs.length };
});
