// bench_memory_queue: the in-memory backend's push, pop and push+pop, on one thread and with two
// producers and two consumers, beside the baselines it is judged against in the same binary: a
// std::mutex + std::deque queue and a raw moodycamel::ConcurrentQueue.
//
// Every queue carries the same ~120-byte payload strings: copied in on push, moved out on pop.
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "benchmark/benchmark.h"
#include "concurrentqueue/concurrentqueue.h"

namespace resque::bench {
namespace {

// How many items a single-thread benchmark keeps in the queue at most: pushes are drained and
// pops refilled, with the timer paused, every kBatch iterations.
constexpr int kBatch = 1024;

const std::string& Payload() {
  static const std::string* payload = new std::string(MakePayload("NoOp", "[1]"));
  return *payload;
}

class MutexDeque {
 public:
  bool Push(const std::string& payload) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(payload);
    return true;
  }
  bool Pop(std::string* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::deque<std::string> items_;
};

class RawMoodycamel {
 public:
  bool Push(const std::string& payload) { return queue_.enqueue(payload); }
  bool Pop(std::string* out) { return queue_.try_dequeue(*out); }

 private:
  moodycamel::ConcurrentQueue<std::string> queue_;
};

#ifdef RESQUE_BENCH_HAVE_MEMORY
class MemoryBackend {
 public:
  bool Push(const std::string& payload) { return backend_->Push(queues_[0], payload).ok(); }
  bool Pop(std::string* out) {
    absl::StatusOr<std::optional<ReservedJob>> job =
        backend_->Reserve(queues_, absl::ZeroDuration());
    if (!job.ok() || !job->has_value()) return false;
    *out = std::move((*job)->payload);
    return true;
  }

 private:
  std::unique_ptr<Backend> backend_ = *OpenBackend("memory://");
  const std::vector<std::string> queues_ = {"bench"};
};
#endif

template <typename Q>
void BM_Push(benchmark::State& state) {
  Q queue;
  std::string out;
  int pending = 0;
  for (auto _ : state) {
    if (!queue.Push(Payload())) {
      state.SkipWithError("push failed");
      break;
    }
    if (++pending == kBatch) {
      state.PauseTiming();
      while (queue.Pop(&out)) {
      }
      pending = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Q>
void BM_Pop(benchmark::State& state) {
  Q queue;
  std::string out;
  int left = 0;
  for (auto _ : state) {
    if (left == 0) {
      state.PauseTiming();
      for (int i = 0; i < kBatch; ++i) queue.Push(Payload());
      left = kBatch;
      state.ResumeTiming();
    }
    if (!queue.Pop(&out)) {
      state.SkipWithError("pop found the queue empty");
      break;
    }
    --left;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Q>
void BM_PushPop(benchmark::State& state) {
  Q queue;
  std::string out;
  for (auto _ : state) {
    if (!queue.Push(Payload()) || !queue.Pop(&out)) {
      state.SkipWithError("push or pop failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// Two producer threads push, two consumer threads pop, each thread one item per iteration; items
// counts the jobs that went through. The queue is made by thread 0 before the start barrier and
// destroyed by it after the end barrier that Google Benchmark puts around the timed loop.
template <typename Q>
void BM_PushPop2x2(benchmark::State& state) {
  static std::unique_ptr<Q> shared;
  if (state.thread_index() == 0) shared = std::make_unique<Q>();
  const bool producer = state.thread_index() % 2 == 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string out;
  // After an error every thread runs out its iterations without work (continue, not break), so
  // that all four reach the end barrier.
  for (auto _ : state) {
    Q& queue = *shared;
    if (state.error_occurred()) continue;
    if (producer) {
      queue.Push(Payload());
      continue;
    }
    // Bounded: as many items are pushed as popped, and a lost item ends it at the deadline.
    for (int tries = 1; !queue.Pop(&out); ++tries) {
      std::this_thread::yield();
      if (tries % 4096 == 0 && std::chrono::steady_clock::now() > give_up) {
        state.SkipWithError("a consumer waited 30 s for an item");
        break;
      }
    }
  }
  state.SetItemsProcessed(producer ? 0 : state.iterations());
  if (state.thread_index() == 0) {
    while (shared->Pop(&out)) {
    }
  }
}

#define RESQUE_QUEUE_BENCHMARKS(Q)   \
  BENCHMARK_TEMPLATE(BM_Push, Q);    \
  BENCHMARK_TEMPLATE(BM_Pop, Q);     \
  BENCHMARK_TEMPLATE(BM_PushPop, Q); \
  BENCHMARK_TEMPLATE(BM_PushPop2x2, Q)->Threads(4)->UseRealTime();

RESQUE_QUEUE_BENCHMARKS(MutexDeque)
RESQUE_QUEUE_BENCHMARKS(RawMoodycamel)
#ifdef RESQUE_BENCH_HAVE_MEMORY
RESQUE_QUEUE_BENCHMARKS(MemoryBackend)
#endif

}  // namespace
}  // namespace resque::bench

BENCHMARK_MAIN();
