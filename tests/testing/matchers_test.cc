// Tests of the testing kit's matchers: each one matches what it should, refuses what it should
// not, and says why.
#include <string>

#include "backends/testing/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque::testing_kit {
namespace {

using ::testing::ExplainMatchResult;
using ::testing::HasSubstr;
using ::testing::Matches;
using ::testing::Not;
using ::testing::StringMatchResultListener;

// What `matcher` says about `value` when it does not match (empty when it matches).
template <typename M, typename T>
std::string Why(const M& matcher, const T& value) {
  StringMatchResultListener listener;
  if (ExplainMatchResult(matcher, value, &listener)) return "";
  return listener.str();
}

EnqueuedJob MakeJob(std::string class_name, std::string args, std::string id = "") {
  EnqueuedJob job;
  job.queue = "q";
  job.class_name = std::move(class_name);
  job.args = std::move(args);
  job.id = std::move(id);
  return job;
}

PerformedJob Performed(Outcome outcome, std::string error = "") {
  PerformedJob job;
  job.queue = "q";
  job.class_name = "SendEmail";
  job.args = "[]";
  job.outcome = outcome;
  if (outcome == Outcome::kFailed) {
    job.failure = Failure();
    job.failure->exception = "resque::JobError";
    job.failure->error = std::move(error);
  }
  return job;
}

TEST(TestingMatchers, IsOkTellsTheError) {
  EXPECT_TRUE(Matches(IsOk())(absl::OkStatus()));
  EXPECT_TRUE(Matches(IsOk())(absl::StatusOr<int>(1)));
  EXPECT_FALSE(Matches(IsOk())(absl::StatusOr<int>(absl::NotFoundError("gone"))));
  EXPECT_THAT(Why(IsOk(), absl::InternalError("broken")), HasSubstr("broken"));
}

TEST(TestingMatchers, IsOkAndHoldsLooksAtTheValueOfAnOkResult) {
  EXPECT_TRUE(Matches(IsOkAndHolds(3))(absl::StatusOr<int>(3)));
  EXPECT_FALSE(Matches(IsOkAndHolds(3))(absl::StatusOr<int>(4)));
  EXPECT_THAT(Why(IsOkAndHolds(3), absl::StatusOr<int>(absl::NotFoundError("gone"))),
              HasSubstr("gone"));
}

TEST(TestingMatchers, IsJobComparesClassAndArgsAsJsonValues) {
  const EnqueuedJob job = MakeJob("SendEmail", R"([{"to":"a@x","cc":[1,2.0]}])");
  EXPECT_THAT(job, IsJob("SendEmail"));
  EXPECT_THAT(job, IsJob("SendEmail", R"([ { "cc" : [1, 2], "to" : "a@x" } ])"));
  // An object stands for the one-element array, as Enqueue takes args.
  EXPECT_THAT(job, IsJob("SendEmail", R"({"cc":[1,2],"to":"a@x"})"));
  EXPECT_THAT(job, Not(IsJob("SendEmail", R"({"to":"b@x"})")));
  EXPECT_THAT(job, Not(IsJob("SendSms")));
  EXPECT_THAT(Why(IsJob("SendSms"), job), HasSubstr("whose class is SendEmail"));
  EXPECT_THAT(Why(IsJob("SendEmail", "[2]"), job), HasSubstr(R"(whose args are [{"to")"));
  EXPECT_THAT(Why(IsJob("SendEmail", "[not json"), job), HasSubstr("not usable"));
}

TEST(TestingMatchers, HasArgsAndHasIdWorkOnPerformedJobsToo) {
  PerformedJob job = Performed(Outcome::kComplete);
  job.args = "[1,\"two\"]";
  job.id = "abc";
  EXPECT_THAT(job, HasArgs(R"([1, "two"])"));
  EXPECT_THAT(job, Not(HasArgs("[1]")));
  EXPECT_THAT(job, HasId("abc"));
  EXPECT_THAT(Why(HasId("xyz"), job), HasSubstr("whose id is abc"));
  EXPECT_THAT(Why(HasId("xyz"), MakeJob("A", "[]")), HasSubstr("(none)"));
}

TEST(TestingMatchers, OutcomeMatchersTellTheOutcomesApart) {
  const PerformedJob complete = Performed(Outcome::kComplete);
  const PerformedJob failed = Performed(Outcome::kFailed, "INVALID_ARGUMENT: no \"to\"");
  const PerformedJob skipped = Performed(Outcome::kSkipped);
  EXPECT_THAT(complete, Completed());
  EXPECT_THAT(complete, Not(Failed()));
  EXPECT_THAT(complete, Not(Skipped()));
  EXPECT_THAT(failed, Failed());
  EXPECT_THAT(failed, Not(Completed()));
  EXPECT_THAT(skipped, Skipped());
  EXPECT_THAT(skipped, Not(Failed()));
  EXPECT_THAT(Why(Completed(), skipped), HasSubstr("which skipped"));

  EXPECT_THAT(failed, FailedWith(HasSubstr("no \"to\"")));
  EXPECT_THAT(failed, FailedWith("INVALID_ARGUMENT: no \"to\""));
  EXPECT_THAT(failed, Not(FailedWith(HasSubstr("timeout"))));
  EXPECT_THAT(complete, Not(FailedWith(HasSubstr(""))));
  EXPECT_THAT(Why(FailedWith(HasSubstr("x")), complete), HasSubstr("which complete"));
}

TEST(TestingMatchers, FailureOfReadsTheClassFromTheRecordsPayload) {
  Failure f;
  f.payload = R"({"class":"SendEmail","args":[],"id":"1"})";
  f.exception = "std::runtime_error";
  f.error = "connection refused";
  EXPECT_THAT(f, FailureOf("SendEmail"));
  EXPECT_THAT(f, FailureOf("SendEmail", HasSubstr("refused")));
  EXPECT_THAT(f, Not(FailureOf("SendEmail", HasSubstr("timeout"))));
  EXPECT_THAT(f, Not(FailureOf("SendSms")));
  f.payload = "\"not a payload\"";
  EXPECT_THAT(Why(FailureOf("SendEmail"), f), HasSubstr("(undecodable)"));
}

TEST(TestingMatchers, HasStateTakesAStatusOrAnError) {
  JobStatus status;
  status.state = JobState::kRunning;
  EXPECT_THAT(status, HasState(JobState::kRunning));
  EXPECT_THAT(absl::StatusOr<JobStatus>(status), HasState(JobState::kRunning));
  EXPECT_THAT(status, Not(HasState(JobState::kComplete)));
  EXPECT_THAT(Why(HasState(JobState::kComplete), status), HasSubstr("which is running"));
  const absl::StatusOr<JobStatus> gone = absl::NotFoundError("expired");
  EXPECT_THAT(gone, Not(HasState(JobState::kComplete)));
  EXPECT_THAT(Why(HasState(JobState::kComplete), gone), HasSubstr("expired"));
}

TEST(TestingMatchers, JobsPrintReadablyInFailureMessages) {
  EXPECT_EQ(::testing::PrintToString(MakeJob("SendEmail", "[1]", "abc")),
            "SendEmail[1] id abc on \"q\"");
  EXPECT_EQ(::testing::PrintToString(Performed(Outcome::kFailed, "boom")),
            "SendEmail[] on \"q\": failed (resque::JobError: boom)");
}

}  // namespace
}  // namespace resque::testing_kit
