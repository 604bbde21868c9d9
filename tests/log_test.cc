// core/log.h: the line formats (text and JSON) and the sink's level filter and fields.
#include "core/log.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace resque {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kWhen = absl::FromUnixMillis(1795528800123);  // 2026-11-24T14:00:00.123Z

TEST(LogTest, TextLinesCarryTimeLevelAndOneLineOfMessage) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kWhen, LogLevel::kWarning, "failed X\nline 2", {}),
            "[resque] 2026-11-24T14:00:00.123Z WARNING failed X\\nline 2");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kWhen, LogLevel::kInfo, "hi", {}),
            "[resque] 2026-11-24T14:00:00.123Z INFO hi");
}

TEST(LogTest, JsonLinesParseWithTheirFieldsWhateverTheTextHolds) {
  const LogNumber numbers[] = {{"busy", 2}, {"jobs_per_s", 12.5}};
  const std::string message = std::string("bad \"quote\" \\ \x01 tab\t new\nline \xff\xfe end");
  const std::string line = FormatLogLine(LogFormat::kJson, kWhen, LogLevel::kWarning, message,
                                         {.worker = "h:1:q",
                                          .class_name = "PHP_Job",
                                          .id = "abc",
                                          .queue = "default",
                                          .duration_ms = 12.25,
                                          .numbers = numbers});
  EXPECT_THAT(line, Not(HasSubstr("\n")));
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(line);
  simdjson::ondemand::document doc = parser.iterate(padded);
  std::string_view s;
  ASSERT_EQ(doc["time"].get_string().get(s), simdjson::SUCCESS) << line;
  EXPECT_EQ(s, "2026-11-24T14:00:00.123Z");
  ASSERT_EQ(doc["level"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "warning");
  ASSERT_EQ(doc["msg"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_THAT(std::string(s), HasSubstr("bad \"quote\" \\ \x01 tab\t new\nline "));
  ASSERT_EQ(doc["worker"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "h:1:q");
  ASSERT_EQ(doc["class"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "PHP_Job");
  ASSERT_EQ(doc["id"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "abc");
  ASSERT_EQ(doc["queue"].get_string().get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "default");
  double d = 0;
  ASSERT_EQ(doc["duration_ms"].get_double().get(d), simdjson::SUCCESS);
  EXPECT_DOUBLE_EQ(d, 12.25);
  ASSERT_EQ(doc["busy"].get_double().get(d), simdjson::SUCCESS);
  EXPECT_DOUBLE_EQ(d, 2);
  ASSERT_EQ(doc["jobs_per_s"].get_double().get(d), simdjson::SUCCESS);
  EXPECT_DOUBLE_EQ(d, 12.5);
}

TEST(LogTest, JsonLeavesOutFieldsNotSet) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, kWhen, LogLevel::kInfo, "worker started", {}),
            R"({"time":"2026-11-24T14:00:00.123Z","level":"info","msg":"worker started"})");
}

TEST(LogTest, LongMessagesAreCut) {
  const std::string line = FormatLogLine(LogFormat::kText, kWhen, LogLevel::kError,
                                         std::string(kMaxLogLineBytes * 2, 'x'), {});
  EXPECT_LT(line.size(), kMaxLogLineBytes + 64);
}

TEST(LogTest, LevelsParseAndName) {
  for (LogLevel level : {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo, LogLevel::kDebug}) {
    absl::StatusOr<LogLevel> parsed = ParseLogLevel(LogLevelName(level));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, level);
  }
  EXPECT_EQ(ParseLogLevel("WARN").value_or(LogLevel::kError), LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
  EXPECT_EQ(ParseLogFormat("json").value_or(LogFormat::kText), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

// The sink shows its level and those before it, and a two-argument function is a sink.
TEST(LogTest, FdSinkWritesLevelsUpToItsOwn) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const LogSink sink = FdLogSink(fds[1], LogLevel::kWarning, LogFormat::kText);
  sink(LogLevel::kError, "one");
  sink(LogLevel::kWarning, "two");
  sink(LogLevel::kInfo, "three");
  sink(LogLevel::kDebug, "four");
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fds[0]);
  EXPECT_THAT(out, HasSubstr(" ERROR one\n"));
  EXPECT_THAT(out, HasSubstr(" WARNING two\n"));
  EXPECT_THAT(out, Not(HasSubstr("three")));
  EXPECT_THAT(out, Not(HasSubstr("four")));

  std::vector<std::string> seen;
  const LogSink plain = [&](LogLevel, std::string_view m) { seen.emplace_back(m); };
  plain(LogLevel::kInfo, "x", {.class_name = "C"});
  EXPECT_EQ(seen, std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace resque
