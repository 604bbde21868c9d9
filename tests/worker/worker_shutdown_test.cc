// WorkerOptions::shutdown_timeout, on every backend: an immediate stop (TERM) waits that long, on
// the worker's timer, for the running jobs, then stops them and hands them back to the head of
// their queues with nothing recorded of them. The timer is a ManualClock: the wait runs out
// only when the test advances it.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/failure.h"
#include "core/queue.h"
#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class WorkerShutdownTest : public ::testing::TestWithParam<WorkerBackendFactory> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    queue_ = std::make_unique<Queue>(backend(), &clock());
    RegisterRecord(registry_, journal_);
    // Long runs until it is told to stop (or, once `finish_long_` is set, ends at once).
    RegisterFn(registry_, "Long", [this](const JobContext& ctx) {
      if (finish_long_.load()) {
        journal_.Add("long ran");
        return absl::OkStatus();
      }
      long_started_.Notify();
      journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "long stopped" : "never stopped");
      return absl::OkStatus();
    });
    hooks_.on_failure.push_back([this](const JobEvent&, const absl::Status&) { ++hooked_; });
  }

  Backend& backend() { return env_->backend(); }
  ManualClock& clock() { return env_->clock(); }

  std::string Enqueue(std::string_view class_name, std::string_view args = "", bool track = false) {
    absl::StatusOr<std::string> id =
        queue_->Enqueue("q", class_name, args, {.track = track, .id = ""});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  WorkerOptions Options(absl::Duration shutdown_timeout) {
    WorkerOptions options;
    options.queues = {"q"};
    options.interval = absl::Milliseconds(5);
    options.hostname = kHost;
    options.clock = &clock();
    options.timer = &clock();
    options.heartbeat_interval = absl::ZeroDuration();  // the wait is the timer's only waiter
    options.hooks = &hooks_;
    options.shutdown_timeout = shutdown_timeout;
    options.on_job_done = [this](const JobReport&) { ++reported_; };
    return options;
  }

  // Once a job has started (long_started_), an immediate stop (TERM); true once the shutdown
  // wait has begun (nothing else waits on the timer).
  bool TermOnceRunning(Worker& worker) {
    if (!long_started_.Await()) return false;
    worker.RequestStop(StopMode::kImmediate);
    return Eventually([&] { return clock().waiters() == 1; });
  }

  // Runs what is queued with a plain burst worker, Long ending at once.
  void RunTheRest() {
    finish_long_.store(true);
    WorkerOptions options;
    options.queues = {"q"};
    options.hostname = kHost;
    options.clock = &clock();
    options.burst = true;
    Worker worker(backend(), registry_, options);
    RunningWorker running(worker);
    ASSERT_TRUE(running.AwaitReturn());
  }

  std::optional<JobState> StateOf(const std::string& id) {
    absl::StatusOr<JobStatus> status = StatusTracker(backend(), &clock()).Get(id);
    EXPECT_OK(status);
    return status.ok() ? std::optional<JobState>(status->state) : std::nullopt;
  }
  int64_t Stat(const std::string& name) { return Value(backend().GetStat(name)); }
  std::vector<Failure> Failures() { return Value(FailureStore(backend()).List(0, 1000)); }

  static constexpr char kHost[] = "shutdown-host";
  std::unique_ptr<WorkerBackend> env_;
  std::unique_ptr<Queue> queue_;
  JobRegistry registry_;
  Journal journal_;
  Hooks hooks_;
  Event long_started_;
  std::atomic<bool> finish_long_{false};
  std::atomic<int> hooked_{0};
  std::atomic<int> reported_{0};
};

TEST_P(WorkerShutdownTest, AtTheTimeoutTheRunningJobIsStoppedAndGoesBackFirstInLine) {
  const std::string id = Enqueue("Long", "", /*track=*/true);
  Enqueue("Record", "[1]");
  Worker worker(backend(), registry_, Options(absl::Seconds(5)));
  RunningWorker running(worker);
  ASSERT_TRUE(TermOnceRunning(worker));
  EXPECT_EQ(journal_.size(), 0u) << "stopped before the timeout";
  clock().Advance(absl::Seconds(5));
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_OK(running.status());
  EXPECT_THAT(journal_.entries(), ElementsAre("long stopped"));
  EXPECT_EQ(StateOf(id), JobState::kWaiting);
  EXPECT_EQ(Value(backend().Size("q")), 2);
  EXPECT_THAT(Value(backend().InFlight(worker.worker_ids()[0])), IsEmpty());
  EXPECT_EQ(Stat("processed"), 0);
  EXPECT_EQ(Stat("failed"), 0);
  EXPECT_THAT(Failures(), IsEmpty());
  EXPECT_EQ(worker.counts().processed, 0);
  EXPECT_EQ(hooked_.load(), 0) << "on_failure ran for a job handed back";
  EXPECT_EQ(reported_.load(), 0);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());

  RunTheRest();
  EXPECT_THAT(journal_.entries(), ElementsAre("long stopped", "long ran", "q [1]"));
  EXPECT_EQ(StateOf(id), JobState::kComplete);
}

TEST_P(WorkerShutdownTest, AJobThatEndsDuringTheWaitIsRecordedAndNoNewJobIsTaken) {
  Event release;
  RegisterFn(registry_, "Gate", [&](const JobContext& ctx) {
    long_started_.Notify();
    release.Await();
    journal_.Add(ctx.Cancelled() ? "gate stopped" : "gate done");
    return absl::OkStatus();
  });
  const std::string id = Enqueue("Gate", "", /*track=*/true);
  Enqueue("Record", "[1]");
  Worker worker(backend(), registry_, Options(absl::Hours(1)));
  RunningWorker running(worker);
  ASSERT_TRUE(TermOnceRunning(worker));
  release.Notify();
  // Without the timer advanced: the worker does not wait out the hour once its jobs are done.
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("gate done"));
  EXPECT_EQ(StateOf(id), JobState::kComplete);
  EXPECT_EQ(Stat("processed"), 1);
  EXPECT_EQ(Value(backend().Size("q")), 1);
  EXPECT_EQ(reported_.load(), 1);
}

TEST_P(WorkerShutdownTest, ASecondImmediateStopEndsTheWaitAtOnce) {
  const std::string id = Enqueue("Long", "", /*track=*/true);
  Worker worker(backend(), registry_, Options(absl::Hours(1)));
  RunningWorker running(worker);
  ASSERT_TRUE(TermOnceRunning(worker));
  worker.RequestStop(StopMode::kImmediate);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("long stopped"));
  EXPECT_EQ(StateOf(id), JobState::kWaiting);
  EXPECT_EQ(Value(backend().Size("q")), 1);
  EXPECT_EQ(Stat("failed"), 0);
}

TEST_P(WorkerShutdownTest, ABatchStoppedAtTheTimeoutGoesBackWhole) {
  // The timer stands still, so every batch is quick: sizes 1, 2, then 4 from Long on.
  for (int i = 0; i < 3; ++i) Enqueue("Record", absl::StrFormat("[%d]", i));
  Enqueue("Long");
  for (int i = 4; i < 8; ++i) Enqueue("Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options(absl::Seconds(1));
  options.batch = 4;
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(TermOnceRunning(worker));
  clock().Advance(absl::Seconds(1));
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_EQ(Stat("processed"), 3);
  EXPECT_EQ(Value(backend().Size("q")), 5);
  EXPECT_THAT(Value(backend().InFlight(worker.worker_ids()[0])), IsEmpty());
  RunTheRest();
  EXPECT_THAT(journal_.entries(), ElementsAre("q [0]", "q [1]", "q [2]", "long stopped", "long ran",
                                              "q [4]", "q [5]", "q [6]", "q [7]"));
}

TEST_P(WorkerShutdownTest, ANegativeTimeoutOrUnreliableReserveIsRefused) {
  {
    Worker worker(backend(), registry_, Options(absl::Seconds(-1)));
    EXPECT_CODE(worker.Run(), kInvalidArgument);
  }
  WorkerOptions options = Options(absl::Seconds(5));
  options.reliable = false;
  Worker worker(backend(), registry_, options);
  EXPECT_CODE(worker.Run(), kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerShutdownTest, ::testing::ValuesIn(WorkerBackends()),
                         WorkerBackendName);

}  // namespace
}  // namespace resque::testing
