#include "core/backend_args.h"

#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/status_macros.h"

namespace resque::backend_args {
namespace {}  // namespace

absl::Status NotEmpty(std::string_view value, std::string_view what) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("%s is empty", AbslView(what)));
}

absl::Status Range(int64_t start, int64_t count) {
  if (start >= 0 && count >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("start (%d) and count (%d) must not be negative", start, count));
}

absl::Status Index(int64_t index) {
  if (index >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("index %d is negative", index));
}

absl::Status Ttl(absl::Duration ttl) {
  if (ttl > absl::ZeroDuration()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "status TTL must be positive or infinite, got %s", absl::FormatDuration(ttl)));
}

absl::Status Reserve(absl::Span<const std::string> queues, absl::Duration wait) {
  if (queues.empty()) return absl::InvalidArgumentError("reserve: no queue given");
  for (const std::string& queue : queues) {
    RESQUE_RETURN_IF_ERROR(NotEmpty(queue, "queue name"));
  }
  if (wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("reserve: negative wait %s", absl::FormatDuration(wait)));
  }
  return absl::OkStatus();
}

absl::Status BatchMax(int max) {
  if (max >= 1 && max <= kMaxBatch) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("reserve: max %d is not within 1..%d", max, kMaxBatch));
}

absl::Status UnreserveIds(absl::Span<const ReservedJob> jobs, absl::Span<const std::string> ids) {
  if (ids.empty() || ids.size() == jobs.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("unreserve: %d job ids for %d jobs", ids.size(), jobs.size()));
}

}  // namespace resque::backend_args
