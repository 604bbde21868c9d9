// Worker ids: how a slot names itself in Redis, and how another worker reads one back (to prune
// the dead workers of its own host). One slot: "<host>:<pid>:<queues>", Ruby resque's own form.
// Several slots of one process: "<host>:<pid>:<queues>:<slot>", so that every peer which splits
// at ':' finds the real pid in the second field (docs/wire-format.md, "Worker ids").
//
//   std::string id = resque::FormatWorkerId({.host = "web1", .pid = 42, .queues = "high,low"});
//   absl::StatusOr<resque::WorkerIdParts> parts = resque::ParseWorkerId(id);  // web1, 42
#ifndef RESQUE_CORE_WORKER_ID_H_
#define RESQUE_CORE_WORKER_ID_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace resque {

struct WorkerIdParts {
  std::string host = {};
  pid_t pid = 0;
  std::optional<int> slot = std::nullopt;  // nullopt: the process runs one slot
  std::string queues = {};                 // the queue list as given, joined by ','
};

std::string FormatWorkerId(const WorkerIdParts& parts);

// InvalidArgument, quoting the id, unless it has a host, a positive pid and a queue part. Reads
// our ids, peers' ids (no slot) and the "<host>:<pid>-<slot>:<queues>" form of older versions of
// ours. A last ":<digits>" after the queues is read as the slot: a peer's queue named "jobs:2"
// therefore shows as queue "jobs", slot 2, which leaves host and pid (all pruning reads) right.
absl::StatusOr<WorkerIdParts> ParseWorkerId(std::string_view id);

// "<host>:<pid>" (or "<host>:<pid>-<slot>" for an older id): the name node-resque's
// Queue.workers() gives the id, under which its allWorkingOn files a working-on record.
std::string_view WorkerIdWithoutQueues(std::string_view id);

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_ID_H_
