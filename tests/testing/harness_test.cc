// Tests of the testing kit's Harness: queues, drains, inline and fake modes, and the records the
// worker leaves. Suite names start with "Testing" so that `ctest -R Testing` selects them.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "backends/testing/testing.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace resque::testing_kit {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// What the jobs of a test did, in order: "<class> <args>" per perform.
using Log = std::vector<std::string>;

// Appends "<class> <args>" to the log.
class Echo : public Job {
 public:
  explicit Echo(Log& log) : log_(log) {}
  absl::Status Perform(const JobContext& ctx) override {
    log_.push_back(absl::StrFormat("%s %s", ctx.class_name(), ctx.args()));
    return absl::OkStatus();
  }

 private:
  Log& log_;
};

class Throws : public Job {
 public:
  absl::Status Perform(const JobContext&) override { throw std::runtime_error("boom"); }
};

class Refuses : public Job {
 public:
  absl::Status Perform(const JobContext&) override {
    return absl::UnavailableError("mail server refused");
  }
};

class Skips : public Job {
 public:
  absl::Status Perform(const JobContext&) override { return SkipJob("not today"); }
};

// Enqueues `child` on `queue` with its own args, logging before and after.
class Spawns : public Job {
 public:
  Spawns(Log& log, std::string queue, std::string child)
      : log_(log), queue_(std::move(queue)), child_(std::move(child)) {}
  absl::Status Perform(const JobContext& ctx) override {
    log_.push_back("spawn begins");
    absl::StatusOr<std::string> id = ctx.queues()->Enqueue(queue_, child_, ctx.args());
    log_.push_back("spawn ends");
    return id.status();
  }

 private:
  Log& log_;
  std::string queue_;
  std::string child_;
};

// Enqueues itself again on its own queue, forever.
class Forever : public Job {
 public:
  absl::Status Perform(const JobContext& ctx) override {
    return ctx.queues()->Enqueue(ctx.queue(), "Forever").status();
  }
};

class TestingHarnessTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterJobs(harness_); }

  void RegisterJobs(Harness& h) {
    ASSERT_THAT(h.Register("Echo", [this] { return std::make_unique<Echo>(log_); }), IsOk());
    ASSERT_THAT(h.Register<Throws>("Throws"), IsOk());
    ASSERT_THAT(h.Register<Refuses>("Refuses"), IsOk());
    ASSERT_THAT(h.Register<Skips>("Skips"), IsOk());
    ASSERT_THAT(h.Register<Forever>("Forever"), IsOk());
    ASSERT_THAT(
        h.Register("SpawnsMail", [this] { return std::make_unique<Spawns>(log_, "mail", "Echo"); }),
        IsOk());
  }

  // A harness of the test's own, knowing the test's jobs.
  std::unique_ptr<Harness> NewHarness(Mode mode, int64_t max_jobs,
                                      std::vector<std::string> queues = {"*"}) {
    HarnessOptions options;
    options.mode = mode;
    options.max_jobs = max_jobs;
    options.queues = std::move(queues);
    auto harness = std::make_unique<Harness>(std::move(options));
    RegisterJobs(*harness);
    return harness;
  }

  Log log_;
  Harness harness_;
};

// ---- Queues ----

using TestingQueues = TestingHarnessTest;

TEST_F(TestingQueues, EnqueuedJobsAreListedDecodedOldestFirst) {
  absl::StatusOr<std::string> first = harness_.Enqueue("mail", "Echo", "[1, 2]");
  absl::StatusOr<std::string> second = harness_.Enqueue("mail", "Echo", R"({"to":"a@x"})");
  ASSERT_THAT(harness_.Enqueue("other", "Refuses"), IsOk());
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());

  std::vector<EnqueuedJob> jobs = harness_.Jobs("mail");
  ASSERT_THAT(jobs, ElementsAre(AllOf(IsJob("Echo", "[1,2]"), HasId(*first)),
                                AllOf(IsJob("Echo", R"([{"to":"a@x"}])"), HasId(*second))));
  EXPECT_EQ(jobs[0].queue, "mail");
  EXPECT_EQ(jobs[0].args, "[1, 2]");  // verbatim; IsJob above compares JSON values
  EXPECT_THAT(jobs[0].payload, HasSubstr(R"("class":"Echo")"));
  EXPECT_EQ(harness_.Size("mail"), 2);
  EXPECT_EQ(harness_.Size("nowhere"), 0);
  EXPECT_THAT(harness_.Jobs("nowhere"), IsEmpty());
  EXPECT_THAT(harness_.AllJobs(), ElementsAre(IsJob("Echo"), IsJob("Echo"), IsJob("Refuses")));
  EXPECT_THAT(harness_.JobsOf("Refuses"), ElementsAre(IsJob("Refuses", "[]")));
  EXPECT_THAT(harness_.JobsOf("Echo"), SizeIs(2));
}

TEST_F(TestingQueues, FakeModeOnlyRecordsUntilDrained) {
  ASSERT_EQ(harness_.mode(), Mode::kFake);
  ASSERT_THAT(harness_.Enqueue("mail", "Echo", "[1]"), IsOk());
  EXPECT_THAT(log_, IsEmpty());
  EXPECT_EQ(harness_.Stat("processed"), 0);
  EXPECT_THAT(harness_.Drain(), IsOkAndHolds(ElementsAre(IsJob("Echo", "[1]"))));
  EXPECT_THAT(log_, ElementsAre("Echo [1]"));
  EXPECT_EQ(harness_.Size("mail"), 0);
}

TEST_F(TestingQueues, PayloadThatDoesNotDecodeIsListedRawAndFailsWhenPerformed) {
  ASSERT_THAT(harness_.backend().Push("junk", "not json"), IsOk());
  std::vector<EnqueuedJob> jobs = harness_.Jobs("junk");
  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].class_name, "");
  EXPECT_EQ(jobs[0].payload, "not json");

  absl::StatusOr<std::vector<PerformedJob>> done = harness_.Drain();
  ASSERT_THAT(done, IsOkAndHolds(ElementsAre(Failed())));
  EXPECT_EQ((*done)[0].queue, "junk");
  EXPECT_EQ((*done)[0].failure->exception, "resque::InvalidPayload");
}

TEST_F(TestingQueues, ClearQueuesRemovesEveryJobButKeepsFailures) {
  ASSERT_THAT(harness_.Enqueue("a", "Throws"), IsOk());
  ASSERT_THAT(harness_.Drain(), IsOk());
  ASSERT_THAT(harness_.Enqueue("a", "Echo"), IsOk());
  ASSERT_THAT(harness_.Enqueue("b", "Echo"), IsOk());
  harness_.ClearQueues();
  EXPECT_THAT(harness_.AllJobs(), IsEmpty());
  EXPECT_THAT(harness_.Failures(), SizeIs(1));
}

// ---- Drain ----

using TestingDrain = TestingHarnessTest;

TEST_F(TestingDrain, PerformsQueueByQueueInPriorityOrderAndReportsEachOutcome) {
  ASSERT_THAT(harness_.Enqueue("b", "Echo", "[1]"), IsOk());
  ASSERT_THAT(harness_.Enqueue("a", "Throws"), IsOk());
  ASSERT_THAT(harness_.Enqueue("b", "Skips"), IsOk());
  ASSERT_THAT(harness_.Enqueue("a", "Refuses"), IsOk());
  ASSERT_THAT(harness_.Enqueue("b", "Unknown"), IsOk());

  // "*": every queue by name, as `resque work --queue '*'`.
  EXPECT_THAT(
      harness_.Drain(),
      IsOkAndHolds(ElementsAre(AllOf(IsJob("Throws"), FailedWith("boom")),
                               AllOf(IsJob("Refuses"), FailedWith(HasSubstr("refused"))),
                               AllOf(IsJob("Echo"), Completed()), AllOf(IsJob("Skips"), Skipped()),
                               AllOf(IsJob("Unknown"), Failed()))));
  EXPECT_THAT(harness_.AllJobs(), IsEmpty());
  EXPECT_THAT(harness_.performed(), SizeIs(5));
}

TEST_F(TestingDrain, FollowsTheQueuesOfTheOptions) {
  std::unique_ptr<Harness> owned = NewHarness(Mode::kFake, 1000, {"b", "a"});
  Harness& harness = *owned;
  ASSERT_THAT(harness.Enqueue("a", "Echo", "[1]"), IsOk());
  ASSERT_THAT(harness.Enqueue("b", "Echo", "[2]"), IsOk());
  ASSERT_THAT(harness.Enqueue("c", "Echo", "[3]"), IsOk());
  EXPECT_THAT(harness.Drain(), IsOkAndHolds(ElementsAre(HasArgs("[2]"), HasArgs("[1]"))));
  EXPECT_THAT(harness.Jobs("c"), ElementsAre(HasArgs("[3]")));  // not among the queues
}

TEST_F(TestingDrain, PerformsTheJobsThatJobsEnqueue) {
  ASSERT_THAT(harness_.Enqueue("work", "SpawnsMail", "[7]"), IsOk());
  EXPECT_THAT(harness_.Drain(),
              IsOkAndHolds(ElementsAre(AllOf(IsJob("SpawnsMail"), Completed()),
                                       AllOf(IsJob("Echo", "[7]"), Completed()))));
  EXPECT_THAT(log_, ElementsAre("spawn begins", "spawn ends", "Echo [7]"));
}

TEST_F(TestingDrain, DrainQueueLeavesTheOtherQueues) {
  ASSERT_THAT(harness_.Enqueue("a", "Echo", "[1]"), IsOk());
  ASSERT_THAT(harness_.Enqueue("b", "Echo", "[2]"), IsOk());
  EXPECT_THAT(harness_.DrainQueue("b"), IsOkAndHolds(ElementsAre(HasArgs("[2]"))));
  EXPECT_THAT(harness_.Jobs("a"), ElementsAre(HasArgs("[1]")));
  EXPECT_THAT(harness_.DrainQueue(""), ::testing::Not(IsOk()));
}

TEST_F(TestingDrain, StopsAJobThatEnqueuesItselfForeverAtMaxJobs) {
  std::unique_ptr<Harness> owned = NewHarness(Mode::kFake, 10);
  Harness& harness = *owned;
  ASSERT_THAT(harness.Enqueue("loop", "Forever"), IsOk());
  absl::StatusOr<std::vector<PerformedJob>> done = harness.Drain();
  EXPECT_EQ(done.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(done.status().message(), HasSubstr("enqueue jobs endlessly"));
  EXPECT_THAT(harness.performed(), SizeIs(10));
  EXPECT_EQ(harness.Size("loop"), 1);
}

TEST_F(TestingDrain, PerformsExactlyMaxJobsWithoutComplaint) {
  std::unique_ptr<Harness> owned = NewHarness(Mode::kFake, 3);
  Harness& harness = *owned;
  for (int i = 0; i < 3; ++i) ASSERT_THAT(harness.Enqueue("q", "Echo"), IsOk());
  EXPECT_THAT(harness.Drain(), IsOkAndHolds(SizeIs(3)));
  // The bound is per drain, not per harness.
  ASSERT_THAT(harness.Enqueue("q", "Echo"), IsOk());
  EXPECT_THAT(harness.Drain(), IsOkAndHolds(SizeIs(1)));
}

TEST_F(TestingDrain, AJobCannotDrainTheHarnessThatPerformsIt) {
  absl::Status inner;
  ASSERT_THAT(harness_.Register("Drains",
                                [&] {
                                  class Drains : public Job {
                                   public:
                                    Drains(Harness& h, absl::Status& out) : h_(h), out_(out) {}
                                    absl::Status Perform(const JobContext&) override {
                                      out_ = h_.Drain().status();
                                      return absl::OkStatus();
                                    }

                                   private:
                                    Harness& h_;
                                    absl::Status& out_;
                                  };
                                  return std::make_unique<Drains>(harness_, inner);
                                }),
              IsOk());
  ASSERT_THAT(harness_.Enqueue("q", "Drains"), IsOk());
  EXPECT_THAT(harness_.Drain(), IsOkAndHolds(ElementsAre(Completed())));
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
}

// ---- Inline mode ----

using TestingInline = TestingHarnessTest;

TEST_F(TestingInline, EnqueuePerformsTheJobBeforeReturning) {
  harness_.set_mode(Mode::kInline);
  EnqueueOptions tracked;
  tracked.track = true;
  absl::StatusOr<std::string> id = harness_.Enqueue("mail", "Echo", "[1]", tracked);
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(log_, ElementsAre("Echo [1]"));
  EXPECT_THAT(harness_.Jobs("mail"), IsEmpty());
  EXPECT_THAT(harness_.Status(*id), HasState(JobState::kComplete));
  EXPECT_THAT(harness_.performed(), ElementsAre(AllOf(HasId(*id), Completed())));
}

TEST_F(TestingInline, AFailingJobIsRecordedAndEnqueueStillSucceeds) {
  harness_.set_mode(Mode::kInline);
  EXPECT_THAT(harness_.Enqueue("q", "Throws"), IsOk());  // the job was enqueued, then failed
  EXPECT_THAT(harness_.performed(), ElementsAre(FailedWith("boom")));
  EXPECT_THAT(harness_.Failures(), ElementsAre(FailureOf("Throws", "boom")));
}

TEST_F(TestingInline, JobsThatJobsEnqueueRunAfterTheirParentBeforeEnqueueReturns) {
  harness_.set_mode(Mode::kInline);
  ASSERT_THAT(harness_.Enqueue("work", "SpawnsMail", "[3]"), IsOk());
  // As on a real worker, the child waits for its parent to finish.
  EXPECT_THAT(log_, ElementsAre("spawn begins", "spawn ends", "Echo [3]"));
  EXPECT_THAT(harness_.performed(), ElementsAre(IsJob("SpawnsMail"), IsJob("Echo")));
}

TEST_F(TestingInline, EndlessChainIsResourceExhaustedFromEnqueue) {
  std::unique_ptr<Harness> owned = NewHarness(Mode::kInline, 5);
  Harness& harness = *owned;
  absl::StatusOr<std::string> id = harness.Enqueue("loop", "Forever");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(harness.performed(), SizeIs(5));
}

TEST_F(TestingInline, EndlessChainFromCodeUnderTestIsATestFailure) {
  std::unique_ptr<Harness> owned = NewHarness(Mode::kInline, 5);
  Harness& harness = *owned;
  // Code under test holds a resque::Queue; it cannot be handed the error, so the test fails.
  EXPECT_NONFATAL_FAILURE((void)harness.queue().Enqueue("loop", "Forever"), "endlessly");
}

TEST_F(TestingInline, CodeUnderTestEnqueuingThroughQueueFollowsTheMode) {
  auto sign_up = [](Queue& queue) { return queue.Enqueue("mail", "Echo", R"({"welcome":1})"); };
  ASSERT_THAT(sign_up(harness_.queue()), IsOk());
  EXPECT_THAT(log_, IsEmpty());  // fake
  harness_.set_mode(Mode::kInline);
  ASSERT_THAT(sign_up(harness_.queue()), IsOk());
  // The job left from fake mode is older: it runs first, as a worker would take it.
  EXPECT_THAT(log_, ElementsAre(R"(Echo [{"welcome":1}])", R"(Echo [{"welcome":1}])"));
  harness_.set_mode(Mode::kFake);
  ASSERT_THAT(sign_up(harness_.queue()), IsOk());
  EXPECT_THAT(log_, SizeIs(2));
  EXPECT_EQ(harness_.Size("mail"), 1);
}

TEST_F(TestingInline, RetryingAFailurePerformsItAtOnce) {
  ASSERT_THAT(harness_.Enqueue("q", "Refuses"), IsOk());
  ASSERT_THAT(harness_.Drain(), IsOk());
  harness_.set_mode(Mode::kInline);
  EXPECT_THAT(harness_.RetryFailure(0), IsOk());
  EXPECT_THAT(harness_.performed(), ElementsAre(Failed(), Failed()));
  EXPECT_EQ(harness_.Size("q"), 0);
  EXPECT_EQ(harness_.RetryFailure(5).code(), absl::StatusCode::kNotFound);
}

// ---- What the worker left ----

using TestingRecords = TestingHarnessTest;

TEST_F(TestingRecords, StatusMovesFromWaitingToRunningToComplete) {
  std::vector<std::string> seen;
  ASSERT_THAT(harness_.Register("Looks",
                                [&] {
                                  class Looks : public Job {
                                   public:
                                    Looks(Harness& h, std::vector<std::string>& seen)
                                        : h_(h), seen_(seen) {}
                                    absl::Status Perform(const JobContext& ctx) override {
                                      absl::StatusOr<JobStatus> s = h_.Status(ctx.id());
                                      seen_.push_back(s.ok() ? std::string(JobStateName(s->state))
                                                             : s.status().ToString());
                                      return absl::OkStatus();
                                    }

                                   private:
                                    Harness& h_;
                                    std::vector<std::string>& seen_;
                                  };
                                  return std::make_unique<Looks>(harness_, seen);
                                }),
              IsOk());
  EnqueueOptions tracked;
  tracked.track = true;
  absl::StatusOr<std::string> id = harness_.Enqueue("q", "Looks", "", tracked);
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(harness_.Status(*id), HasState(JobState::kWaiting));
  ASSERT_THAT(harness_.Drain(), IsOk());
  EXPECT_THAT(seen, ElementsAre("running"));
  EXPECT_THAT(harness_.Status(*id), HasState(JobState::kComplete));
}

TEST_F(TestingRecords, FailedJobHasAFailedStatusAndAFailureRecordStampedByTheClock) {
  EnqueueOptions tracked;
  tracked.track = true;
  absl::StatusOr<std::string> id = harness_.Enqueue("mail", "Refuses", "[1]", tracked);
  ASSERT_THAT(id, IsOk());
  harness_.clock().Advance(absl::Minutes(5));
  ASSERT_THAT(harness_.Drain(), IsOk());
  EXPECT_THAT(harness_.Status(*id), HasState(JobState::kFailed));
  std::vector<Failure> failures = harness_.Failures();
  ASSERT_THAT(failures, ElementsAre(FailureOf("Refuses", HasSubstr("mail server refused"))));
  EXPECT_EQ(failures[0].exception, "resque::JobError");
  EXPECT_EQ(failures[0].queue, "mail");
  EXPECT_EQ(failures[0].failed_at, FormatFailedAt(harness_.clock().Now()));
  EXPECT_THAT(failures[0].payload, HasSubstr(*id));
  EXPECT_EQ(harness_.performed()[0].failure->error, failures[0].error);
}

TEST_F(TestingRecords, FinishedStatusExpiresTwentyFourHoursLaterOnTheClock) {
  EnqueueOptions tracked;
  tracked.track = true;
  absl::StatusOr<std::string> id = harness_.Enqueue("q", "Echo", "", tracked);
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(harness_.Drain(), IsOk());
  harness_.clock().Advance(absl::Hours(24) - absl::Seconds(1));
  EXPECT_THAT(harness_.Status(*id), HasState(JobState::kComplete));
  harness_.clock().Advance(absl::Seconds(2));
  EXPECT_EQ(harness_.Status(*id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TestingRecords, StatsCountEveryJobInTotalAndPerWorker) {
  ASSERT_THAT(harness_.Enqueue("q", "Echo"), IsOk());
  ASSERT_THAT(harness_.Enqueue("q", "Throws"), IsOk());
  ASSERT_THAT(harness_.Enqueue("q", "Skips"), IsOk());
  ASSERT_THAT(harness_.Drain(), IsOk());
  EXPECT_EQ(harness_.Stat("processed"), 3);
  EXPECT_EQ(harness_.Stat("failed"), 1);
  absl::StatusOr<std::vector<std::string>> workers = harness_.backend().Workers();
  ASSERT_THAT(workers, IsOkAndHolds(SizeIs(1)));
  EXPECT_THAT((*workers)[0], ::testing::StartsWith("testing:"));
  EXPECT_EQ(harness_.Stat("processed:" + (*workers)[0]), 3);
  EXPECT_EQ(harness_.Stat("failed:" + (*workers)[0]), 1);
}

TEST_F(TestingRecords, RetryRequeuesTheFailedJobAndStampsTheRecord) {
  absl::StatusOr<std::string> id = harness_.Enqueue("mail", "Refuses", "[9]");
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(harness_.Drain(), IsOk());
  harness_.clock().Advance(absl::Hours(1));
  ASSERT_THAT(harness_.RetryFailure(0), IsOk());
  EXPECT_THAT(harness_.Jobs("mail"), ElementsAre(AllOf(IsJob("Refuses", "[9]"), HasId(*id))));
  std::vector<Failure> failures = harness_.Failures();
  ASSERT_THAT(failures, SizeIs(1));
  EXPECT_EQ(failures[0].retried_at, FormatFailedAt(harness_.clock().Now()));
}

TEST_F(TestingRecords, UserHooksRunAsTheWorkerRunsThem) {
  int enqueued = 0;
  std::vector<std::string> failures;
  harness_.hooks().after_enqueue.push_back([&](const JobEvent&) {
    ++enqueued;
    return absl::OkStatus();
  });
  harness_.hooks().before_perform.push_back([](const JobEvent& e) {
    return e.payload.class_name == "Refuses" ? SkipJob("hooked") : absl::OkStatus();
  });
  // A failing after_perform hook is only logged: the job still completed.
  harness_.hooks().after_perform.push_back(
      [](const JobEvent&) { return absl::InternalError("after_perform says no"); });
  harness_.hooks().on_failure.push_back(
      [&](const JobEvent& e, const absl::Status&) { failures.emplace_back(e.payload.class_name); });
  ASSERT_THAT(harness_.Enqueue("q", "Refuses"), IsOk());
  ASSERT_THAT(harness_.Enqueue("q", "Echo"), IsOk());
  ASSERT_THAT(harness_.Enqueue("q", "Throws"), IsOk());
  EXPECT_THAT(harness_.Drain(), IsOkAndHolds(ElementsAre(Skipped(), Completed(), Failed())));
  EXPECT_EQ(enqueued, 3);
  EXPECT_THAT(failures, ElementsAre("Throws"));
}

TEST_F(TestingRecords, BeforeEnqueueHookKeepsTheJobOut) {
  harness_.hooks().before_enqueue.push_back(
      [](const JobEvent&) { return absl::PermissionDeniedError("no"); });
  EXPECT_EQ(harness_.Enqueue("q", "Echo").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(harness_.Size("q"), 0);
}

// ---- Job classes ----

class GlobalJob : public Job {
 public:
  absl::Status Perform(const JobContext&) override { return absl::OkStatus(); }
};
RESQUE_REGISTER_JOB(GlobalJob, "TestingGlobalJob");

TEST(TestingRegistry, GlobalJobsArePerformedAndHarnessJobsWinOverThem) {
  Harness harness;
  ASSERT_THAT(harness.Enqueue("q", "TestingGlobalJob"), IsOk());
  EXPECT_THAT(harness.Drain(), IsOkAndHolds(ElementsAre(Completed())));

  Harness local;
  ASSERT_THAT(local.Register<Throws>("TestingGlobalJob"), IsOk());
  ASSERT_THAT(local.Enqueue("q", "TestingGlobalJob"), IsOk());
  EXPECT_THAT(local.Drain(), IsOkAndHolds(ElementsAre(FailedWith("boom"))));
}

TEST(TestingRegistry, WithoutGlobalJobsOnlyHarnessJobsAreKnown) {
  HarnessOptions options;
  options.global_jobs = false;
  Harness harness(std::move(options));
  ASSERT_THAT(harness.Enqueue("q", "TestingGlobalJob"), IsOk());
  absl::StatusOr<std::vector<PerformedJob>> done = harness.Drain();
  ASSERT_THAT(done, IsOkAndHolds(ElementsAre(Failed())));
  EXPECT_EQ((*done)[0].failure->exception, "resque::UnknownJobClass");
  EXPECT_EQ(harness.Register<Throws>("Throws"), absl::OkStatus());
  EXPECT_EQ(harness.Register<Throws>("Throws").code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace resque::testing_kit
