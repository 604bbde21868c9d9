// Helpers shared by the benchmark binaries: latency percentiles as counters, the Redis address
// from the environment, and job payloads shaped like the ones a real enqueue writes.
//
//   std::optional<resque::bench::RedisAddress> redis = resque::bench::RedisOrSkip(state);
//   if (!redis) return;  // RESQUE_BENCH_REDIS is unset: the benchmark says so and is skipped
#ifndef RESQUE_BENCH_BENCH_COMMON_H_
#define RESQUE_BENCH_BENCH_COMMON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace resque::bench {

// The environment variable that names the Redis the benchmarks may write to.
inline constexpr char kRedisEnv[] = "RESQUE_BENCH_REDIS";

struct RedisAddress {
  std::string url;  // as given, e.g. redis://127.0.0.1:6390
  std::string host;
  int port = 6379;
};

// Parses RESQUE_BENCH_REDIS (redis://host:port[/db] or host:port). When it is unset or does not
// parse, skips the benchmark with a message saying how to set it, and returns nullopt.
std::optional<RedisAddress> RedisOrSkip(benchmark::State& state);

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
