// The worker's side of reliability, on the memory backend: jobs wait in the slot's in-flight list
// while they run, heartbeats are written, and dead workers are found and their jobs handed back.
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/memory/memory_backend.h"
#include "core/backend_wrapper.h"
#include "core/clock.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/job_registry.h"
#include "core/liveness.h"
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

  // One of ours (it declared the 60 s it is judged by, and keeps jobs in flight), beating now,
  // and jobs 1 and 2 on "mail".
  void RegisterOursBeatingWithTwoJobs(const std::string& id) {
    ASSERT_OK(
        backend_->RegisterWorker(id, "then", {.dead_after = absl::Seconds(60), .in_flight = true}));
    ASSERT_OK(backend_->Heartbeat({id}, FormatHeartbeat(clock_.Now())));
    ASSERT_OK(backend_->Push("mail", Payload(1)));
    ASSERT_OK(backend_->Push("mail", Payload(2)));
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
  RegisterOursBeatingWithTwoJobs(dead);
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
  clock_.Advance(absl::Minutes(6));  // a peer's beat (none declared): Ruby's 300 s apply
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

// ---- Mixed fleets: every worker judged by its own rule ----

// A heartbeat as Ruby resque writes it: Time.at(redis TIME seconds).iso8601 on a host in UTC.
std::string RubyBeat(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S+00:00", absl::FromUnixSeconds(absl::ToUnixSeconds(t)),
                          absl::UTCTimeZone());
}

// A working-on record as Ruby's Worker#working_on writes it.
std::string RubyWorking(const std::string& payload) {
  return absl::StrFormat(R"({"queue":"mail","run_at":"2025-11-24T16:00:00Z","payload":%s})",
                         payload);
}

TEST_F(WorkerReliabilityTest, ALiveRubyWorkerBeatingEverySixtySecondsIsNeverUnregistered) {
  // Registered, beating and working as Ruby does: HSET every Resque.heartbeat_interval (60 s,
  // plus the time the beat itself takes), in whole seconds.
  const std::string ruby = "ruby-host:777:mail";
  ASSERT_OK(backend_->RegisterWorker(ruby, "2025-11-24 16:00:00 +0000"));
  ASSERT_OK(backend_->StartJob({.worker_id = ruby, .working_json = RubyWorking(Payload(1))}));
  Worker ours(*backend_, registry_, Options());  // --dead-after 60, checks every 5 s
  // Time moves in steps of 100 ms for 30 minutes; Ruby's beats and our rounds each come at
  // their own cadence, Ruby's 700 ms after ours, drifting by 400 ms a beat.
  const absl::Time start = clock_.Now();
  absl::Time next_ruby_beat = start + absl::Milliseconds(700);
  absl::Time next_round = start;
  for (int step = 0; step < 10 * 60 * 30; ++step) {
    if (clock_.Now() >= next_ruby_beat) {
      ASSERT_OK(backend_->Heartbeat({ruby}, RubyBeat(clock_.Now())));
      next_ruby_beat += absl::Milliseconds(60400);
    }
    if (clock_.Now() >= next_round) {
      EXPECT_EQ(ours.BeatAndRecover(), 0);
      next_round += absl::Seconds(5);
    }
    clock_.Advance(absl::Milliseconds(100));
  }
  EXPECT_THAT(Value(backend_->Workers()), ElementsAre(ruby));
  EXPECT_EQ(Value(backend_->FailureCount()), 0);
}

TEST_F(WorkerReliabilityTest, ARubyWorkerSilentPastItsPruneIntervalIsPrunedWithItsJobFailed) {
  const std::string ruby = "ruby-host:777:mail";
  ASSERT_OK(backend_->SetStatus("id1", R"({"status":2})", absl::InfiniteDuration(), false));
  ASSERT_OK(backend_->RegisterWorker(ruby, "2025-11-24 16:00:00 +0000"));
  ASSERT_OK(backend_->StartJob({.worker_id = ruby, .working_json = RubyWorking(Payload(1))}));
  ASSERT_OK(backend_->Heartbeat({ruby}, RubyBeat(clock_.Now())));
  Worker ours(*backend_, registry_, Options());
  clock_.Advance(absl::Seconds(300) + absl::Milliseconds(999));  // 300 whole seconds: alive
  EXPECT_EQ(ours.BeatAndRecover(), 0);
  EXPECT_THAT(Value(backend_->Workers()), ElementsAre(ruby));

  clock_.Advance(absl::Milliseconds(1));  // 301: dead, as Ruby's prune_dead_workers judges
  EXPECT_EQ(ours.BeatAndRecover(), 0);
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
  EXPECT_EQ(Value(backend_->WorkerJob(ruby)), std::nullopt);
  const std::vector<std::string> failures = Value(backend_->Failures(0, 10));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0],
            absl::StrFormat(R"({"failed_at":"2025/11/24 16:05:01 UTC","payload":%s,)"
                            R"("exception":"Resque::PruneDeadWorkerDirtyExit","error":"Worker )"
                            R"(%s did not gracefully exit while processing Inspect",)"
                            R"("backtrace":[],"worker":"%s","queue":"mail"})",
                            Payload(1), ruby, ruby));
  EXPECT_EQ(Value(backend_->GetStat("failed")), 1);
  EXPECT_THAT(Value(backend_->GetStatus("id1")), ::testing::HasSubstr(R"("status":3)"));
  EXPECT_EQ(ours.BeatAndRecover(), 0);  // once
  EXPECT_EQ(Value(backend_->FailureCount()), 1);
}

TEST_F(WorkerReliabilityTest, ADeadPeerOfThisHostHasItsRunningJobRecordedAsADirtyExit) {
  const std::string php = absl::StrFormat("here:%d:mail", DeadPid());
  ASSERT_OK(backend_->RegisterWorker(php, "then"));
  ASSERT_OK(backend_->StartJob({.worker_id = php, .working_json = RubyWorking(Payload(1))}));
  WorkerOptions options = Options();
  options.burst = true;
  Worker worker(*backend_, registry_, options);
  ASSERT_OK(worker.Run());
  const std::vector<std::string> failures = Value(backend_->Failures(0, 10));
  ASSERT_EQ(failures.size(), 1u);
  const Failure f = Value(DecodeFailure(failures[0]));
  EXPECT_EQ(f.exception, "Resque::DirtyExit");
  EXPECT_EQ(f.error, "Job still being processed");
  EXPECT_EQ(f.worker, php);
  EXPECT_EQ(f.payload, Payload(1));
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
}

TEST_F(WorkerReliabilityTest, AWorkerWithAShortDeadAfterCannotTakeTheJobOfOneThatDeclaredLonger) {
  WorkerOptions options = Options();
  options.dead_after = absl::Seconds(60);
  Worker patient(*backend_, registry_, options);
  options.hostname = "there";
  options.dead_after = absl::Seconds(16);  // the least allowed
  Worker hasty(*backend_, registry_, options);
  ASSERT_OK(backend_->RegisterWorker(patient.worker_ids()[0], "then",
                                     {.dead_after = absl::Seconds(60), .in_flight = true}));
  ASSERT_OK(backend_->Push("mail", Payload(1)));
  const std::string id = patient.worker_ids()[0];
  ASSERT_TRUE(Value(backend_->ReserveInFlight({"mail"}, absl::ZeroDuration(), id)).has_value());
  // The patient one beats late (every 40 s): too late for 16 s, in time for its own 60 s.
  for (int tick = 0; tick < 8 * 10; ++tick) {
    if (tick % 8 == 0) patient.BeatAndRecover();
    EXPECT_EQ(hasty.BeatAndRecover(), 0);
    clock_.Advance(absl::Seconds(5));
  }
  EXPECT_EQ(Value(backend_->InFlight(id)).size(), 1u);
  EXPECT_EQ(Value(backend_->Size("mail")), 0);
}

TEST_F(WorkerReliabilityTest, ADeadAfterBelowThreeHeartbeatsAndASecondIsRefused) {
  WorkerOptions options = Options();
  options.dead_after = absl::Milliseconds(1);
  Worker worker(*backend_, registry_, options);
  const absl::Status s = worker.Run();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("at least 16s"));
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
  EXPECT_OK(CheckLivenessOptions(
      {.heartbeat_interval = absl::Seconds(5), .dead_after = absl::Seconds(16)}));
  EXPECT_FALSE(CheckLivenessOptions({.heartbeat_interval = absl::Seconds(5),
                                     .dead_after = absl::Milliseconds(15999)})
                   .ok());
  EXPECT_FALSE(CheckLivenessOptions({.peer_dead_after = absl::Seconds(59)}).ok());
}

TEST_F(WorkerReliabilityTest, OurWorkerPrunedByAPeerHasItsOtherJobsRecoveredOnce) {
  // One of ours, dead with two jobs in flight, the first of them running.
  const std::string dead = "elsewhere:4242:mail";
  RegisterOursBeatingWithTwoJobs(dead);
  ASSERT_EQ(Value(backend_->ReserveInFlightMany({"mail"}, absl::ZeroDuration(), dead, 2)).size(),
            2u);
  ASSERT_OK(backend_->StartJob({.worker_id = dead, .working_json = RubyWorking(Payload(1))}));
  // Ruby's pruning: a DirtyExit record for the running job, then unregister_worker.
  ASSERT_OK(backend_->PushFailure(absl::StrFormat(
      R"({"failed_at":"2025/11/24 16:06:00 UTC","payload":%s,"exception":"Resque::PruneDeadWorkerDirtyExit","error":"Worker %s did not gracefully exit while processing Inspect","backtrace":[],"worker":"%s","queue":"mail"})",
      Payload(1), dead, dead)));
  ASSERT_OK(backend_->UnregisterWorker(dead));

  Worker a(*backend_, registry_, Options());
  WorkerOptions options = Options();
  options.hostname = "there";
  Worker b(*backend_, registry_, options);
  EXPECT_EQ(a.BeatAndRecover(), 1);
  EXPECT_EQ(b.BeatAndRecover(), 0);
  EXPECT_THAT(Value(backend_->Peek("mail", 0, 10)), ElementsAre(Payload(2)));
  EXPECT_THAT(Value(backend_->InFlight(dead)), IsEmpty());
  EXPECT_EQ(Value(backend_->FailureCount()), 1);
  EXPECT_THAT(Value(backend_->ReadLiveness()).orphans, IsEmpty());
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

namespace resque {
namespace {

// A server that hangs as a worker registers: RegisterWorker waits until the backend's waits are
// capped (Backend::CapWaits), as a Redis backend's wait on a stopped server ends, or 20 s.
class HangsOnRegister : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;

  bool AwaitRegistering(absl::Duration within) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(within), [&] { return registering_; });
  }

 protected:
  absl::Status DoRegisterWorker(std::string_view, std::string_view,
                                const std::optional<WorkerLiveness>&) override {
    std::unique_lock lock(mu_);
    registering_ = true;
    cv_.notify_all();
    if (cv_.wait_for(lock, std::chrono::seconds(20), [&] { return capped_; })) {
      return absl::UnavailableError("cut short by the cap");
    }
    return absl::DeadlineExceededError("never capped");
  }
  void DoCapWaits(absl::Duration cap) override {
    std::lock_guard lock(mu_);
    if (cap != absl::InfiniteDuration()) capped_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool registering_ = false;
  bool capped_ = false;
};

class Noop : public Job {
 public:
  absl::Status Perform(const JobContext&) override { return absl::OkStatus(); }
};

// A stop while the worker registers cuts the registration's wait short, as it does the slots'
// waits once they run, and Run returns OK: it never worked, and nothing is left registered.
TEST(WorkerStartTest, AStopDuringRegistrationCapsItsWaitAndRunReturnsOk) {
  std::unique_ptr<Backend> memory = memory::NewMemoryBackend({});
  HangsOnRegister backend(memory.get());
  JobRegistry registry;
  ASSERT_OK(registry.Register<Noop>("Noop"));
  WorkerOptions options;
  options.queues = {"mail"};
  options.log = nullptr;
  Worker worker(backend, registry, options);
  absl::Status result = absl::UnknownError("not returned");
  const absl::Time start = absl::Now();
  std::thread run([&] { result = worker.Run(); });
  ASSERT_TRUE(backend.AwaitRegistering(absl::Seconds(10)));
  worker.RequestStop(StopMode::kImmediate);
  run.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_OK(result);
  EXPECT_THAT(Value(memory->Workers()), IsEmpty());
}

}  // namespace
}  // namespace resque
