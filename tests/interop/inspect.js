// node inspect.js PORT [RETRY_INDEX]: what node-resque's own Queue API reads from Redis: stats,
// failures, workers, what they work on, queues. With RETRY_INDEX, first retries that failure
// (retryAndRemoveFailed: LREM by node's JSON.stringify of it, then enqueue) and says whether it
// could.
"use strict";
const { Queue } = require("node-resque");
const { connection, run } = require("./peer");

run(async () => {
  const queue = new Queue({ connection: connection(process.argv[2]) });
  queue.on("error", (error) => process.stderr.write(`queue error: ${error}\n`));
  await queue.connect();
  let retried = null;
  if (process.argv[3] !== undefined) {
    const failed = await queue.failed(0, -1);
    try {
      await queue.retryAndRemoveFailed(failed[Number(process.argv[3])]);
      retried = "ok";
    } catch (error) {
      retried = String(error.message);
    }
  }
  const result = {
    retried,
    stats: await queue.stats(),
    failedCount: await queue.failedCount(),
    failed: await queue.failed(0, -1),
    workers: await queue.workers(),
    workingOn: await queue.allWorkingOn(),
    queues: await queue.queues(),
  };
  await queue.end();
  return result;
});
