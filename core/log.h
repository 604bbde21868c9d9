// Logging for long-running parts (the worker): a sink function the embedding program chooses.
// The default sink writes errors to stderr; `resque work -v/-vv` widens it.
#ifndef RESQUE_CORE_LOG_H_
#define RESQUE_CORE_LOG_H_

#include <cstddef>
#include <functional>
#include <string_view>

namespace resque {

// The most bytes of one message StderrLogSink writes (it cuts longer ones, marked "..."); also
// what `resque work` passes on of one line of a job command's stderr.
inline constexpr size_t kMaxLogLineBytes = 16 * 1024;

enum class LogLevel { kError = 0, kInfo = 1, kDebug = 2 };

using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// A sink that writes "[resque] <time> <message>" lines to stderr for levels up to `max_level`,
// each message cut to kMaxLogLineBytes.
LogSink StderrLogSink(LogLevel max_level);

}  // namespace resque

#endif  // RESQUE_CORE_LOG_H_
