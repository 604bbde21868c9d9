// The soak run: 1,000,000 no-op jobs through one reliable worker on Redis, to show that nothing
// grows with the number of jobs. Prints the process's resident set size after the first 100,000
// jobs and at the end; exits 1 when the end is more than 10% above the first figure.
//
//   redis-server --port 6390 --save '' --appendonly no &
//   build/bench/bench_soak redis://127.0.0.1:6390 [jobs]
//
// Not a Google Benchmark: one long run with one figure, not a repeated measurement. It pushes in
// batches, keeping the queue between 10,000 and 20,000 jobs deep, so that Redis's own memory
// stays flat too.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/backend_factory.h"
#include "core/job_registry.h"
#include "core/worker.h"

namespace {

class Noop : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override { return absl::OkStatus(); }
};

// Resident set size in KiB, from /proc/self/statm (pages).
int64_t RssKiB() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s redis://HOST:PORT [jobs (1000000)]\n", argv[0]);
    return 2;
  }
  int64_t jobs = 1000000;
  if (argc > 2 && (!absl::SimpleAtoi(argv[2], &jobs) || jobs < 200000)) {
    std::fprintf(stderr, "jobs must be a number >= 200000\n");
    return 2;
  }
  const int64_t first = jobs / 10;
  absl::StatusOr<std::unique_ptr<resque::Backend>> backend = resque::OpenBackend(argv[1]);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", std::string(backend.status().message()).c_str());
    return 2;
  }
  (void)(*backend)->RemoveQueue("soak");

  resque::JobRegistry registry;
  (void)registry.Register<Noop>("Noop");
  resque::WorkerOptions worker_options;
  worker_options.queues = {"soak"};
  worker_options.blocking = true;
  worker_options.interval = absl::Seconds(1);
  worker_options.max_jobs = jobs;
  worker_options.log = resque::StderrLogSink(resque::LogLevel::kError);
  resque::Worker worker(**backend, registry, worker_options);

  // The producer: batches of 1,000 whenever the queue is below 10,000, until all are pushed.
  std::atomic<bool> done{false};
  std::thread producer([&] {
    const std::string payload = R"({"class":"Noop","args":[]})";
    const std::vector<std::string> batch(1000, payload);
    int64_t pushed = 0;
    while (pushed < jobs && !done.load()) {
      absl::StatusOr<int64_t> size = (*backend)->Size("soak");
      if (size.ok() && *size < 10000) {
        const int64_t n = std::min<int64_t>(1000, jobs - pushed);
        if ((*backend)->PushMany("soak", absl::MakeConstSpan(batch).subspan(0, n)).ok())
          pushed += n;
        continue;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  int64_t rss_first = 0;
  std::thread watcher([&] {
    while (!done.load() && worker.counts().processed < first) absl::SleepFor(absl::Milliseconds(1));
    rss_first = RssKiB();
    std::printf("after %lld jobs: RSS %lld KiB\n",
                static_cast<long long>(worker.counts().processed),
                static_cast<long long>(rss_first));
    std::fflush(stdout);
  });
  const absl::Time start = absl::Now();
  const absl::Status run = worker.Run();  // returns after max_jobs
  const absl::Duration took = absl::Now() - start;
  done.store(true);
  producer.join();
  watcher.join();
  const int64_t rss_end = RssKiB();
  const double growth = 100.0 * (static_cast<double>(rss_end) / rss_first - 1.0);
  std::printf("after %lld jobs: RSS %lld KiB (%+.1f%%), %.0f jobs/s, %s\n",
              static_cast<long long>(worker.counts().processed), static_cast<long long>(rss_end),
              growth, static_cast<double>(worker.counts().processed) / absl::ToDoubleSeconds(took),
              run.ok() ? "ok" : std::string(run.message()).c_str());
  return run.ok() && worker.counts().processed == jobs && growth <= 10.0 ? 0 : 1;
}
