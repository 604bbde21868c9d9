// The memory backend under threads: nothing lost, nothing taken twice, order kept per producer,
// parked reservers woken. CI also runs these under ThreadSanitizer (label "concurrency"). Every
// loop is bounded by a count and by a deadline; nothing sleeps to let things happen.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/memory/memory_backend.h"
#include "core/backend.h"
#include "core/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"

namespace resque::memory {
namespace {

using ::resque::testing::Value;

// Deadlines are generous: a loaded CI machine under ThreadSanitizer is slow.
constexpr absl::Duration kDeadline = absl::Seconds(120);

// Job "<producer>:<sequence>" of class `class_name`.
std::string Job(std::string_view class_name, int producer, int sequence) {
  return absl::StrFormat(R"({"class":"%s","args":[],"id":"%d:%d"})", class_name, producer,
                         sequence);
}

// The producer and sequence written by Job().
std::pair<int, int> Origin(std::string_view payload) {
  const size_t at = payload.find("\"id\":\"");
  std::string_view id = payload.substr(at + 6);
  id = id.substr(0, id.find('"'));
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(id.data(), id.size()), ':');
  int producer = -1;
  int sequence = -1;
  if (parts.size() == 2) {
    EXPECT_TRUE(absl::SimpleAtoi(parts[0], &producer));
    EXPECT_TRUE(absl::SimpleAtoi(parts[1], &sequence));
  }
  return {producer, sequence};
}

// Waits until `n` Reserve calls wait in `backend`, or the deadline passes.
bool AwaitWaitingReservers(const Backend& backend, int n) {
  const absl::Time deadline = absl::Now() + kDeadline;
  while (WaitingReserversForTesting(backend) < n) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// A start line: returns once `n` threads have arrived (or the deadline passed), so that they
// start their contended work together rather than one after the other.
void ArriveAndWait(std::atomic<int>& arrived, int n, absl::Time deadline) {
  arrived.fetch_add(1);
  while (arrived.load() < n && absl::Now() < deadline) std::this_thread::yield();
}

class MemoryBackendConcurrency : public ::testing::Test {
 protected:
  struct Taken {
    std::string queue;
    std::string payload;
  };

  // Pushes `per_producer` jobs from each of `producers` threads, producer p to queue
  // queues[(p + i) % queues.size()], while `consumers` threads reserve from all queues (each in
  // its own priority order) until every job is taken or the deadline passes. Returns what each
  // consumer took, in the order it took it.
  std::vector<std::vector<Taken>> Run(int producers, int consumers, int per_producer,
                                      const std::vector<std::string>& queues,
                                      absl::Duration reserve_wait) {
    const int total = producers * per_producer;
    std::atomic<int> taken_count{0};
    std::vector<std::vector<Taken>> taken(consumers);
    const absl::Time deadline = absl::Now() + kDeadline;
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&, c] {
        std::vector<std::string> order = queues;
        std::rotate(order.begin(), order.begin() + c % order.size(), order.end());
        while (taken_count.load() < total && absl::Now() < deadline) {
          absl::StatusOr<std::optional<ReservedJob>> job = backend_->Reserve(order, reserve_wait);
          ASSERT_TRUE(job.ok()) << job.status();
          if (!job->has_value()) {
            std::this_thread::yield();  // without a wait, leave the core to the producers
            continue;
          }
          taken[c].push_back({(*job)->queue, (*job)->payload});
          taken_count.fetch_add(1);
        }
      });
    }
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          const std::string& queue = queues[(p + i) % queues.size()];
          if (i % 10 == 0) {
            // Now and then a batch, which must keep its place in the producer's order.
            std::vector<std::string> batch;
            for (; batch.size() < 3 && i < per_producer; ++i) batch.push_back(Job("J", p, i));
            --i;
            ASSERT_TRUE(backend_->PushMany(queue, batch).ok());
          } else {
            ASSERT_TRUE(backend_->Push(queue, Job("J", p, i)).ok());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    return taken;
  }

  // Checks that every job of `producers` x `per_producer` was taken exactly once, and that each
  // consumer saw each producer's jobs on each queue in the order they were pushed (FIFO per
  // producer is what a linearizable FIFO queue promises).
  static void ExpectEachJobOnceInOrder(const std::vector<std::vector<Taken>>& taken, int producers,
                                       int per_producer) {
    std::vector<int> seen(producers * per_producer, 0);
    for (const std::vector<Taken>& mine : taken) {
      std::map<std::pair<std::string, int>, int> last;  // (queue, producer) -> sequence
      for (const Taken& t : mine) {
        const auto [producer, sequence] = Origin(t.payload);
        ASSERT_GE(producer, 0);
        ASSERT_LT(producer, producers);
        ASSERT_GE(sequence, 0);
        ASSERT_LT(sequence, per_producer);
        ++seen[producer * per_producer + sequence];
        auto [it, fresh] = last.try_emplace({t.queue, producer}, sequence);
        if (!fresh) {
          EXPECT_GT(sequence, it->second) << "out of order on " << t.queue;
          it->second = sequence;
        }
      }
    }
    for (size_t i = 0; i < seen.size(); ++i) {
      ASSERT_EQ(seen[i], 1) << "job " << i / per_producer << ":" << i % per_producer;
    }
  }

  ManualClock clock_;
  std::unique_ptr<Backend> backend_ = NewMemoryBackend({.clock = &clock_});
};

TEST_F(MemoryBackendConcurrency, ProducersAndConsumersOnOneQueueTakeEveryJobOnce) {
  const std::vector<std::vector<Taken>> taken =
      Run(/*producers=*/3, /*consumers=*/3, /*per_producer=*/3000, {"q"}, absl::ZeroDuration());
  ExpectEachJobOnceInOrder(taken, 3, 3000);
  EXPECT_EQ(Value(backend_->Size("q")), 0);
}

TEST_F(MemoryBackendConcurrency, ProducersAndConsumersOnSeveralQueuesTakeEveryJobOnce) {
  const std::vector<std::vector<Taken>> taken =
      Run(/*producers=*/3, /*consumers=*/3,
          /*per_producer=*/3000, {"a", "b", "c"}, absl::ZeroDuration());
  ExpectEachJobOnceInOrder(taken, 3, 3000);
  for (const char* q : {"a", "b", "c"}) EXPECT_EQ(Value(backend_->Size(q)), 0);
}

TEST_F(MemoryBackendConcurrency, ConsumersRacingOverAFullQueueTakeEveryJobOnce) {
  // Everything is queued first and the consumers start together, so that they keep fighting
  // over the same nodes at the head: a claim that two threads can both win shows up here.
  constexpr int kJobs = 50000;
  constexpr int kConsumers = 4;
  std::vector<std::string> all;
  for (int i = 0; i < kJobs; ++i) all.push_back(Job("J", 0, i));
  ASSERT_TRUE(backend_->PushMany("q", all).ok());
  std::atomic<int> ready{0};
  std::vector<std::vector<Taken>> taken(kConsumers);
  const absl::Time deadline = absl::Now() + kDeadline;
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      ArriveAndWait(ready, kConsumers, deadline);
      for (int i = 0; i < kJobs; ++i) {
        std::optional<ReservedJob> job = Value(backend_->Reserve({"q"}, absl::ZeroDuration()));
        if (!job.has_value()) break;
        taken[c].push_back({job->queue, job->payload});
      }
    });
  }
  for (std::thread& t : consumers) t.join();
  ExpectEachJobOnceInOrder(taken, 1, kJobs);
  EXPECT_EQ(Value(backend_->Size("q")), 0);
}

TEST_F(MemoryBackendConcurrency, PopsAndRemovalsRacingOverTheSameJobsTakeEachOnce) {
  constexpr int kRounds = 50;
  constexpr int kJobs = 2000;
  const absl::Time deadline = absl::Now() + kDeadline;
  for (int round = 0; round < kRounds && absl::Now() < deadline; ++round) {
    std::vector<std::string> all;
    for (int i = 0; i < kJobs; ++i) all.push_back(Job("Drop", round, i));
    ASSERT_TRUE(backend_->PushMany("q", all).ok());
    std::atomic<int> ready{0};
    std::atomic<int64_t> popped{0};
    std::atomic<int64_t> removed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        ArriveAndWait(ready, 4, deadline);
        for (int i = 0; i < kJobs; ++i) {
          if (t % 2 == 0) {
            if (!Value(backend_->Reserve({"q"}, absl::ZeroDuration())).has_value()) break;
            popped.fetch_add(1);
          } else {
            const int64_t n = Value(backend_->RemoveJobs("q", {.class_name = "Drop"}));
            removed.fetch_add(n);
            if (n == 0) break;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    removed.fetch_add(Value(backend_->RemoveJobs("q", {.class_name = "Drop"})));
    ASSERT_EQ(popped.load() + removed.load(), kJobs) << "round " << round;
    ASSERT_EQ(Value(backend_->Size("q")), 0);
  }
}

TEST_F(MemoryBackendConcurrency, BlockingConsumersTakeEveryJobOnce) {
  const std::vector<std::vector<Taken>> taken =
      Run(/*producers=*/2, /*consumers=*/4,
          /*per_producer=*/2000, {"a", "b"}, absl::Milliseconds(50));
  ExpectEachJobOnceInOrder(taken, 2, 2000);
}

TEST_F(MemoryBackendConcurrency, ParkedReserversAreEachWokenByAPush) {
  constexpr int kReservers = 4;
  std::vector<std::optional<ReservedJob>> got(kReservers);
  std::vector<std::thread> reservers;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < kReservers; ++r) {
    reservers.emplace_back([&, r] {
      // Half wait on "a" first, half on "b" first; the pushes all go to "b".
      const std::vector<std::string> queues =
          r % 2 == 0 ? std::vector<std::string>{"a", "b"} : std::vector<std::string>{"b", "a"};
      got[r] = Value(backend_->Reserve(queues, absl::Seconds(60)));
    });
  }
  EXPECT_TRUE(AwaitWaitingReservers(*backend_, kReservers));
  for (int r = 0; r < kReservers; ++r) EXPECT_TRUE(backend_->Push("b", Job("J", 0, r)).ok());
  for (std::thread& t : reservers) t.join();
  std::vector<int> sequences;
  for (const std::optional<ReservedJob>& job : got) {
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->queue, "b");
    sequences.push_back(Origin(job->payload).second);
  }
  std::sort(sequences.begin(), sequences.end());
  EXPECT_THAT(sequences, ::testing::ElementsAre(0, 1, 2, 3));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(50));
}

TEST_F(MemoryBackendConcurrency, AParkedReserverIsWokenByAPushToItsSecondQueueOnly) {
  std::optional<ReservedJob> got;
  std::thread reserver([&] {
    got = Value(backend_->Reserve({"first", "second"}, absl::Seconds(60)));
  });
  ASSERT_TRUE(AwaitWaitingReservers(*backend_, 1));
  // A push elsewhere wakes nobody for good: the reserver keeps waiting.
  EXPECT_TRUE(backend_->Push("elsewhere", Job("J", 0, 0)).ok());
  EXPECT_TRUE(backend_->Push("second", Job("J", 0, 1)).ok());
  reserver.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->queue, "second");
  EXPECT_EQ(Value(backend_->Size("elsewhere")), 1);
}

TEST_F(MemoryBackendConcurrency, RemoveJobsAndPeekWhilePushingAndPopping) {
  constexpr int kProducers = 2;
  constexpr int kPerProducer = 2000;
  std::atomic<bool> producing{true};
  std::atomic<int> popped_keep{0};
  std::atomic<int> popped_drop{0};
  std::atomic<int64_t> removed{0};
  const absl::Time deadline = absl::Now() + kDeadline;
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        EXPECT_TRUE(backend_->Push("q", Job(i % 3 == 0 ? "Drop" : "Keep", p, i)).ok());
      }
    });
  }
  threads.emplace_back([&] {  // a consumer
    while ((producing.load() || Value(backend_->Size("q")) > 0) && absl::Now() < deadline) {
      std::optional<ReservedJob> job = Value(backend_->Reserve({"q"}, absl::Milliseconds(10)));
      if (!job.has_value()) continue;
      (job->payload.find("Drop") != std::string::npos ? popped_drop : popped_keep).fetch_add(1);
    }
  });
  threads.emplace_back([&] {  // a remover
    while (producing.load() && absl::Now() < deadline) {
      removed.fetch_add(Value(backend_->RemoveJobs("q", {.class_name = "Drop"})));
    }
  });
  threads.emplace_back([&] {  // a peeker: what it sees is in push order per producer
    while (producing.load() && absl::Now() < deadline) {
      std::vector<int> last(kProducers, -1);
      for (const std::string& payload : Value(backend_->Peek("q", 0, 50))) {
        const auto [producer, sequence] = Origin(payload);
        ASSERT_GT(sequence, last[producer]);
        last[producer] = sequence;
      }
      EXPECT_GE(Value(backend_->Size("q")), 0);
    }
  });
  for (int p = 0; p < kProducers; ++p) threads[p].join();
  producing.store(false);
  for (size_t t = kProducers; t < threads.size(); ++t) threads[t].join();
  removed.fetch_add(Value(backend_->RemoveJobs("q", {.class_name = "Drop"})));

  int drops = 0;
  for (int i = 0; i < kPerProducer; ++i) drops += i % 3 == 0 ? 1 : 0;
  drops *= kProducers;
  EXPECT_EQ(popped_keep.load(), kProducers * kPerProducer - drops);
  EXPECT_EQ(popped_drop.load() + removed.load(), drops);
  EXPECT_EQ(Value(backend_->Size("q")), 0);
}

TEST_F(MemoryBackendConcurrency, AnUnlimitedWaitIsWokenByAPush) {
  std::optional<ReservedJob> got;
  std::thread reserver([&] { got = Value(backend_->Reserve({"q"}, absl::InfiniteDuration())); });
  ASSERT_TRUE(AwaitWaitingReservers(*backend_, 1));
  EXPECT_TRUE(backend_->Push("q", Job("J", 0, 0)).ok());
  reserver.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, Job("J", 0, 0));
}

TEST_F(MemoryBackendConcurrency, PushManyLandsAsOneContiguousBlock) {
  constexpr int kProducers = 3;
  constexpr int kBatches = 300;
  constexpr int kBatchSize = 4;
  std::atomic<int> producers_done{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::string> batch;
        for (int i = 0; i < kBatchSize; ++i) batch.push_back(Job("J", p, b * kBatchSize + i));
        EXPECT_TRUE(backend_->PushMany("q", batch).ok());
      }
      producers_done.fetch_add(1);
    });
  }
  // Nobody pops, so every batch a peek sees must be whole and uninterrupted.
  const absl::Time deadline = absl::Now() + kDeadline;
  int peeks = 0;
  do {
    const std::vector<std::string> all =
        Value(backend_->Peek("q", 0, kProducers * kBatches * kBatchSize));
    ASSERT_EQ(all.size() % kBatchSize, 0u);
    for (size_t i = 0; i < all.size(); i += kBatchSize) {
      const auto [producer, first] = Origin(all[i]);
      ASSERT_EQ(first % kBatchSize, 0) << "a batch starts mid-way at " << i;
      for (int k = 1; k < kBatchSize; ++k) {
        ASSERT_EQ(Origin(all[i + k]), std::make_pair(producer, first + k)) << "at " << i + k;
      }
    }
    ++peeks;
  } while (producers_done.load() < kProducers && absl::Now() < deadline);
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(Value(backend_->Size("q")), kProducers * kBatches * kBatchSize);
  EXPECT_GT(peeks, 0);
}

TEST_F(MemoryBackendConcurrency, RemoveQueueWhilePushingNeverLeavesAHiddenJob) {
  const absl::Time deadline = absl::Now() + kDeadline;
  std::atomic<bool> pushing{true};
  std::thread pusher([&] {
    for (int i = 0; i < 5000; ++i) EXPECT_TRUE(backend_->Push("q", Job("J", 0, i)).ok());
    pushing.store(false);
  });
  for (int i = 0; i < 100000 && pushing.load() && absl::Now() < deadline; ++i) {
    ASSERT_TRUE(backend_->RemoveQueue("q").ok());
  }
  pusher.join();
  // A queue that holds jobs is listed, whatever order the push and the removal took.
  const std::vector<std::string> queues = Value(backend_->Queues());
  if (Value(backend_->Size("q")) > 0) {
    EXPECT_THAT(queues, ::testing::ElementsAre("q"));
  }
}

TEST_F(MemoryBackendConcurrency, StatsAndFinishJobCountEveryCall) {
  constexpr int kThreads = 4;
  constexpr int kJobs = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = absl::StrFormat("host:%d:q", t);
      EXPECT_TRUE(backend_->RegisterWorker(worker, "now").ok());
      for (int i = 0; i < kJobs; ++i) {
        EXPECT_TRUE(backend_->StartJob({.worker_id = worker, .working_json = "{}"}).ok());
        EXPECT_TRUE(backend_
                        ->FinishJob({.worker_id = worker,
                                     .failed = i % 5 == 0,
                                     .failure_json = absl::StrFormat(R"({"w":%d})", t)})
                        .ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Value(backend_->GetStat("processed")), kThreads * kJobs);
  EXPECT_EQ(Value(backend_->GetStat("failed")), kThreads * kJobs / 5);
  EXPECT_EQ(Value(backend_->FailureCount()), kThreads * kJobs / 5);
  EXPECT_EQ(Value(backend_->GetStat("processed:host:2:q")), kJobs);
  EXPECT_EQ(Value(backend_->Workers()).size(), static_cast<size_t>(kThreads));
}

TEST(MemoryBackendLifetime, DestroyingTheBackendWakesAParkedReserver) {
  std::unique_ptr<Backend> backend = NewMemoryBackend();
  std::optional<absl::StatusOr<std::optional<ReservedJob>>> result;
  std::thread reserver(
      [&, raw = backend.get()] { result = raw->Reserve({"q"}, absl::InfiniteDuration()); });
  ASSERT_TRUE(AwaitWaitingReservers(*backend, 1));
  backend.reset();  // must neither hang nor crash
  reserver.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kCancelled);
}

TEST(MemoryBackendLifetime, ManyBackendsComeAndGoWhileThreadsUseOthers) {
  // Each backend has its own epoch domain: a thread's cached slot of a dead one must not be used.
  for (int round = 0; round < 50; ++round) {
    std::unique_ptr<Backend> backend = NewMemoryBackend();
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&backend, t] {
        for (int i = 0; i < 100; ++i) {
          EXPECT_TRUE(backend->Push("q", Job("J", t, i)).ok());
          EXPECT_TRUE(backend->Reserve({"q"}, absl::ZeroDuration()).ok());
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
}

}  // namespace
}  // namespace resque::memory
