// Worker ids: how a slot names itself in Redis, "<host>:<pid>:<queues>" for a worker of one slot
// and "<host>:<pid>-<slot>:<queues>" for more, as php-resque and Ruby resque name theirs, and how
// another worker reads one back (to prune the dead workers of its own host).
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

// InvalidArgument, quoting the id, unless it has a host, a positive pid (with an optional
// "-<slot>", read when it is a number) and a queue part: peers' ids, with no slot, parse too.
absl::StatusOr<WorkerIdParts> ParseWorkerId(std::string_view id);

// "<host>:<pid>" or "<host>:<pid>-<slot>": what node-resque files a working-on record under.
std::string_view WorkerIdWithoutQueues(std::string_view id);

}  // namespace resque

#endif  // RESQUE_CORE_WORKER_ID_H_
