#include "core/heartbeat.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace resque {

std::string FormatHeartbeat(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseHeartbeat(std::string_view beat) {
  const absl::string_view text(beat.data(), beat.size());
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) return absl::FromUnixSeconds(seconds);
  absl::Time t;
  std::string error;
  // %Ez takes "+hh:mm", "-hh:mm" and "Z"; %E*S takes fractions of a second too.
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", text, absl::UTCTimeZone(), &t, &error)) return t;
  return absl::InvalidArgumentError(
      absl::StrFormat("heartbeat \"%s\" is neither ISO 8601 nor unix seconds: %s", text, error));
}

}  // namespace resque
