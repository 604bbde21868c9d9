// The process title: the form peers' pruning looks for, never "resque-web", and the argv area it
// is written over (measured and written on a buffer of the test's own, not on this process's).
#include "core/process_title.h"

#include <regex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(ProcessTitleTest, TitleHasTheFormPeersLookFor) {
  const std::string title = FormatProcessTitle("Waiting for high,low");
  EXPECT_THAT(title, StartsWith("resque-"));
  EXPECT_THAT(title, HasSubstr(" (resque-cpp): Waiting for high,low"));
  // Ruby's linux_worker_pids greps for [r]esque-[0-9]; php-resque's for [r]esque.
  EXPECT_TRUE(std::regex_search(title, std::regex("resque-[0-9]"))) << title;
}

TEST(ProcessTitleTest, TitleNeverHoldsResqueWebOrControlCharacters) {
  const std::string title = FormatProcessTitle("Waiting for resque-web,a\nb\tc");
  EXPECT_THAT(title, Not(HasSubstr("resque-web")));
  EXPECT_THAT(title, HasSubstr("Waiting for resque_web,a?b?c"));
}

// A stand-in for a process's argv and environ: strings one after another in one buffer.
class FakeArgs {
 public:
  explicit FakeArgs(const std::vector<std::string>& strings) {
    for (const std::string& s : strings) buffer_.append(s).push_back('\0');
    size_t at = 0;
    for (const std::string& s : strings) {
      pointers_.push_back(buffer_.data() + at);
      at += s.size() + 1;
    }
    pointers_.push_back(nullptr);
  }
  char** at(size_t i) { return pointers_.data() + i; }
  const std::string& buffer() const { return buffer_; }

 private:
  std::string buffer_;
  std::vector<char*> pointers_;
};

TEST(ProcessTitleTest, AreaSpansArgvAndTheEnvironmentThatFollowsIt) {
  FakeArgs args({"resque", "work", "A=1", "B=22"});
  EXPECT_EQ(TitleArea(2, args.at(0), args.at(2)).size(), args.buffer().size());
  EXPECT_EQ(TitleArea(2, args.at(0), nullptr).size(), std::string("resque\0work\0", 12).size());
}

TEST(ProcessTitleTest, AreaEndsAtTheFirstGap) {
  FakeArgs args({"resque", "work", "A=1"});
  char* gapped[] = {args.at(0)[0], args.at(0)[2], nullptr};  // "A=1" is not where "work" was
  EXPECT_EQ(TitleArea(2, gapped, nullptr).size(), 7u);
}

TEST(ProcessTitleTest, WriteFillsTheAreaWithTheTitleAndNuls) {
  FakeArgs args({"resque", "work", "--queue", "high,low"});
  TitleArea area(4, args.at(0), nullptr);
  area.Write("resque-1: Paused");
  EXPECT_EQ(args.buffer(), std::string("resque-1: Paused") + std::string(29 - 16, '\0'));
}

TEST(ProcessTitleTest, WriteCutsALongTitleToTheAreaAndEndsItWithANul) {
  FakeArgs args({"resque", "w"});
  TitleArea area(2, args.at(0), nullptr);
  area.Write("resque-0.1.0 (resque-cpp): Waiting for high,low");
  EXPECT_EQ(args.buffer(), std::string("resque-0\0", 9));
}

TEST(ProcessTitleTest, NothingIsWrittenWithoutArgv) {
  TitleArea area(0, nullptr, nullptr);
  EXPECT_EQ(area.size(), 0u);
  area.Write("anything");  // no memory to write: must not crash
}

}  // namespace
}  // namespace resque
