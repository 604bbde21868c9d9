// Logging for long-running parts (the worker): a sink the embedding program chooses, called with
// a level, a one-line message and, for sinks that ship them (JSON), the line's fields.
//
//   options.log = [](resque::LogLevel level, std::string_view message) { ... };  // fields unused
//   options.log = resque::StderrLogSink(resque::LogLevel::kInfo, resque::LogFormat::kJson);
#ifndef RESQUE_CORE_LOG_H_
#define RESQUE_CORE_LOG_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace resque {

// The most bytes of one message StderrLogSink writes (it cuts longer ones, marked "..."); also
// what `resque work` passes on of one line of a job command's stderr.
inline constexpr size_t kMaxLogLineBytes = 16 * 1024;

// In order of importance: a sink that shows a level shows every level before it.
enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// "error", "warning", "info", "debug".
const char* LogLevelName(LogLevel level);
// The inverse of LogLevelName (also "warn"); InvalidArgument naming the four otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);

// A number a line carries beside its text (the summary's jobs_per_s, busy, ...).
struct LogNumber {
  std::string_view key = {};
  double value = 0;
};

// What a line is about, for sinks that keep fields apart from the text; empty ones are left out.
// Everything is borrowed for the call only.
struct LogFields {
  std::string_view worker = {};      // the slot's worker id
  std::string_view class_name = {};  // the job's
  std::string_view id = {};
  std::string_view queue = {};
  std::optional<double> duration_ms = std::nullopt;
  absl::Span<const LogNumber> numbers = {};
  // Set when the line is not the worker's own: "stderr" for a line a job wrote there.
  std::string_view source = {};
};

// A callable taking (level, message, fields). Made from any function of (LogLevel,
// std::string_view, const LogFields&), or of (LogLevel, std::string_view) that ignores the
// fields, so a two-argument lambda is a sink. Called from every slot: it must be thread-safe.
class LogSink {
 public:
  using Function = std::function<void(LogLevel, std::string_view, const LogFields&)>;

  LogSink() = default;
  LogSink(std::nullptr_t) {}  // NOLINT: as std::function, empty
  template <typename F, typename = std::enable_if_t<
                            !std::is_same_v<F, LogSink> &&
                            std::is_invocable_v<F&, LogLevel, std::string_view, const LogFields&>>>
  LogSink(F f) : function_(std::move(f)) {}  // NOLINT: a lambda is a sink
  template <typename F,
            typename = std::enable_if_t<
                std::is_invocable_v<F&, LogLevel, std::string_view> &&
                !std::is_invocable_v<F&, LogLevel, std::string_view, const LogFields&>>,
            typename = void>
  LogSink(F f)  // NOLINT: a lambda is a sink
      : function_([f = std::move(f)](LogLevel level, std::string_view message,
                                     const LogFields&) mutable { f(level, message); }) {}

  void operator()(LogLevel level, std::string_view message, const LogFields& fields = {}) const {
    function_(level, message, fields);
  }
  explicit operator bool() const { return static_cast<bool>(function_); }

 private:
  Function function_;
};

enum class LogFormat {
  // "[resque] <time> <LEVEL> <message>"
  kText,
  // One object a line: {"time":..., "level":..., "msg":..., then the fields that are set}
  // (worker, class, id, queue, duration_ms, the numbers, source), strings escaped and invalid
  // UTF-8 replaced, so that every line parses.
  kJson,
};

// "text" or "json"; InvalidArgument otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);

// One line, as StderrLogSink writes it (without the newline), dated `when`; the message cut to
// kMaxLogLineBytes.
std::string FormatLogLine(LogFormat format, absl::Time when, LogLevel level,
                          std::string_view message, const LogFields& fields);

// A sink that writes FormatLogLine lines to the descriptor `fd` (not owned) for levels up to
// `max_level`, one write(2) each, so that lines from several threads stay whole.
LogSink FdLogSink(int fd, LogLevel max_level, LogFormat format = LogFormat::kText);
// FdLogSink on stderr.
LogSink StderrLogSink(LogLevel max_level, LogFormat format = LogFormat::kText);

}  // namespace resque

#endif  // RESQUE_CORE_LOG_H_
