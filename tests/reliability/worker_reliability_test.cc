// The worker's side of reliability, on the memory backend: jobs wait in the slot's in-flight list
// while they run, heartbeats are written, and dead workers are found and their jobs handed back.
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "backends/memory/memory_backend.h"
#include "core/clock.h"
#include "core/heartbeat.h"
#include "core/job_registry.h"
#include "core/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"

namespace resque {
namespace {

using ::resque::testing::Value;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records what its worker's in-flight list held while it ran.
class Inspect : public Job {
 public:
  static inline Backend* backend = nullptr;
  static inline std::vector<ReservedJob> seen;
  absl::Status Perform(const JobContext& ctx) override {
    seen = Value(backend->InFlight(ctx.worker_id()));
    return absl::OkStatus();
  }
};

std::string Payload(int n) {
  return absl::StrFormat(R"({"class":"Inspect","args":[%d],"id":"id%d"})", n, n);
}

// A pid that no process has: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

class WorkerReliabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(registry_.Register<Inspect>("Inspect"));
    Inspect::backend = backend_.get();
    Inspect::seen.clear();
  }

  WorkerOptions Options() {
    WorkerOptions options;
    options.queues = {"mail"};
    options.hostname = "here";
    options.clock = &clock_;
    options.log = nullptr;
    return options;
  }

  ManualClock clock_{absl::FromUnixSeconds(1764000000)};
  std::unique_ptr<Backend> backend_ = memory::NewMemoryBackend({.clock = &clock_});
  JobRegistry registry_;
};

TEST_F(WorkerReliabilityTest, AJobWaitsInItsSlotsInFlightListWhileItRunsAndLeavesIt) {
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  Worker worker(*backend_, registry_, Options());
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  ASSERT_EQ(Inspect::seen.size(), 1u);
  EXPECT_EQ(Inspect::seen[0].payload, Payload(1));
  EXPECT_THAT(Value(backend_->InFlight(worker.worker_ids()[0])), IsEmpty());
  EXPECT_EQ(Value(backend_->GetStat("processed")), 1);
}

TEST_F(WorkerReliabilityTest, AnUnreliableWorkerKeepsNothingInFlight) {
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  WorkerOptions options = Options();
  options.reliable = false;
  Worker worker(*backend_, registry_, options);
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_THAT(Inspect::seen, IsEmpty());
  EXPECT_EQ(Value(backend_->GetStat("processed")), 1);
}

TEST_F(WorkerReliabilityTest, BeatAndRecoverWritesOurHeartbeatAsIso8601) {
  Worker worker(*backend_, registry_, Options());
  EXPECT_EQ(worker.BeatAndRecover(), 0);
  EXPECT_THAT(Value(backend_->Heartbeats()), ElementsAre(std::pair<std::string, std::string>(
                                                 worker.worker_ids()[0], "2025-11-24T16:00:00Z")));
}

TEST_F(WorkerReliabilityTest, AWorkerSilentForLongerThanTheThresholdIsRecoveredOnce) {
  const std::string dead = "elsewhere:4242:mail";
  ASSERT_OK(backend_->RegisterWorker(dead, "then"));
  ASSERT_OK(backend_->Heartbeat({dead}, FormatHeartbeat(clock_.Now())));
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  ASSERT_OK(backend_->Push("mail", Payload(2)));
  ASSERT_TRUE(Value(backend_->ReserveInFlight({"mail"}, absl::ZeroDuration(), dead)).has_value());

  WorkerOptions options = Options();
  options.dead_after = absl::Seconds(60);
  Worker a(*backend_, registry_, options);
  options.hostname = "there";
  Worker b(*backend_, registry_, options);

  clock_.Advance(absl::Seconds(60));  // not older than the threshold yet
  EXPECT_EQ(a.BeatAndRecover(), 0);
  EXPECT_THAT(Value(backend_->Workers()), ElementsAre(dead));

  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(a.BeatAndRecover(), 1);
  EXPECT_EQ(b.BeatAndRecover(), 0);  // already done
  EXPECT_THAT(Value(backend_->Peek("mail", 0, 10)), ElementsAre(Payload(1), Payload(2)));
  EXPECT_THAT(Value(backend_->InFlight(dead)), IsEmpty());
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
}

TEST_F(WorkerReliabilityTest, AWorkerThatKeepsBeatingIsNeverRecovered) {
  WorkerOptions options = Options();
  Worker alive(*backend_, registry_, options);
  options.hostname = "there";
  Worker watcher(*backend_, registry_, options);
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  const std::string id = alive.worker_ids()[0];
  ASSERT_TRUE(Value(backend_->ReserveInFlight({"mail"}, absl::ZeroDuration(), id)).has_value());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(alive.BeatAndRecover(), 0);
    clock_.Advance(absl::Seconds(30));
    EXPECT_EQ(watcher.BeatAndRecover(), 0);
  }
  EXPECT_EQ(Value(backend_->InFlight(id)).size(), 1u);
}

TEST_F(WorkerReliabilityTest, AHeartbeatInUnixSecondsIsReadToo) {
  const std::string dead = "elsewhere:1:mail";
  ASSERT_OK(backend_->Heartbeat({dead}, absl::StrFormat("%d", absl::ToUnixSeconds(clock_.Now()))));
  clock_.Advance(absl::Minutes(2));
  Worker worker(*backend_, registry_, Options());
  worker.BeatAndRecover();
  EXPECT_EQ(Value(backend_->Heartbeats()).size(), 1u);  // ours only
}

TEST_F(WorkerReliabilityTest, RunRecoversTheJobsOfADeadProcessOfItsOwnHostFirst) {
  const std::string dead = absl::StrFormat("here:%d:mail", DeadPid());
  ASSERT_OK(backend_->RegisterWorker(dead, "then"));
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  ASSERT_TRUE(Value(backend_->ReserveInFlight({"mail"}, absl::ZeroDuration(), dead)).has_value());
  WorkerOptions options = Options();
  options.burst = true;
  Worker worker(*backend_, registry_, options);
  ASSERT_OK(worker.Run());
  EXPECT_EQ(worker.counts().processed, 1);
  EXPECT_THAT(Value(backend_->InFlight(dead)), IsEmpty());
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
  EXPECT_THAT(Value(backend_->Heartbeats()), IsEmpty());  // ours went when we stopped
}

TEST(Heartbeat, ParsesWhatRubyAndWeWrite) {
  const absl::Time t = absl::FromUnixSeconds(1764079469);
  EXPECT_EQ(FormatHeartbeat(t), "2025-11-25T14:04:29Z");
  EXPECT_EQ(Value(ParseHeartbeat("2025-11-25T14:04:29Z")), t);
  EXPECT_EQ(Value(ParseHeartbeat("2025-11-25T15:04:29+01:00")), t);
  EXPECT_EQ(Value(ParseHeartbeat("1764079469")), t);
  EXPECT_FALSE(ParseHeartbeat("yesterday").ok());
}

}  // namespace
}  // namespace resque
