// bench_redis: the Redis backend's enqueue (Push one at a time, PushMany batched) against raw
// hiredis RPUSH pipelined at the same depth, and its Reserve (+FinishJob, what a worker does per
// job) against raw LPOP. Needs RESQUE_BENCH_REDIS=redis://127.0.0.1:PORT (bench/run.sh sets it);
// every key it writes is under the "resque-bench" namespace and deleted afterwards.
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/raw_redis.h"
#include "benchmark/benchmark.h"

namespace resque::bench {
namespace {

constexpr char kRawKey[] = "resque-bench:queue:raw";
// Lists are emptied (timer paused) when they pass this many items, and pops refilled by it.
constexpr int kListCap = 20000;

const std::string& Payload() {
  static const std::string* payload = new std::string(MakePayload("NoOp", "[1]"));
  return *payload;
}

// Appends `n` payloads to `key` in one RPUSH.
bool Fill(RawRedis& redis, std::string_view key, int n) {
  std::vector<std::string_view> argv = {"RPUSH", key};
  argv.insert(argv.end(), n, Payload());
  return redis.Run(argv);
}

// For benchmarks that take items from `key`: when fewer than `need` are left (`*left` counts
// them), appends kListCap more, with the timer paused.
void KeepFilled(benchmark::State& state, RawRedis& redis, std::string_view key, int need,
                int* left) {
  if (*left >= need) return;
  state.PauseTiming();
  Fill(redis, key, kListCap);
  *left += kListCap;
  state.ResumeTiming();
}

// Raw hiredis: `depth` RPUSH commands of one payload each, sent together, then their replies.
void BM_RawRpushPipelined(benchmark::State& state) {
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (redis == nullptr) return;
  const int depth = static_cast<int>(state.range(0));
  int64_t in_list = 0;
  for (auto _ : state) {
    for (int i = 0; i < depth; ++i) redis->Append({"RPUSH", kRawKey, Payload()});
    if (!redis->Drain(depth)) {
      state.SkipWithError("RPUSH failed");
      break;
    }
    if ((in_list += depth) > kListCap) {
      state.PauseTiming();
      redis->Run({"DEL", kRawKey});
      in_list = 0;
      state.ResumeTiming();
    }
  }
  redis->Run({"DEL", kRawKey});
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_RawRpushPipelined)->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

// Raw hiredis: one RPUSH carrying `depth` payloads (what a batched enqueue can do at best).
void BM_RawRpushVariadic(benchmark::State& state) {
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (redis == nullptr) return;
  const int depth = static_cast<int>(state.range(0));
  int64_t in_list = 0;
  for (auto _ : state) {
    if (!Fill(*redis, kRawKey, depth)) {
      state.SkipWithError("RPUSH failed");
      break;
    }
    if ((in_list += depth) > kListCap) {
      state.PauseTiming();
      redis->Run({"DEL", kRawKey});
      in_list = 0;
      state.ResumeTiming();
    }
  }
  redis->Run({"DEL", kRawKey});
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_RawRpushVariadic)->Arg(10)->Arg(100)->UseRealTime();

// One raw LPOP from a list kept filled; false (the benchmark skipped) when it found nothing.
bool RawLpopOne(benchmark::State& state, RawRedis& redis, int* left) {
  KeepFilled(state, redis, kRawKey, 1, left);
  if (!redis.Lpop(kRawKey)) {
    state.SkipWithError("LPOP found nothing");
    return false;
  }
  --*left;
  return true;
}

// Raw hiredis: LPOP of one item per round trip.
void BM_RawLpop(benchmark::State& state) {
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (redis == nullptr) return;
  int left = 0;
  for (auto _ : state) {
    if (!RawLpopOne(state, *redis, &left)) break;
  }
  redis->Run({"DEL", kRawKey});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawLpop)->UseRealTime();

// Raw hiredis: what a worker's reserve and finish come to at the least, as node-resque does them:
// LPOP, then MULTI, INCR of the two processed counters, DEL of the worker's key, EXEC, sent
// together. Two round trips per job, as Backend::Reserve + Backend::FinishJob.
void BM_RawLpopFinish(benchmark::State& state) {
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (redis == nullptr) return;
  int left = 0;
  for (auto _ : state) {
    if (!RawLpopOne(state, *redis, &left)) break;
    redis->Append({"MULTI"});
    redis->Append({"INCR", "resque-bench:stat:processed"});
    redis->Append({"INCR", "resque-bench:stat:processed:bench:1:raw"});
    redis->Append({"DEL", "resque-bench:worker:bench:1:raw"});
    redis->Append({"EXEC"});
    if (!redis->Drain(5)) {
      state.SkipWithError("MULTI/EXEC failed");
      break;
    }
  }
  redis->Run(
      {"DEL", kRawKey, "resque-bench:stat:processed", "resque-bench:stat:processed:bench:1:raw"});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawLpopFinish)->UseRealTime();

#ifdef RESQUE_BENCH_HAVE_REDIS
constexpr char kNamespace[] = "resque-bench";
constexpr char kQueue[] = "bench";
constexpr char kQueueKey[] = "resque-bench:queue:bench";

// Backend::Push: one payload per call (and per round trip).
void BM_BackendPush(benchmark::State& state) {
  std::unique_ptr<Backend> backend = RedisOrSkip(state, kNamespace);
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (backend == nullptr || redis == nullptr) return;
  int64_t in_list = 0;
  for (auto _ : state) {
    if (!backend->Push(kQueue, Payload()).ok()) {
      state.SkipWithError("Push failed");
      break;
    }
    if (++in_list > kListCap) {
      state.PauseTiming();
      redis->Run({"DEL", kQueueKey});
      in_list = 0;
      state.ResumeTiming();
    }
  }
  (void)backend->RemoveQueue(kQueue);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BackendPush)->UseRealTime();

// Backend::PushMany: `depth` payloads per call.
void BM_BackendPushMany(benchmark::State& state) {
  std::unique_ptr<Backend> backend = RedisOrSkip(state, kNamespace);
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (backend == nullptr || redis == nullptr) return;
  const int depth = static_cast<int>(state.range(0));
  const std::vector<std::string> batch(depth, Payload());
  int64_t in_list = 0;
  for (auto _ : state) {
    if (!backend->PushMany(kQueue, batch).ok()) {
      state.SkipWithError("PushMany failed");
      break;
    }
    if ((in_list += depth) > kListCap) {
      state.PauseTiming();
      redis->Run({"DEL", kQueueKey});
      in_list = 0;
      state.ResumeTiming();
    }
  }
  (void)backend->RemoveQueue(kQueue);
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_BackendPushMany)->Arg(10)->Arg(100)->UseRealTime();

// Backend::Reserve without a wait, alone (range 0) or followed by FinishJob (range 1), what a
// worker does for every job besides StartJob.
void BM_BackendReserve(benchmark::State& state) {
  std::unique_ptr<Backend> backend = RedisOrSkip(state, kNamespace);
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (backend == nullptr || redis == nullptr) return;
  const bool finish = state.range(0) != 0;
  const std::vector<std::string> queues = {kQueue};
  const JobFinish done{.worker_id = "bench:1:bench", .status_json = R"({"status":4})"};
  int left = 0;
  for (auto _ : state) {
    KeepFilled(state, *redis, kQueueKey, 1, &left);
    absl::StatusOr<std::optional<ReservedJob>> job = backend->Reserve(queues, absl::ZeroDuration());
    if (!job.ok() || !job->has_value()) {
      state.SkipWithError("Reserve found nothing");
      break;
    }
    --left;
    if (finish && !backend->FinishJob(done).ok()) {
      state.SkipWithError("FinishJob failed");
      break;
    }
  }
  (void)backend->RemoveQueue(kQueue);
  (void)backend->UnregisterWorker(done.worker_id);
  (void)backend->ClearStat("processed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BackendReserve)->ArgName("finish")->Arg(0)->Arg(1)->UseRealTime();

// What a batching worker does per batch (WorkerOptions::batch): ReserveInFlightMany of up to N
// jobs, then FinishJobs of all of them; items are jobs.
void BM_BackendReserveFinishMany(benchmark::State& state) {
  std::unique_ptr<Backend> backend = RedisOrSkip(state, kNamespace);
  std::unique_ptr<RawRedis> redis = RawRedis::OpenOrSkip(state);
  if (backend == nullptr || redis == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  const std::vector<std::string> queues = {kQueue};
  const std::string owner = "bench:2:bench";
  int left = 0;
  int64_t jobs = 0;
  std::vector<JobFinish> finishes;
  for (auto _ : state) {
    KeepFilled(state, *redis, kQueueKey, batch, &left);
    absl::StatusOr<std::vector<ReservedJob>> taken =
        backend->ReserveInFlightMany(queues, absl::ZeroDuration(), owner, batch);
    if (!taken.ok() || taken->empty()) {
      state.SkipWithError("ReserveInFlightMany found nothing");
      break;
    }
    finishes.clear();
    for (ReservedJob& job : *taken) {
      finishes.push_back(
          {.worker_id = owner, .status_json = R"({"status":4})", .in_flight = std::move(job)});
    }
    if (!backend->FinishJobs(finishes).ok()) {
      state.SkipWithError("FinishJobs failed");
      break;
    }
    left -= static_cast<int>(taken->size());
    jobs += static_cast<int64_t>(taken->size());
  }
  (void)backend->RemoveQueue(kQueue);
  (void)backend->RecoverWorker(owner, std::nullopt);
  (void)backend->ClearStat("processed");
  state.SetItemsProcessed(jobs);
}
BENCHMARK(BM_BackendReserveFinishMany)->ArgName("batch")->Arg(1)->Arg(64)->UseRealTime();
#endif  // RESQUE_BENCH_HAVE_REDIS

}  // namespace
}  // namespace resque::bench

BENCHMARK_MAIN();
