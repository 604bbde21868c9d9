// The bad-input corpus over the Backend interface; see bad_input.h.
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/failure.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/reliability/bad_input.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kInvalidPayload[] = "resque::InvalidPayload";
constexpr size_t kSixteenMebibytes = size_t{16} << 20;
// Far deeper than the 512 levels json.cc reads, and deep enough to overflow a recursive reader's
// stack.
constexpr size_t kBombDepth = 100000;

// A job on a queue the worker does not watch: it must be there, untouched, after every test.
constexpr char kBystander[] = R"({"class":"Good","args":["bystander"]})";

std::string GoodPrefix() { return R"({"class":"Good","args":)"; }

}  // namespace

std::vector<BadPayloadCase> BadPayloadCases() {
  return {
      {"NotJson", [] { return "hello, not json"; }, kInvalidPayload, "payload: not valid JSON"},
      {"Empty", [] { return ""; }, kInvalidPayload, "payload: not valid JSON: Empty"},
      {"JsonButNotAnObject", [] { return absl::StrCat("[", WorkerHarness::GoodJob("x"), "]"); },
       kInvalidPayload, "payload: expected a JSON object, found an array"},
      {"TruncatedJson", [] { return GoodPrefix() + R"([{"to":"a@exa)"; }, kInvalidPayload,
       "payload: not valid JSON"},
      {"BytesAfterTheObject", [] { return WorkerHarness::GoodJob("x") + " trailing"; },
       kInvalidPayload, "trailing content"},
      {"NulAfterTheObject", [] { return WorkerHarness::GoodJob("x") + std::string(1, '\0'); },
       kInvalidPayload, "trailing content"},
      {"ClassMissing", [] { return R"({"args":["x"]})"; }, kInvalidPayload,
       R"(payload: "class" is missing)"},
      {"ClassNotAString", [] { return R"({"class":42,"args":["x"]})"; }, kInvalidPayload,
       R"(payload: "class" must be a string, found a number)"},
      {"ClassNull", [] { return R"({"class":null,"args":["x"]})"; }, kInvalidPayload,
       R"(payload: "class" must be a string, found null)"},
      {"ClassEmpty", [] { return R"({"class":"","args":["x"]})"; }, kInvalidPayload,
       R"(payload: "class" is empty)"},
      {"ArgsNotAnArray", [] { return GoodPrefix() + R"("x"})"; }, kInvalidPayload,
       R"(payload: "args" must be an array, found a string)"},
      {"ArgsAnObject", [] { return GoodPrefix() + R"({"to":"a@example.com"}})"; }, kInvalidPayload,
       R"(payload: "args" must be an array, found an object)"},
      {"UnknownClass", [] { return R"({"class":"NoSuchJob","args":["x"]})"; },
       "resque::UnknownJobClass", R"(unknown job class "NoSuchJob")"},
      {"InvalidUtf8InArgs", [] { return GoodPrefix() + "[\"\xFF\xFE\"]}"; }, kInvalidPayload,
       "not valid UTF-8"},
      {"OverlongUtf8InClass", [] { return "{\"class\":\"Go\xC0\xAFod\",\"args\":[]}"; },
       kInvalidPayload, "not valid UTF-8"},
      {"DepthBomb", [] { return GoodPrefix() + std::string(kBombDepth, '['); }, kInvalidPayload,
       "too deep"},
      {"ClosedDepthBomb",
       [] {
         return GoodPrefix() + std::string(kBombDepth, '[') + std::string(kBombDepth, ']') + "}";
       },
       kInvalidPayload, "too deep"},
      {"SixteenMebibytesNeverClosed",
       [] { return GoodPrefix() + "[\"" + std::string(kSixteenMebibytes, 'x'); }, kInvalidPayload,
       "A string is opened, but never closed"},
  };
}

namespace {

// The failure record keeps the payload as JSON: verbatim when it is JSON, as a JSON string
// (invalid UTF-8 replaced) when it is not, so that resque-web can still show it.
std::string RecordedPayload(const std::string& raw) {
  return json::Validate(raw).ok() ? raw : json::Quote(raw);
}

// Checks big strings without printing megabytes when they differ.
::testing::AssertionResult SameBytes(const std::string& actual, const std::string& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << actual.size() << " bytes starting " << actual.substr(0, 80) << ", expected "
         << expected.size() << " bytes starting " << expected.substr(0, 80);
}

TEST_P(BadPayload, IsRecordedAsAFailureNamingTheProblemAndTheWorkerGoesOn) {
  Backend& backend = harness().backend();
  const std::string bad = bad_case().bytes();
  ASSERT_OK(backend.Push("elsewhere", kBystander));
  ASSERT_OK(backend.Push("q", WorkerHarness::GoodJob("before")));
  ASSERT_OK(backend.Push("q", bad));
  ASSERT_OK(backend.Push("q", WorkerHarness::GoodJob("after")));

  const std::string worker_id = harness().RunBurst({"q"});

  EXPECT_THAT(harness().Performed(), ElementsAre(R"(["before"])", R"(["after"])"));
  const std::vector<Failure> failures = Value(FailureStore(backend).List(0, 10));
  ASSERT_EQ(failures.size(), 1u);
  const Failure& f = failures[0];
  EXPECT_EQ(f.exception, bad_case().exception);
  EXPECT_THAT(f.error, HasSubstr(bad_case().error));
  if (bad_case().exception == kInvalidPayload) {
    EXPECT_THAT(f.error, HasSubstr(R"(queue "q")"));
  }
  EXPECT_EQ(f.queue, "q");
  EXPECT_EQ(f.worker, worker_id);
  EXPECT_FALSE(f.failed_at.empty());
  EXPECT_TRUE(SameBytes(f.payload, RecordedPayload(bad)));
  EXPECT_TRUE(json::Validate(f.payload).ok());

  // Counted once as processed and failed; nothing else taken, the worker gone.
  EXPECT_EQ(Value(backend.GetStat("processed")), 3);
  EXPECT_EQ(Value(backend.GetStat("failed")), 1);
  EXPECT_EQ(Value(backend.Size("q")), 0);
  EXPECT_THAT(Value(backend.Peek("elsewhere", 0, 10)), ElementsAre(kBystander));
  EXPECT_THAT(Value(backend.Workers()), IsEmpty());
}

TEST_P(BadInput, SixteenMebibytesOfArgsArePerformedIntactAndRecordedWhole) {
  Backend& backend = harness().backend();
  const std::string args = "[\"" + std::string(kSixteenMebibytes, 'x') + "\"]";
  const std::string unknown = R"({"class":"NoSuchJob","args":)" + args + "}";
  ASSERT_OK(backend.Push("q", GoodPrefix() + args + "}"));
  ASSERT_OK(backend.Push("q", unknown));
  ASSERT_OK(backend.Push("q", WorkerHarness::GoodJob("after")));

  harness().RunBurst({"q"});

  const std::vector<std::string> performed = harness().Performed();
  ASSERT_EQ(performed.size(), 2u);
  EXPECT_TRUE(SameBytes(performed[0], args));
  EXPECT_EQ(performed[1], R"(["after"])");
  const std::vector<Failure> failures = Value(FailureStore(backend).List(0, 10));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::UnknownJobClass");
  EXPECT_TRUE(SameBytes(failures[0].payload, unknown));
}

// What `resque status` and a user's code see when the status of a job is not a status.
TEST_P(BadInput, GarbageInAStatusIsAClearErrorNamingTheJob) {
  struct Garbage {
    std::string stored;
    std::string error;
  };
  const std::vector<Garbage> cases = {
      {"not json", "status: not valid JSON"},
      {"", "status: not valid JSON"},
      {"[4]", "status: expected a JSON object, found an array"},
      {R"({"updated":1700000000})", R"(status: "status" is missing)"},
      {R"({"status":9,"updated":1700000000})", R"("status" must be 1 to 4, found 9)"},
      {R"({"status":"4"})", R"("status" must be 1 to 4, found "4")"},
      {"{\"status\":4,\"updated\":\"\xFF\"}", "not valid UTF-8"},
      {R"({"status":4,"updated":1700000000})" + std::string(kBombDepth, '['), "trailing"},
  };
  Backend& backend = harness().backend();
  StatusTracker statuses(backend);
  for (const Garbage& g : cases) {
    SCOPED_TRACE(g.stored.substr(0, 40));
    const std::string id = NewJobId();
    ASSERT_OK(backend.SetStatus(id, g.stored, absl::InfiniteDuration(), false));
    const absl::StatusOr<JobStatus> status = statuses.Get(id);
    EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument) << status.status();
    EXPECT_THAT(status.status().message(), HasSubstr(absl::StrCat("job ", id, ": ")));
    EXPECT_THAT(status.status().message(), HasSubstr(g.error));
    EXPECT_TRUE(SameBytes(Value(backend.GetStatus(id)), g.stored));  // read, not repaired
  }
}

// The status key is ours to write: a worker that performs a tracked job overwrites the garbage.
TEST_P(BadInput, ATrackedJobWhoseStatusIsGarbageIsPerformedAndItsStatusRewritten) {
  Backend& backend = harness().backend();
  const std::string id = NewJobId();
  ASSERT_OK(backend.SetStatus(id, "garbage", absl::InfiniteDuration(), false));
  ASSERT_OK(
      backend.Push("q", absl::StrFormat(R"({"class":"Good","args":["tracked"],"id":"%s"})", id)));
  ASSERT_OK(backend.Push("q", WorkerHarness::GoodJob("after")));

  harness().RunBurst({"q"});

  EXPECT_THAT(harness().Performed(), ElementsAre(R"(["tracked"])", R"(["after"])"));
  const absl::StatusOr<JobStatus> status = StatusTracker(backend).Get(id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kComplete);
  EXPECT_EQ(Value(backend.FailureCount()), 0);
}

}  // namespace
}  // namespace resque::testing
