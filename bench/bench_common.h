// Helpers shared by the benchmark binaries: opening the backend under test (through OpenBackend,
// as the `resque` command does), latency percentiles as counters, and job payloads shaped like
// the ones a real enqueue writes.
//
//   std::unique_ptr<resque::Backend> backend = resque::bench::RedisOrSkip(state, "resque-bench");
//   if (backend == nullptr) return;  // RESQUE_BENCH_REDIS is unset: the benchmark says so
#ifndef RESQUE_BENCH_BENCH_COMMON_H_
#define RESQUE_BENCH_BENCH_COMMON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend_factory.h"
#include "benchmark/benchmark.h"
#include "core/backend.h"

namespace resque::bench {

// The environment variable that names the Redis the benchmarks may write to.
inline constexpr char kRedisEnv[] = "RESQUE_BENCH_REDIS";

// RESQUE_BENCH_REDIS (any URL OpenBackend reads). When it is unset, skips the benchmark with a
// message saying how to set it, and returns nullopt.
std::optional<std::string> RedisUrlOrSkip(benchmark::State& state);

// The backend at `url`, opened by OpenBackend; nullptr after skipping the benchmark with the
// reason when it cannot be opened.
std::unique_ptr<Backend> OpenOrSkip(benchmark::State& state, std::string_view url,
                                    const BackendOptions& options = {});

// OpenOrSkip on RESQUE_BENCH_REDIS, with every key under the namespace `ns`.
std::unique_ptr<Backend> RedisOrSkip(benchmark::State& state, std::string_view ns);

// Sorts `nanos` and sets the counters p50_us, p99_us, p999_us, max_us and samples.
void ReportLatency(benchmark::State& state, std::vector<int64_t>& nanos);

// A payload as resque::Queue::Enqueue writes it (about 120 bytes), for class `class_name` with
// `args_json` (a JSON array) as its args.
std::string MakePayload(const std::string& class_name, const std::string& args_json);

// Nanoseconds since the Unix epoch: the clock that enqueue times in job args are taken from, so
// that another process (node-resque) on the same machine can use the same one.
int64_t WallNanos();

}  // namespace resque::bench

#endif  // RESQUE_BENCH_BENCH_COMMON_H_
