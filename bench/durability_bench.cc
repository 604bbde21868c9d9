// bench_durability: what wait_replicas costs (RedisOptions::wait_replicas, Redis WAIT): an enqueue
// of one job, and a worker's reserve and finish of one job, without WAIT, then waiting for one
// replica. Needs RESQUE_BENCH_REPLICATED=redis://127.0.0.1:PORT, a master with one replica
// attached (bench/run.sh starts such a pair); keys are under "resque-bench-wait" and deleted
// afterwards.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_common.h"
#include "benchmark/benchmark.h"

namespace resque::bench {
namespace {

constexpr char kEnv[] = "RESQUE_BENCH_REPLICATED";
constexpr char kNamespace[] = "resque-bench-wait";
constexpr char kQueue[] = "bench";

// The replicated master's URL, asking WAIT for `replicas` (0: none); nullptr after skipping.
std::unique_ptr<Backend> Open(benchmark::State& state, int replicas) {
  const char* url = std::getenv(kEnv);
  if (url == nullptr || *url == '\0') {
    state.SkipWithError(
        "set RESQUE_BENCH_REPLICATED=redis://127.0.0.1:PORT (a master with one replica)");
    return nullptr;
  }
  std::string full = url;
  if (replicas > 0) full += absl::StrFormat("?wait_replicas=%d&wait_timeout_ms=1000", replicas);
  return OpenOrSkip(state, full, {.ns = kNamespace});
}

const std::string& Payload() {
  static const std::string* payload = new std::string(MakePayload("NoOp", "[1]"));
  return *payload;
}

// Backend::Push of one payload per call.
void BM_PushWaitingForReplicas(benchmark::State& state) {
  std::unique_ptr<Backend> backend = Open(state, static_cast<int>(state.range(0)));
  if (backend == nullptr) return;
  int64_t in_list = 0;
  for (auto _ : state) {
    if (!backend->Push(kQueue, Payload()).ok()) {
      state.SkipWithError("Push failed (is a replica attached?)");
      break;
    }
    if (++in_list > 20000) {
      state.PauseTiming();
      (void)backend->RemoveQueue(kQueue);
      in_list = 0;
      state.ResumeTiming();
    }
  }
  (void)backend->RemoveQueue(kQueue);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PushWaitingForReplicas)->ArgName("replicas")->Arg(0)->Arg(1)->UseRealTime();

// A worker's steps for one job on the reliable reserve: reserve into its in-flight list, then
// finish (the finish waits for the replicas).
void BM_ReserveFinishWaitingForReplicas(benchmark::State& state) {
  std::unique_ptr<Backend> backend = Open(state, static_cast<int>(state.range(0)));
  if (backend == nullptr) return;
  const std::vector<std::string> queues = {kQueue};
  const std::string owner = "bench:3:bench";
  const std::vector<std::string> fill(1000, Payload());
  int left = 0;
  std::vector<JobFinish> finishes;
  for (auto _ : state) {
    if (left == 0) {
      state.PauseTiming();
      (void)backend->PushMany(kQueue, fill);
      left = static_cast<int>(fill.size());
      state.ResumeTiming();
    }
    absl::StatusOr<std::vector<ReservedJob>> taken =
        backend->ReserveInFlightMany(queues, absl::ZeroDuration(), owner, 1);
    if (!taken.ok() || taken->empty()) {
      state.SkipWithError("the reserve found nothing");
      break;
    }
    finishes.clear();
    finishes.push_back({.worker_id = owner,
                        .status_json = R"({"status":4})",
                        .in_flight = std::move((*taken)[0])});
    if (!backend->FinishJobs(finishes).ok()) {
      state.SkipWithError("FinishJobs failed");
      break;
    }
    --left;
  }
  (void)backend->RemoveQueue(kQueue);
  (void)backend->RecoverWorker(owner, std::nullopt);
  (void)backend->ClearStat("processed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReserveFinishWaitingForReplicas)->ArgName("replicas")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace resque::bench

BENCHMARK_MAIN();
