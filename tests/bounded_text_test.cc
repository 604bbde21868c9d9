// BoundedText: whole under its limit; past it the first and the last half, and a note in between
// that says how much is missing. CutToBytes: a head within the limit, never half a character.
#include "core/bounded_text.h"

#include <string>

#include "gtest/gtest.h"

namespace resque {
namespace {

TEST(BoundedTextTest, TextUnderTheLimitIsKeptWhole) {
  BoundedText text(10);
  text.Append("01234");
  text.Append("56789");
  EXPECT_EQ(text.Finish(), "0123456789");
}

TEST(BoundedTextTest, PastTheLimitKeepsHeadAndTailAndCountsWhatIsMissing) {
  BoundedText text(10);
  for (char c = 'a'; c <= 'z'; ++c) text.Append(std::string(1, c));
  EXPECT_EQ(text.Finish(), "abcde\n[... 16 bytes not kept ...]\nvwxyz");
  EXPECT_EQ(text.Finish(), "abcde\n[... 16 bytes not kept ...]\nvwxyz");
}

TEST(BoundedTextTest, ManyLargeChunksStayWithinTheLimit) {
  BoundedText text(1000);
  const std::string chunk(100000, 'x');
  for (int i = 0; i < 50; ++i) text.Append(chunk);
  text.Append("end\n");
  const std::string& kept = text.Finish();
  EXPECT_LT(kept.size(), 1100u);
  EXPECT_NE(kept.find("[... 4999004 bytes not kept ...]\n"), std::string::npos) << kept;
  EXPECT_EQ(kept.substr(kept.size() - 4), "end\n");
}

TEST(BoundedTextTest, ALimitOfZeroKeepsOnlyTheNote) {
  BoundedText text(0);
  text.Append("abc");
  EXPECT_EQ(text.Finish(), "[... 3 bytes not kept ...]\n");
}

TEST(CutToBytesTest, TextWithinTheLimitIsKeptWhole) {
  EXPECT_EQ(CutToBytes("hello", 5), "hello");
  EXPECT_EQ(CutToBytes("", 0), "");
}

TEST(CutToBytesTest, LongerTextIsCutAndMarkedWithinTheLimit) {
  EXPECT_EQ(CutToBytes("hello world", 8), "hello...");
  EXPECT_EQ(CutToBytes("hello", 2), "..");
}

TEST(CutToBytesTest, ACutNeverSplitsAUtf8Character) {
  // "é" is two bytes: a cut after its first byte backs off to before it.
  const std::string text =
      "abc\xC3\xA9"
      "defgh";
  EXPECT_EQ(CutToBytes(text, 7), "abc...");
  EXPECT_EQ(CutToBytes(text, 8), "abc\xC3\xA9...");
}

}  // namespace
}  // namespace resque
