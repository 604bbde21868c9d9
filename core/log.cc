#include "core/log.h"

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/bounded_text.h"

namespace resque {

LogSink StderrLogSink(LogLevel max_level) {
  return [max_level](LogLevel level, std::string_view message) {
    if (level > max_level) return;
    const std::string when =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
    // A job's error can be as long as it likes; a log line stays readable and cheap.
    std::string cut;
    if (message.size() > kMaxLogLineBytes) {
      cut = CutToBytes(message, kMaxLogLineBytes);
      message = cut;
    }
    // One fprintf per line keeps lines from several threads whole.
    std::fprintf(stderr, "[resque] %s %.*s\n", when.c_str(), static_cast<int>(message.size()),
                 message.data());
  };
}

}  // namespace resque
