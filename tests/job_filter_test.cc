#include "core/job_filter.h"

#include <string>

#include "gtest/gtest.h"

namespace resque {
namespace {

constexpr char kPhpJob[] =
    R"({"class":"PHP_Job","args":[{"time":1700000000,"array":{"test":"test"}}],)"
    R"("id":"a0582c7f1f4f366d15550bc7cd5778d2","queue_time":1700000000.5})";

TEST(JobMatches, MatchesOnClassAlone) {
  EXPECT_TRUE(JobMatches({.class_name = "PHP_Job"}, kPhpJob));
  EXPECT_FALSE(JobMatches({.class_name = "Other_Job"}, kPhpJob));
  EXPECT_FALSE(JobMatches({.class_name = "php_job"}, kPhpJob));
}

TEST(JobMatches, MatchesOnClassAndId) {
  EXPECT_TRUE(
      JobMatches({.class_name = "PHP_Job", .id = "a0582c7f1f4f366d15550bc7cd5778d2"}, kPhpJob));
  EXPECT_FALSE(
      JobMatches({.class_name = "PHP_Job", .id = "b0582c7f1f4f366d15550bc7cd5778d2"}, kPhpJob));
  EXPECT_FALSE(JobMatches({.class_name = "Add", .id = "x"}, R"({"class":"Add","args":[]})"));
}

TEST(JobMatches, ComparesArgsAsJsonValues) {
  const JobFilter filter{.class_name = "PHP_Job",
                         .args = R"([ { "array" : { "test" : "test" }, "time" : 1700000000.0 } ])"};
  EXPECT_TRUE(JobMatches(filter, kPhpJob));
  JobFilter other = filter;
  other.args = R"([{"array":{"test":"other"},"time":1700000000}])";
  EXPECT_FALSE(JobMatches(other, kPhpJob));
  EXPECT_FALSE(
      JobMatches({.class_name = "Add", .args = "[2,1]"}, R"({"class":"Add","args":[1,2]})"));
  EXPECT_TRUE(JobMatches({.class_name = "Add", .args = "[]"}, R"({"class":"Add"})"));
}

TEST(JobMatches, NeedsEveryGivenPartToMatch) {
  const JobFilter filter{
      .class_name = "PHP_Job", .id = "a0582c7f1f4f366d15550bc7cd5778d2", .args = "[]"};
  EXPECT_FALSE(JobMatches(filter, kPhpJob));
}

TEST(JobMatches, NeverMatchesPayloadsThatDoNotDecode) {
  const JobFilter filter{.class_name = "PHP_Job"};
  for (const char* bad : {"", "not json", R"({"class":"PHP_Job")", R"(["PHP_Job"])",
                          R"({"class":"PHP_Job","args":"x"})", R"({"args":[]})"}) {
    EXPECT_FALSE(JobMatches(filter, bad)) << bad;
  }
}

TEST(JobMatcher, RejectsFiltersThatCanMatchNothingByMistake) {
  EXPECT_EQ(JobMatcher::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobMatcher::Create({.class_name = "A", .id = ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobMatcher::Create({.class_name = "A", .args = "[1,"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobMatcher::Create({.class_name = "A", .args = R"({"a":1})"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(JobMatches({.class_name = "PHP_Job", .args = "[1,"}, kPhpJob));
}

TEST(JobMatcher, TestsManyPayloadsWithOneFilter) {
  absl::StatusOr<JobMatcher> matcher = JobMatcher::Create({.class_name = "Add", .args = "[1, 2]"});
  ASSERT_TRUE(matcher.ok()) << matcher.status();
  EXPECT_TRUE(matcher->Matches(R"({"class":"Add","args":[1,2]})"));
  EXPECT_TRUE(matcher->Matches(R"({"args":[1.0,2],"class":"Add","queue":"q"})"));
  EXPECT_FALSE(matcher->Matches(R"({"class":"Add","args":[1,2,3]})"));
}

}  // namespace
}  // namespace resque
