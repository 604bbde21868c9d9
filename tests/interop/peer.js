// Shared by the interop scripts: how node-resque reaches the test's redis-server, and how a
// script ends (its result as one JSON line on stdout; errors on stderr and a non-zero exit).
"use strict";

function connection(port) {
  return { host: "127.0.0.1", port: Number(port), database: 0, namespace: "resque" };
}

function run(main) {
  main()
    .then((result) => {
      process.stdout.write(JSON.stringify(result === undefined ? null : result) + "\n");
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
      process.exit(1);
    });
}

module.exports = { connection, run };
