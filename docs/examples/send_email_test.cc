// docs/testing.md's example: an application's jobs and their unit tests with the testing kit.
// CI builds and runs it (tests/testing/CMakeLists.txt), so this example cannot rot.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "backends/testing/testing.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/json.h"
#include "core/queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

// ---- The application's code: in a real project, its own library ----
namespace myapp {

// Where emails go: SMTP in production, a fake in the tests.
class Mailer {
 public:
  virtual ~Mailer() = default;
  virtual absl::Status Send(std::string_view to, std::string_view subject) = 0;
};

// Reads the string at `pointer` (e.g. "/0/to") in a job's args.
absl::StatusOr<std::string> ArgString(std::string_view args, std::string_view pointer) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string json(args);
  simdjson::ondemand::document doc;
  std::string_view value;
  if (parser.iterate(json).get(doc) != simdjson::SUCCESS ||
      doc.at_pointer(pointer).get_string().get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrFormat("args need a string at %s", pointer));
  }
  return std::string(value);
}

// SendEmail [{"to": "...", "subject": "..."}]: sends one email.
class SendEmail : public resque::Job {
 public:
  explicit SendEmail(Mailer& mailer) : mailer_(mailer) {}

  absl::Status Perform(const resque::JobContext& ctx) override {
    absl::StatusOr<std::string> to = ArgString(ctx.args(), "/0/to");
    if (!to.ok()) return to.status();
    absl::StatusOr<std::string> subject = ArgString(ctx.args(), "/0/subject");
    if (!subject.ok()) return subject.status();
    return mailer_.Send(*to, *subject);  // an error here becomes a failure record
  }

 private:
  Mailer& mailer_;
};

// WelcomeUser [{"email": "..."}]: a new user signed up; their welcome email goes out later,
// on the "mail" queue.
class WelcomeUser : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    absl::StatusOr<std::string> email = ArgString(ctx.args(), "/0/email");
    if (!email.ok()) return email.status();
    const std::string args =
        absl::StrFormat(R"({"to":%s,"subject":"Welcome!"})", resque::json::Quote(*email));
    return ctx.queues()->Enqueue("mail", "SendEmail", args).status();
  }
};

// The one place that names the application's jobs: production's main() and the tests call it.
absl::Status RegisterJobs(resque::JobRegistry& registry, Mailer& mailer) {
  absl::Status s =
      registry.Register("SendEmail", [&mailer] { return std::make_unique<SendEmail>(mailer); });
  if (!s.ok()) return s;
  return registry.Register<WelcomeUser>("WelcomeUser");
}

}  // namespace myapp

// ---- The application's tests ----
namespace {

using ::resque::JobState;
using ::resque::testing_kit::Completed;
using ::resque::testing_kit::FailedWith;
using ::resque::testing_kit::FailureOf;
using ::resque::testing_kit::Harness;
using ::resque::testing_kit::HasState;
using ::resque::testing_kit::IsJob;
using ::resque::testing_kit::IsOk;
using ::resque::testing_kit::IsOkAndHolds;
using ::resque::testing_kit::Mode;
using ::resque::testing_kit::Retried;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Keeps what would have been sent; fails every send while `down`.
class FakeMailer : public myapp::Mailer {
 public:
  absl::Status Send(std::string_view to, std::string_view subject) override {
    if (down) return absl::UnavailableError("smtp.example.com: connection refused");
    sent.push_back(absl::StrFormat("%s: %s", to, subject));
    return absl::OkStatus();
  }

  bool down = false;
  std::vector<std::string> sent;
};

class SendEmailTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(myapp::RegisterJobs(resque_.registry(), mailer_), IsOk()); }

  FakeMailer mailer_;  // declared first: the jobs that resque_ makes use it
  Harness resque_;     // fake mode: jobs wait in their queue until a Drain
};

TEST_F(SendEmailTest, SendsTheEmail) {
  ASSERT_THAT(resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})"),
              IsOk());
  EXPECT_THAT(resque_.Jobs("mail"),
              ElementsAre(IsJob("SendEmail", R"({"subject":"Hi","to":"ann@example.com"})")));
  EXPECT_THAT(mailer_.sent, IsEmpty());  // nothing runs until the test says so

  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_THAT(mailer_.sent, ElementsAre("ann@example.com: Hi"));
  EXPECT_EQ(resque_.Stat("processed"), 1);
  EXPECT_EQ(resque_.Stat("failed"), 0);
}

TEST_F(SendEmailTest, AFailureIsRecordedWithItsError) {
  mailer_.down = true;
  ASSERT_THAT(resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})"),
              IsOk());

  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(FailedWith(HasSubstr("refused")))));
  // The failure list holds what `resque failed list` and resque-web would show.
  EXPECT_THAT(
      resque_.Failures(),
      ElementsAre(FailureOf("SendEmail", "UNAVAILABLE: smtp.example.com: connection refused")));
  EXPECT_EQ(resque_.Failures()[0].queue, "mail");
  EXPECT_EQ(resque_.Stat("failed"), 1);
}

TEST_F(SendEmailTest, AFailedEmailIsSentWhenRetried) {
  mailer_.down = true;
  ASSERT_THAT(resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})"),
              IsOk());
  ASSERT_THAT(resque_.Drain(), IsOk());
  ASSERT_THAT(mailer_.sent, IsEmpty());

  mailer_.down = false;
  ASSERT_THAT(resque_.RetryFailure(0), IsOk());  // as `resque failed retry 0`
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_THAT(mailer_.sent, ElementsAre("ann@example.com: Hi"));
  EXPECT_TRUE(resque_.Failures()[0].retried_at.has_value());  // the record stays, stamped
  EXPECT_EQ(resque_.Stat("processed"), 2);
}

TEST_F(SendEmailTest, ArgsWithoutARecipientFail) {
  ASSERT_THAT(resque_.Enqueue("mail", "SendEmail", R"({"subject":"Hi"})"), IsOk());
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(FailedWith(HasSubstr("/0/to")))));
  EXPECT_THAT(mailer_.sent, IsEmpty());
}

TEST_F(SendEmailTest, TrackedStatusGoesFromWaitingToCompleteAndExpiresADayLater) {
  resque::EnqueueOptions options;
  options.track = true;
  absl::StatusOr<std::string> id =
      resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})", options);
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(resque_.Status(*id), HasState(JobState::kWaiting));

  ASSERT_THAT(resque_.Drain(), IsOk());
  EXPECT_THAT(resque_.Status(*id), HasState(JobState::kComplete));

  resque_.clock().Advance(absl::Hours(25));  // no sleeping: the harness's clock is manual
  EXPECT_EQ(resque_.Status(*id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SendEmailTest, TrackedStatusOfAFailedJobIsFailed) {
  mailer_.down = true;
  resque::EnqueueOptions options;
  options.track = true;
  absl::StatusOr<std::string> id =
      resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})", options);
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(resque_.Drain(), IsOk());
  EXPECT_THAT(resque_.Status(*id), HasState(JobState::kFailed));
}

TEST_F(SendEmailTest, AReminderDelayedByAnHourIsSentOnceTheHourHasPassed) {
  ASSERT_THAT(resque_.EnqueueIn(absl::Hours(1), "mail", "SendEmail",
                                R"({"to":"ann@example.com","subject":"Reminder"})"),
              IsOk());
  EXPECT_THAT(resque_.Jobs("mail"), IsEmpty());  // delayed, not queued
  EXPECT_EQ(resque_.DelayedCount(), 1);

  EXPECT_THAT(resque_.AdvanceClock(absl::Minutes(59)), IsOkAndHolds(0));
  EXPECT_THAT(resque_.AdvanceClock(absl::Minutes(1)), IsOkAndHolds(1));  // as a scheduler would
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_THAT(mailer_.sent, ElementsAre("ann@example.com: Reminder"));
}

TEST_F(SendEmailTest, WithThreeRetriesADownMailerIsTriedFourTimesThenFails) {
  ASSERT_THAT(resque_.registry().SetRetryPolicy("SendEmail", {.retries = 3}), IsOk());
  mailer_.down = true;
  ASSERT_THAT(resque_.Enqueue("mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})"),
              IsOk());

  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Retried())));  // no failure record yet
  for (int retry = 1; retry <= 2; ++retry) {
    EXPECT_THAT(resque_.AdvanceClock(absl::Hours(1)), IsOkAndHolds(1));  // its backoff is over
    EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Retried())));
  }
  EXPECT_THAT(resque_.AdvanceClock(absl::Hours(1)), IsOkAndHolds(1));
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(FailedWith(HasSubstr("refused")))));
  EXPECT_THAT(resque_.Failures(), ElementsAre(FailureOf("SendEmail")));  // the last try's
  EXPECT_EQ(resque_.Stat("failed"), 4);
  EXPECT_THAT(mailer_.sent, IsEmpty());
}

TEST_F(SendEmailTest, ARetryThatSucceedsLeavesNoFailure) {
  ASSERT_THAT(resque_.registry().SetRetryPolicy("SendEmail", {.retries = 3}), IsOk());
  mailer_.down = true;
  absl::StatusOr<std::string> id = resque_.Enqueue(
      "mail", "SendEmail", R"({"to":"ann@example.com","subject":"Hi"})", {.track = true});
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Retried())));
  EXPECT_THAT(resque_.Status(*id), HasState(JobState::kWaiting));  // with its retry_at

  mailer_.down = false;
  EXPECT_THAT(resque_.AdvanceClock(absl::Hours(1)), IsOkAndHolds(1));
  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_THAT(mailer_.sent, ElementsAre("ann@example.com: Hi"));
  EXPECT_THAT(resque_.Failures(), IsEmpty());
  EXPECT_THAT(resque_.Status(*id), HasState(JobState::kComplete));
}

using WelcomeUserTest = SendEmailTest;

TEST_F(WelcomeUserTest, EnqueuesTheWelcomeEmail) {
  ASSERT_THAT(resque_.Enqueue("users", "WelcomeUser", R"({"email":"bob@example.com"})"), IsOk());

  // Only the users queue: the email it enqueues stays in "mail" to be looked at.
  EXPECT_THAT(resque_.DrainQueue("users"), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_THAT(resque_.Jobs("mail"),
              ElementsAre(IsJob("SendEmail", R"({"to":"bob@example.com","subject":"Welcome!"})")));
  EXPECT_THAT(mailer_.sent, IsEmpty());

  EXPECT_THAT(resque_.Drain(), IsOkAndHolds(ElementsAre(IsJob("SendEmail"))));
  EXPECT_THAT(mailer_.sent, ElementsAre("bob@example.com: Welcome!"));
}

TEST_F(WelcomeUserTest, InlineModeSendsTheWelcomeEmailBeforeEnqueueReturns) {
  resque_.set_mode(Mode::kInline);  // Sidekiq's inline!: every enqueue performs at once
  ASSERT_THAT(resque_.Enqueue("users", "WelcomeUser", R"({"email":"bob@example.com"})"), IsOk());
  EXPECT_THAT(mailer_.sent, ElementsAre("bob@example.com: Welcome!"));
  EXPECT_THAT(resque_.AllJobs(), IsEmpty());
  EXPECT_THAT(resque_.performed(), ElementsAre(IsJob("WelcomeUser"), IsJob("SendEmail")));
}

}  // namespace
