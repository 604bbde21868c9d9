// Heartbeats: the value a worker writes as its sign of life (Backend::Heartbeat) and how another
// worker reads it to decide whether it is dead. Ruby resque 2.x writes Time#iso8601 into the
// `workers:heartbeat` hash; we write the same form and read it, as well as plain unix seconds.
//
//   std::string beat = resque::FormatHeartbeat(clock->Now());  // "2026-11-25T14:24:29Z"
//   absl::StatusOr<absl::Time> at = resque::ParseHeartbeat(beat);
#ifndef RESQUE_CORE_HEARTBEAT_H_
#define RESQUE_CORE_HEARTBEAT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resque {

// ISO 8601 in UTC, to the second: "2026-11-25T14:24:29Z".
std::string FormatHeartbeat(absl::Time t);

// Reads ISO 8601 with "Z" or a "+hh:mm" offset (what Ruby writes), or an integer of unix
// seconds. InvalidArgument, quoting the value, for anything else.
absl::StatusOr<absl::Time> ParseHeartbeat(std::string_view beat);

}  // namespace resque

#endif  // RESQUE_CORE_HEARTBEAT_H_
