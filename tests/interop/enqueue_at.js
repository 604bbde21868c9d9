// node enqueue_at.js PORT JOBS_JSON: delays each [at_ms, queue, class, args] of JOBS_JSON with
// node-resque's Queue#enqueueAt (at_ms a unix time in ms), or Queue#enqueueIn when at_ms is
// negative (a delay of -at_ms), as a Node app would.
"use strict";
const { Queue } = require("node-resque");
const { connection, run } = require("./peer");

run(async () => {
  const jobs = JSON.parse(process.argv[3]);
  const queue = new Queue({ connection: connection(process.argv[2]) });
  queue.on("error", (error) => process.stderr.write(`queue error: ${error}\n`));
  await queue.connect();
  for (const [at, q, jobClass, args] of jobs) {
    if (at < 0) await queue.enqueueIn(-at, q, jobClass, args);
    else await queue.enqueueAt(at, q, jobClass, args);
  }
  await queue.end();
  return { delayed: jobs.length };
});
