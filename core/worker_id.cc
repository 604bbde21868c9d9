#include "core/worker_id.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace resque {

std::string FormatWorkerId(const WorkerIdParts& parts) {
  if (!parts.slot.has_value())
    return absl::StrFormat("%s:%d:%s", parts.host, parts.pid, parts.queues);
  return absl::StrFormat("%s:%d-%d:%s", parts.host, parts.pid, *parts.slot, parts.queues);
}

absl::StatusOr<WorkerIdParts> ParseWorkerId(std::string_view id) {
  const absl::string_view text(id.data(), id.size());
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("worker id \"%s\": %s", text, why));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 2));
  if (parts.size() < 3) return bad("not <host>:<pid>:<queues>");
  WorkerIdParts out;
  out.host = std::string(parts[0]);
  out.queues = std::string(parts[2]);
  absl::string_view pid_part = parts[1];
  const size_t dash = pid_part.find('-');
  if (dash != absl::string_view::npos) {
    // Only the pid decides: what follows the dash is ours when it is a number.
    int slot = 0;
    if (absl::SimpleAtoi(pid_part.substr(dash + 1), &slot) && slot >= 0) out.slot = slot;
    pid_part = pid_part.substr(0, dash);
  }
  int pid = 0;
  if (pid_part.empty() || !absl::SimpleAtoi(pid_part, &pid) || pid <= 0) {
    return bad("the pid is not a positive number");
  }
  out.pid = pid;
  return out;
}

std::string_view WorkerIdWithoutQueues(std::string_view id) {
  return id.substr(0, id.find(':', id.find(':') + 1));
}

}  // namespace resque
