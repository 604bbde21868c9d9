#include "core/log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/bounded_text.h"
#include "core/json.h"

namespace resque {
namespace {

constexpr const char* kLevelNames[] = {"error", "warning", "info", "debug"};
constexpr const char* kTextLevels[] = {"ERROR", "WARNING", "INFO", "DEBUG"};

// A number as JSON has it: whole ones without a fraction, others to the microsecond; what JSON
// cannot hold (NaN, infinities) as null.
std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%d", static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.3f", value);
}

void AppendJsonField(std::string* out, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  absl::StrAppend(out, ",");
  json::AppendQuoted(out, key);
  absl::StrAppend(out, ":");
  json::AppendQuoted(out, value);
}

// A text line stays one line whatever the message holds (a job's error may span several).
std::string OneLine(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

const char* LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  for (int i = 0; i <= static_cast<int>(LogLevel::kDebug); ++i) {
    if (lower == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  if (lower == "warn") return LogLevel::kWarning;
  return absl::InvalidArgumentError(
      absl::StrFormat("log level %s: use error, warning, info or debug", json::Quote(name)));
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrFormat("log format %s: use text or json", json::Quote(name)));
}

std::string FormatLogLine(LogFormat format, absl::Time when, LogLevel level,
                          std::string_view message, const LogFields& fields) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", when, absl::UTCTimeZone());
  // A job's error can be as long as it likes; a log line stays readable and cheap.
  std::string cut;
  if (message.size() > kMaxLogLineBytes) {
    cut = CutToBytes(message, kMaxLogLineBytes);
    message = cut;
  }
  if (format == LogFormat::kText) {
    return absl::StrCat("[resque] ", time, " ", kTextLevels[static_cast<int>(level)], " ",
                        OneLine(message));
  }
  std::string out = "{\"time\":";
  json::AppendQuoted(&out, time);
  absl::StrAppend(&out, ",\"level\":\"", LogLevelName(level), "\",\"msg\":");
  json::AppendQuoted(&out, message);
  AppendJsonField(&out, "worker", fields.worker);
  AppendJsonField(&out, "class", fields.class_name);
  AppendJsonField(&out, "id", fields.id);
  AppendJsonField(&out, "queue", fields.queue);
  if (fields.duration_ms.has_value()) {
    absl::StrAppend(&out, ",\"duration_ms\":", JsonNumber(*fields.duration_ms));
  }
  for (const LogNumber& n : fields.numbers) {
    absl::StrAppend(&out, ",");
    json::AppendQuoted(&out, n.key);
    absl::StrAppend(&out, ":", JsonNumber(n.value));
  }
  AppendJsonField(&out, "source", fields.source);
  out += "}";
  return out;
}

LogSink FdLogSink(int fd, LogLevel max_level, LogFormat format) {
  return
      [fd, max_level, format](LogLevel level, std::string_view message, const LogFields& fields) {
        if (level > max_level) return;
        std::string line = FormatLogLine(format, absl::Now(), level, message, fields);
        line += '\n';
        // One write a line keeps lines from several threads whole; a short one (a full disk, a
        // signal) goes on from where it stopped, an error drops the line: a log never stops work.
        std::string_view rest = line;
        while (!rest.empty()) {
          const ssize_t n = write(fd, rest.data(), rest.size());
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          rest.remove_prefix(static_cast<size_t>(n));
        }
      };
}

LogSink StderrLogSink(LogLevel max_level, LogFormat format) {
  return FdLogSink(STDERR_FILENO, max_level, format);
}

}  // namespace resque
