#include "core/worker_id.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace resque {
namespace {

// More digits than any slot count we allow (--concurrency 1..1024): a longer number after the
// last ':' is part of a queue name.
constexpr size_t kMaxSlotDigits = 4;

// The slot of a "<digits>" field, or nullopt when the field is not one.
std::optional<int> SlotField(absl::string_view field) {
  if (field.empty() || field.size() > kMaxSlotDigits) return std::nullopt;
  for (char c : field) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int slot = 0;
  if (!absl::SimpleAtoi(field, &slot)) return std::nullopt;
  return slot;
}

}  // namespace

std::string FormatWorkerId(const WorkerIdParts& parts) {
  if (!parts.slot.has_value())
    return absl::StrFormat("%s:%d:%s", parts.host, parts.pid, parts.queues);
  return absl::StrFormat("%s:%d:%s:%d", parts.host, parts.pid, parts.queues, *parts.slot);
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
  absl::string_view pid_part = parts[1];
  absl::string_view queues = parts[2];
  if (const size_t dash = pid_part.find('-'); dash != absl::string_view::npos) {
    // Older versions wrote "<pid>-<slot>". Only the pid decides: what follows the dash is ours
    // when it is a number.
    out.slot = SlotField(pid_part.substr(dash + 1));
    pid_part = pid_part.substr(0, dash);
  } else if (const size_t colon = queues.rfind(':'); colon != absl::string_view::npos) {
    out.slot = SlotField(queues.substr(colon + 1));
    if (out.slot.has_value()) queues = queues.substr(0, colon);
  }
  int pid = 0;
  if (pid_part.empty() || !absl::SimpleAtoi(pid_part, &pid) || pid <= 0) {
    return bad("the pid is not a positive number");
  }
  out.pid = pid;
  out.queues = std::string(queues);
  return out;
}

std::string_view WorkerIdWithoutQueues(std::string_view id) {
  return id.substr(0, id.find(':', id.find(':') + 1));
}

}  // namespace resque
