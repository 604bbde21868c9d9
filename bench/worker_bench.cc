// bench_worker: resque::Worker end to end, on the memory backend and on Redis.
//
// Two measurements, each swept over the reserve mode (blocking, or polling every 1, 10 or
// 100 ms), the concurrency (1, 2, 4, 8, 16 slots) and the batch (1, 64; "/batch:64" points):
//   BM_WorkerThroughput/<backend>/<mode>/c:<n>  no-op jobs per second, draining a prefilled queue
//   BM_WorkerStar/redis/queues:<q>/busy:<b>     no-op jobs per second of one slot on "*" over q
//                                               known queues of which b hold the jobs
//   BM_WorkerLatency/<backend>/<mode>/c:<n>     enqueue-to-perform latency (p50, p99, p99.9) of
//                                               jobs enqueued at 1000 jobs/s; each job records
//                                               now minus the enqueue time carried in its args
// Every point is short; RESQUE_BENCH_SCALE (default 1) scales its job count and duration (the
// smoke run uses 0.02). Redis points need RESQUE_BENCH_REDIS=redis://127.0.0.1:PORT.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_common.h"
#include "benchmark/benchmark.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/queue.h"
#include "core/worker.h"

namespace resque::bench {
namespace {

constexpr char kQueue[] = "bench";
constexpr char kNamespace[] = "resque-bench-worker";
constexpr int kConcurrencies[] = {1, 2, 4, 8, 16};
// One job at a time (every Resque worker's way, the default), and batches of up to 64
// (WorkerOptions::batch), which short jobs let grow.
constexpr int kBatches[] = {1, 64};

// What the performed jobs report to the running benchmark point.
class Recorder {
 public:
  void Reset(int64_t expected) {
    absl::MutexLock lock(&mu_);
    expected_ = expected;
    done_ = 0;
    arrived_ = 0;
    samples_.clear();
    samples_.reserve(static_cast<size_t>(expected));
  }
  void Done(std::optional<int64_t> latency_nanos) {
    absl::MutexLock lock(&mu_);
    ++done_;
    if (latency_nanos) samples_.push_back(*latency_nanos);
    if (done_ == expected_) last_done_ = absl::Now();
  }
  // True when every expected job was performed within `timeout`.
  bool Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_ >= expected_; };
    return mu_.AwaitWithTimeout(absl::Condition(&all_done), timeout);
  }
  std::vector<int64_t> TakeSamples() {
    absl::MutexLock lock(&mu_);
    return std::move(samples_);
  }
  absl::Time last_done() {
    absl::MutexLock lock(&mu_);
    return last_done_;
  }
  // A warm-up job: counts itself as done, then holds its slot until `slots` warm-up jobs are
  // being performed at once (or `timeout` passes), so that every slot is known to be running.
  void Arrive(int64_t slots, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    ++done_;
    ++arrived_;
    auto all_here = [this, slots]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return arrived_ >= slots; };
    mu_.AwaitWithTimeout(absl::Condition(&all_here), timeout);
  }

 private:
  absl::Mutex mu_;
  int64_t expected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t arrived_ ABSL_GUARDED_BY(mu_) = 0;  // warm-up jobs since the last Reset
  absl::Time last_done_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> samples_ ABSL_GUARDED_BY(mu_);
};

Recorder& TheRecorder() {
  static Recorder* recorder = new Recorder();
  return *recorder;
}

class NoOpJob : public Job {
 public:
  absl::Status Perform(const JobContext&) override {
    TheRecorder().Done(std::nullopt);
    return absl::OkStatus();
  }
};

// args: [<enqueue time, ns since the epoch>]
class LatencyJob : public Job {
 public:
  absl::Status Perform(const JobContext& ctx) override {
    const int64_t now = WallNanos();
    std::string_view args = ctx.args();
    int64_t enqueued = 0;
    if (args.size() < 3 ||
        !absl::SimpleAtoi(absl::string_view(args.data() + 1, args.size() - 2), &enqueued)) {
      return absl::InvalidArgumentError("args must be [<enqueue time in ns>]");
    }
    TheRecorder().Done(now - enqueued);
    return absl::OkStatus();
  }
};

// args: [<slots>]: see Recorder::Arrive.
class WarmUpJob : public Job {
 public:
  absl::Status Perform(const JobContext& ctx) override {
    std::string_view args = ctx.args();
    int64_t slots = 0;
    if (args.size() < 3 ||
        !absl::SimpleAtoi(absl::string_view(args.data() + 1, args.size() - 2), &slots)) {
      return absl::InvalidArgumentError("args must be [<slots>]");
    }
    TheRecorder().Arrive(slots, absl::Seconds(5));
    return absl::OkStatus();
  }
};

const JobRegistry& Registry() {
  static const JobRegistry* registry = [] {
    auto* r = new JobRegistry();
    (void)r->Register<NoOpJob>("NoOp");
    (void)r->Register<LatencyJob>("Latency");
    (void)r->Register<WarmUpJob>("WarmUp");
    return r;
  }();
  return *registry;
}

double Scale() {
  static const double scale = [] {
    const char* s = std::getenv("RESQUE_BENCH_SCALE");
    double v = 1;
    return s != nullptr && absl::SimpleAtod(s, &v) && v > 0 ? v : 1.0;
  }();
  return scale;
}

// How long a point may take to perform its jobs once they are in: scaled with the point, so that
// a broken worker fails a smoke run quickly instead of stalling it.
absl::Duration Deadline() { return std::max(absl::Seconds(5), absl::Seconds(60) * Scale()); }

struct Mode {
  const char* name;
  bool blocking;
  absl::Duration interval;
};
// Blocking waits are 100 ms so that a stop (which a parked reserve does not see) is quick.
const Mode kModes[] = {{"blocking", true, absl::Milliseconds(100)},
                       {"poll_1ms", false, absl::Milliseconds(1)},
                       {"poll_10ms", false, absl::Milliseconds(10)},
                       {"poll_100ms", false, absl::Milliseconds(100)}};

// Makes a backend, or says why not (the point is then skipped).
using BackendMaker = std::function<std::unique_ptr<Backend>(benchmark::State&)>;

// Runs a Worker in a thread for as long as the object lives.
class RunningWorker {
 public:
  RunningWorker(Backend& backend, const Mode& mode, int concurrency, int batch,
                std::vector<std::string> queues = {kQueue})
      : worker_(backend, Registry(),
                {.queues = std::move(queues),
                 .blocking = mode.blocking,
                 .interval = mode.interval,
                 .concurrency = concurrency,
                 .batch = batch,
                 .hostname = "bench"}),
        thread_([this] { status_ = worker_.Run(); }) {}
  ~RunningWorker() {
    worker_.RequestStop(StopMode::kGraceful);
    thread_.join();
  }

 private:
  Worker worker_;
  absl::Status status_;
  std::thread thread_;
};

void WorkerThroughput(benchmark::State& state, const BackendMaker& make, const Mode& mode,
                      int concurrency, int batch, int jobs) {
  std::unique_ptr<Backend> backend = make(state);
  if (backend == nullptr) return;
  jobs = std::max(50, static_cast<int>(jobs * Scale()));
  const std::vector<std::string> payloads(1000, MakePayload("NoOp", "[0]"));
  for (auto _ : state) {
    for (int pushed = 0; pushed < jobs; pushed += 1000) {
      const size_t n = std::min<size_t>(1000, jobs - pushed);
      if (!backend->PushMany(kQueue, absl::MakeConstSpan(payloads).subspan(0, n)).ok()) {
        state.SkipWithError("PushMany failed");
        return;
      }
    }
    TheRecorder().Reset(jobs);
    const absl::Time start = absl::Now();
    bool all_done = false;
    {
      RunningWorker worker(*backend, mode, concurrency, batch);
      all_done = TheRecorder().Wait(Deadline());
    }
    if (!all_done) {
      state.SkipWithError("the worker did not perform every job in time");
      break;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(TheRecorder().last_done() - start));
  }
  (void)backend->RemoveQueue(kQueue);
  state.SetItemsProcessed(state.iterations() * jobs);
}

void WorkerLatency(benchmark::State& state, const BackendMaker& make, const Mode& mode,
                   int concurrency, int batch) {
  std::unique_ptr<Backend> backend = make(state);
  if (backend == nullptr) return;
  // 1000 jobs/s, for long enough to see several poll intervals go by.
  const absl::Duration period = absl::Milliseconds(1);
  const absl::Duration length = std::max(absl::Seconds(1), 5 * mode.interval) * Scale();
  const int jobs = std::max(10, static_cast<int>(length / period));
  Queue queue(*backend);
  std::vector<int64_t> samples;
  for (auto _ : state) {
    bool all_done = false;
    absl::Time start;
    {
      RunningWorker worker(*backend, mode, concurrency, batch);
      // Pickup in steady state, as the peers' (which have booted) is measured: the jobs are
      // offered once every slot has performed a job, not while the worker connects and
      // registers (at 16 slots that spoils the first 50 ms of samples).
      TheRecorder().Reset(concurrency);
      for (int i = 0; i < concurrency; ++i) {
        if (!queue.Enqueue(kQueue, "WarmUp", absl::StrCat("[", concurrency, "]")).ok()) {
          state.SkipWithError("Enqueue failed");
          break;
        }
      }
      if (!state.error_occurred() && !TheRecorder().Wait(Deadline())) {
        state.SkipWithError("the warm-up jobs were not performed in time");
      }
      if (state.error_occurred()) break;
      absl::SleepFor(absl::Milliseconds(10));  // the slots' records, and back to their reserve
      TheRecorder().Reset(jobs);
      start = absl::Now();
      for (int i = 0; i < jobs; ++i) {
        const absl::Time due = start + i * period;
        if (const absl::Time now = absl::Now(); due > now) absl::SleepFor(due - now);
        if (!queue.Enqueue(kQueue, "Latency", absl::StrCat("[", WallNanos(), "]")).ok()) {
          state.SkipWithError("Enqueue failed");
          break;
        }
      }
      all_done = !state.error_occurred() && TheRecorder().Wait(Deadline());
    }
    if (!all_done) {
      if (!state.error_occurred()) state.SkipWithError("jobs were not performed in time");
      break;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(TheRecorder().last_done() - start));
    std::vector<int64_t> more = TheRecorder().TakeSamples();
    samples.insert(samples.end(), more.begin(), more.end());
  }
  (void)backend->RemoveQueue(kQueue);
  state.counters["offered_per_second"] = absl::Seconds(1) / period;
  ReportLatency(state, samples);
}

// "*" over `queues` known queues of which the first `busy` (spread evenly by name) hold the
// jobs, drained by one blocking slot, one job at a time: what a reserve costs as the queues
// that are empty grow in number. queues:1/busy:1 is the baseline of the same run.
void WorkerStar(benchmark::State& state, const BackendMaker& make, int queues, int busy, int jobs) {
  std::unique_ptr<Backend> backend = make(state);
  if (backend == nullptr) return;
  jobs = std::max(50, static_cast<int>(jobs * Scale()));
  std::vector<std::string> names;
  for (int i = 0; i < queues; ++i) names.push_back(absl::StrCat("star", 100000 + i));
  const std::string payload = MakePayload("NoOp", "[0]");
  // Known and empty: pushed to once, then taken from (a peer's queue drained by others).
  for (const std::string& q : names) {
    const std::vector<std::string> one = {q};
    if (!backend->Push(q, payload).ok() || !backend->Reserve(one, absl::ZeroDuration()).ok()) {
      state.SkipWithError("filling the queues failed");
      return;
    }
  }
  const std::vector<std::string> payloads(1000, payload);
  for (auto _ : state) {
    for (int b = 0; b < busy; ++b) {
      const std::string& q = names[static_cast<size_t>(b) * queues / busy];
      for (int pushed = 0; pushed < jobs / busy; pushed += 1000) {
        const size_t n = std::min<size_t>(1000, jobs / busy - pushed);
        if (!backend->PushMany(q, absl::MakeConstSpan(payloads).subspan(0, n)).ok()) {
          state.SkipWithError("PushMany failed");
          return;
        }
      }
    }
    TheRecorder().Reset(jobs / busy * busy);
    const absl::Time start = absl::Now();
    bool all_done = false;
    {
      RunningWorker worker(*backend, kModes[0], 1, 1, {"*"});
      all_done = TheRecorder().Wait(Deadline());
    }
    if (!all_done) {
      state.SkipWithError("the worker did not perform every job in time");
      break;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(TheRecorder().last_done() - start));
  }
  for (const std::string& q : names) (void)backend->RemoveQueue(q);
  state.SetItemsProcessed(state.iterations() * (jobs / busy * busy));
}

[[maybe_unused]] void RegisterStar(const std::string& backend_name, const BackendMaker& make,
                                   int jobs) {
  for (const auto& [queues, busy] : {std::pair{1, 1}, std::pair{10000, 10}}) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_WorkerStar/", backend_name, "/queues:", queues, "/busy:", busy).c_str(),
        [make, queues, busy, jobs](benchmark::State& state) {
          WorkerStar(state, make, queues, busy, jobs);
        })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

[[maybe_unused]] void RegisterSweep(const std::string& backend_name, const BackendMaker& make,
                                    int throughput_jobs) {
  for (const int batch : kBatches) {
    for (const Mode& mode : kModes) {
      for (int c : kConcurrencies) {
        std::string point = absl::StrCat(backend_name, "/", mode.name, "/c:", c);
        if (batch > 1) absl::StrAppend(&point, "/batch:", batch);
        benchmark::RegisterBenchmark(
            ("BM_WorkerThroughput/" + point).c_str(),
            [make, &mode, c, batch, throughput_jobs](benchmark::State& state) {
              WorkerThroughput(state, make, mode, c, batch, throughput_jobs);
            })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("BM_WorkerLatency/" + point).c_str(),
                                     [make, &mode, c, batch](benchmark::State& state) {
                                       WorkerLatency(state, make, mode, c, batch);
                                     })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

#ifdef RESQUE_BENCH_HAVE_REDIS
std::unique_ptr<Backend> MakeRedis(benchmark::State& state) {
  std::unique_ptr<Backend> backend = RedisOrSkip(state, kNamespace);
  if (backend != nullptr) (void)backend->RemoveQueue(kQueue);
  return backend;
}
#endif

}  // namespace
}  // namespace resque::bench

int main(int argc, char** argv) {
  using resque::bench::RegisterSweep;
#ifdef RESQUE_BENCH_HAVE_MEMORY
  RegisterSweep(
      "memory",
      [](benchmark::State& state) { return resque::bench::OpenOrSkip(state, "memory://"); }, 50000);
#endif
#ifdef RESQUE_BENCH_HAVE_REDIS
  RegisterSweep("redis", resque::bench::MakeRedis, 20000);
  resque::bench::RegisterStar("redis", resque::bench::MakeRedis, 20000);
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
