// The worker under threads, on the memory backend: several workers with several slots each,
// producers pushing meanwhile, pause/resume and kills thrown in. Whatever the interleaving,
// every job taken is performed once and recorded once. CI runs these under ThreadSanitizer
// (label "concurrency"). Every loop is bounded by a count and every wait by a deadline.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "backends/memory/memory_backend.h"
#include "core/failure.h"
#include "core/queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

using ::testing::IsEmpty;

class WorkerConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // "Work" writes its args to the journal; args ending in "fail"] fail.
    RegisterFn(registry_, "Work", [this](const JobContext& ctx) {
      journal_.Add(std::string(ctx.args()));
      if (ctx.args().ends_with("\"fail\"]")) return absl::InternalError("asked to fail");
      return absl::OkStatus();
    });
  }

  WorkerOptions Options(std::string host, int concurrency) {
    WorkerOptions options;
    options.queues = {"high", "low"};
    options.hostname = std::move(host);
    options.concurrency = concurrency;
    options.interval = absl::Milliseconds(1);
    options.log = nullptr;
    return options;
  }

  int64_t Stat(const std::string& name) { return Value(backend_->GetStat(name)); }

  // With ids drawn by NewJobId, from every producer thread at once.
  absl::Status Enqueue(std::string_view queue, std::string_view class_name,
                       std::string_view args = "") {
    return queue_.Enqueue(queue, class_name, args).status();
  }

  // Two multi-slot workers, one blocking and one polling, both with batches of up to `batch`,
  // while four producers push, one worker is paused and resumed and the other's jobs are killed.
  void EveryJobOnceWhileProducersPush(int batch);

  std::unique_ptr<Backend> backend_ = memory::NewMemoryBackend();
  Queue queue_{*backend_};
  JobRegistry registry_;
  Journal journal_;
};

// Job `i` of producer `p`: every 7th one fails.
std::string Args(int p, int i) {
  return absl::StrFormat(R"([%d,%d,"%s"])", p, i, i % 7 == 0 ? "fail" : "ok");
}

TEST_F(WorkerConcurrencyTest, WorkersWithSeveralSlotsPerformEveryJobOnceWhileProducersPush) {
  EveryJobOnceWhileProducersPush(1);
}

TEST_F(WorkerConcurrencyTest, BatchingWorkersPerformEveryJobOnceWhileProducersPush) {
  EveryJobOnceWhileProducersPush(16);
}

void WorkerConcurrencyTest::EveryJobOnceWhileProducersPush(int batch) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 300;
  constexpr int kTotal = kProducers * kPerProducer;
  WorkerOptions blocking = Options("host-a", 4);
  blocking.blocking = true;
  blocking.interval = absl::Milliseconds(20);
  blocking.batch = batch;
  WorkerOptions polling = Options("host-b", 3);
  polling.batch = batch;
  Worker a(*backend_, registry_, blocking);
  Worker b(*backend_, registry_, polling);
  RunningWorker running_a(a);
  RunningWorker running_b(b);

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([this, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        EXPECT_OK(Enqueue(i % 2 == 0 ? "high" : "low", "Work", Args(p, i)));
      }
    });
  }
  // Pause and resume one worker, and kill the other's running jobs, while the jobs flow.
  std::thread meddler([&] {
    for (int round = 0; round < 20 && journal_.size() < kTotal; ++round) {
      a.Pause();
      b.KillRunningJobs();
      a.Resume();
    }
  });
  for (std::thread& t : producers) t.join();
  meddler.join();

  ASSERT_TRUE(journal_.AwaitSize(kTotal));
  ASSERT_TRUE(Eventually([&] { return Stat("processed") == kTotal; }));
  a.RequestStop(StopMode::kGraceful);
  b.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running_a.AwaitReturn());
  ASSERT_TRUE(running_b.AwaitReturn());

  std::map<std::string, int> times;
  for (const std::string& args : journal_.entries()) ++times[args];
  ASSERT_EQ(times.size(), static_cast<size_t>(kTotal));
  for (const auto& [args, n] : times) EXPECT_EQ(n, 1) << args;
  EXPECT_EQ(a.counts().processed + b.counts().processed, kTotal);
  // Kills may fail jobs besides the ones that fail by themselves; each failure is one record.
  const int64_t failed = Stat("failed");
  EXPECT_GE(failed, kProducers * ((kPerProducer + 6) / 7));
  EXPECT_EQ(Value(backend_->FailureCount()), failed);
  EXPECT_EQ(a.counts().failed + b.counts().failed, failed);
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
  EXPECT_EQ(Value(backend_->Size("high")) + Value(backend_->Size("low")), 0);
}

TEST_F(WorkerConcurrencyTest, MaxJobsTakesExactlyThatManyAcrossSlots) {
  for (const int batch : {1, 8}) {
    journal_.Clear();
    ASSERT_OK(backend_->RemoveQueue("high"));
    ASSERT_OK(backend_->ClearStat("processed"));
    for (int i = 0; i < 100; ++i) ASSERT_OK(Enqueue("high", "Work", Args(0, i)));
    WorkerOptions options = Options("host", 6);
    options.blocking = true;
    options.interval = absl::Milliseconds(10);
    options.max_jobs = 37;
    options.batch = batch;
    Worker worker(*backend_, registry_, options);
    RunningWorker running(worker);
    ASSERT_TRUE(running.AwaitReturn());
    EXPECT_EQ(journal_.size(), 37u) << "batch " << batch;
    EXPECT_EQ(Stat("processed"), 37) << "batch " << batch;
    EXPECT_EQ(Value(backend_->Size("high")), 63) << "batch " << batch;
  }
}

TEST_F(WorkerConcurrencyTest, TimeoutsLandOnTheJobsThatRanLateOnly) {
  RegisterFn(registry_, "Slow", [this](const JobContext& ctx) {
    journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "slow cancelled" : "slow missed");
    return absl::OkStatus();
  });
  constexpr int kSlow = 12;
  constexpr int kQuick = 200;
  for (int i = 0; i < kQuick; ++i) {
    ASSERT_OK(Enqueue("high", "Work", absl::StrFormat(R"([%d,"ok"])", i)));
    if (i % 16 == 0 && i < 16 * kSlow) {
      ASSERT_OK(Enqueue("high", "Slow"));
    }
  }
  WorkerOptions options = Options("host", 4);
  // Long enough that a quick job never runs past it, even under ThreadSanitizer on a busy machine.
  options.job_timeout = absl::Milliseconds(250);
  options.burst = true;
  Worker worker(*backend_, registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_EQ(journal_.size(), static_cast<size_t>(kSlow + kQuick));
  const std::vector<Failure> failures = Value(FailureStore(*backend_).List(0, 1000));
  ASSERT_EQ(failures.size(), static_cast<size_t>(kSlow));
  for (const Failure& f : failures) {
    EXPECT_EQ(f.exception, "resque::JobTimeout");
    EXPECT_THAT(f.payload, ::testing::HasSubstr("\"Slow\""));
  }
  int cancelled = 0;
  for (const std::string& entry : journal_.entries()) cancelled += entry == "slow cancelled";
  EXPECT_EQ(cancelled, kSlow);
}

TEST_F(WorkerConcurrencyTest, ImmediateStopRecordsEveryJobItTook) {
  constexpr int kTotal = 2000;
  WorkerOptions options = Options("host", 4);
  options.blocking = true;
  options.interval = absl::Milliseconds(20);
  Worker worker(*backend_, registry_, options);
  RunningWorker running(worker);
  std::thread producer([this] {
    for (int i = 0; i < kTotal; ++i) EXPECT_OK(Enqueue("low", "Work", Args(1, i)));
  });
  ASSERT_TRUE(journal_.AwaitSize(kTotal / 4));
  worker.RequestStop(StopMode::kImmediate);
  ASSERT_TRUE(running.AwaitReturn());
  producer.join();
  // Taken off the queue = recorded: none is lost between the reserve and the record.
  const int64_t taken = kTotal - Value(backend_->Size("low"));
  EXPECT_EQ(Stat("processed"), taken);
  EXPECT_EQ(worker.counts().processed, taken);
  EXPECT_LE(journal_.size(), static_cast<size_t>(taken));
  EXPECT_THAT(Value(backend_->Workers()), IsEmpty());
}

}  // namespace
}  // namespace resque::testing
