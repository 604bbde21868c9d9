// node scheduler.js PORT: one poll of a node-resque Scheduler, as its timer would run it: it
// takes the leader lock if it can and, leading, moves every due delayed job to its queue. Then
// it ends (releasing the lock it holds). Prints whether it led and how many jobs it moved.
"use strict";
const { Scheduler } = require("node-resque");
const { connection, run } = require("./peer");

run(async () => {
  const scheduler = new Scheduler({ connection: connection(process.argv[2]), timeout: 100 });
  let led = false;
  let transferred = 0;
  scheduler.on("leader", () => (led = true));
  scheduler.on("transferredJob", () => ++transferred);
  scheduler.on("error", (error) => process.stderr.write(`scheduler error: ${error}\n`));
  await scheduler.connect();
  await scheduler.poll();
  await scheduler.end();
  return { leader: led, transferred, name: scheduler.name };
});
