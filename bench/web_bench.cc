// `resque web` under a large Redis: the overview API, /metrics and the failed page, asked over
// HTTP of an in-process WebServer, with 10,000 queues, 1,000 workers and 100,000 failures
// (RESQUE_BENCH_SCALE scales them: bench/run.sh --smoke runs at 0.02). Each request reports its
// round trips to Redis (the counter `round_trips`) beside its time; the baseline is the read
// `resque stats` and `queues` used to make, one LLEN per queue.
//
//   RESQUE_BENCH_REDIS=redis://127.0.0.1:6390 build/bench/bench_web
#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "backends/redis/redis_backend.h"
#include "bench/bench_common.h"
#include "core/failure.h"
#include "web/server.h"

namespace resque::bench {
namespace {

double Scale() {
  const char* s = std::getenv("RESQUE_BENCH_SCALE");
  return s != nullptr && *s != '\0' ? std::max(0.001, std::atof(s)) : 1.0;
}

int64_t Scaled(int64_t n) { return std::max<int64_t>(10, static_cast<int64_t>(n * Scale())); }

// One Redis filled once for every benchmark of this binary, and a server over it.
struct Fixture {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<web::WebServer> server;
  int64_t queues = 0;
  int64_t failures = 0;
  std::string error;
};

Fixture& Shared(benchmark::State& state) {
  static Fixture* fixture = [&] {
    auto* f = new Fixture;
    f->backend = RedisOrSkip(state, "resque-bench-web");
    if (f->backend == nullptr) return f;
    Backend& b = *f->backend;
    f->queues = Scaled(10000);
    f->failures = Scaled(100000);
    const std::string payload = MakePayload("Job", "[1,\"two\"]");
    for (int64_t i = 0; i < f->queues; ++i) {
      const std::string q = absl::StrCat("q", i);
      if (absl::Status s = b.RemoveQueue(q); !s.ok()) f->error = std::string(s.message());
      if (absl::Status s = b.Push(q, payload); !s.ok()) f->error = std::string(s.message());
    }
    for (int64_t i = 0; i < Scaled(1000); ++i) {
      (void)b.RegisterWorker(absl::StrCat("benchhost:", i, ":q", i), "2026-12-01T10:00:00Z");
    }
    (void)b.ClearFailures();
    Failure failure;
    failure.failed_at = "2026/12/01 10:00:00 UTC";
    failure.payload = payload;
    failure.exception = "RuntimeError";
    failure.error = "boom";
    failure.backtrace = {"app/jobs/job.rb:3:in `perform'"};
    failure.worker = "benchhost:1:q1";
    for (int64_t i = 0; i < f->failures; ++i) {
      failure.queue = absl::StrCat("q", i % 100);
      if (absl::Status s = b.PushFailure(EncodeFailure(failure)); !s.ok()) {
        f->error = std::string(s.message());
        break;
      }
    }
    f->server = std::make_unique<web::WebServer>(b, web::WebOptions{.port = 0});
    if (absl::Status s = f->server->Start(); !s.ok()) f->error = std::string(s.message());
    return f;
  }();
  return *fixture;
}

// GETs `path` each iteration; reports round trips and bytes per request.
void Request(benchmark::State& state, const std::string& path) {
  Fixture& f = Shared(state);
  if (f.backend == nullptr) return;
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  httplib::Client client("127.0.0.1", f.server->port());
  client.set_read_timeout(60);
  const int64_t trips_before = *redis::RedisRoundTrips(*f.backend);
  int64_t bytes = 0;
  for (auto _ : state) {
    httplib::Result r = client.Get(path);
    if (!r || r->status != 200) {
      state.SkipWithError(r ? r->body.c_str() : "no answer");
      return;
    }
    bytes += static_cast<int64_t>(r->body.size());
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["round_trips"] =
      static_cast<double>(*redis::RedisRoundTrips(*f.backend) - trips_before) / n;
  state.counters["bytes"] = static_cast<double>(bytes) / n;
  state.counters["queues"] = static_cast<double>(f.queues);
  state.counters["failures"] = static_cast<double>(f.failures);
}

void BM_WebOverview(benchmark::State& state) { Request(state, "/api/overview"); }
void BM_WebMetrics(benchmark::State& state) { Request(state, "/metrics"); }
// The first page of the failure list: one LRANGE, however long the list.
void BM_WebFailedPage(benchmark::State& state) { Request(state, "/api/failed?count=20"); }
// A filter reads the whole list, 1,000 records a round trip, to count what matches.
void BM_WebFailedFiltered(benchmark::State& state) {
  Request(state, "/api/failed?count=20&queue=q7");
}

// The baseline: the queue sizes read one LLEN at a time, as `resque queues` does.
void BM_QueueSizesOneByOne(benchmark::State& state) {
  Fixture& f = Shared(state);
  if (f.backend == nullptr) return;
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const int64_t trips_before = *redis::RedisRoundTrips(*f.backend);
  for (auto _ : state) {
    absl::StatusOr<std::vector<std::string>> names = f.backend->Queues();
    if (!names.ok()) {
      state.SkipWithError(std::string(names.status().message()).c_str());
      return;
    }
    for (const std::string& q : *names) benchmark::DoNotOptimize(f.backend->Size(q));
  }
  state.counters["round_trips"] =
      static_cast<double>(*redis::RedisRoundTrips(*f.backend) - trips_before) /
      static_cast<double>(state.iterations());
}

// The same sizes (and heads) in the dashboard's bulk read.
void BM_QueueSizesBulk(benchmark::State& state) {
  Fixture& f = Shared(state);
  if (f.backend == nullptr) return;
  const int64_t trips_before = *redis::RedisRoundTrips(*f.backend);
  for (auto _ : state) benchmark::DoNotOptimize(f.backend->QueueSummaries());
  state.counters["round_trips"] =
      static_cast<double>(*redis::RedisRoundTrips(*f.backend) - trips_before) /
      static_cast<double>(state.iterations());
}

BENCHMARK(BM_WebOverview)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WebMetrics)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WebFailedPage)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WebFailedFiltered)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_QueueSizesOneByOne)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_QueueSizesBulk)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace resque::bench

BENCHMARK_MAIN();
