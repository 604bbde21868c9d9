#include "bench/bench_common.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace resque::bench {

std::optional<std::string> RedisUrlOrSkip(benchmark::State& state) {
  const char* url = std::getenv(kRedisEnv);
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("RESQUE_BENCH_REDIS is unset; set it to redis://127.0.0.1:PORT");
    return std::nullopt;
  }
  return std::string(url);
}

std::unique_ptr<Backend> OpenOrSkip(benchmark::State& state, std::string_view url,
                                    const BackendOptions& options) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = OpenBackend(url, options);
  if (!backend.ok()) {
    state.SkipWithError(std::string(backend.status().message()).c_str());
    return nullptr;
  }
  return *std::move(backend);
}

std::unique_ptr<Backend> RedisOrSkip(benchmark::State& state, std::string_view ns) {
  std::optional<std::string> url = RedisUrlOrSkip(state);
  if (!url) return nullptr;
  BackendOptions options;
  options.ns = std::string(ns);
  return OpenOrSkip(state, *url, options);
}

void ReportLatency(benchmark::State& state, std::vector<int64_t>& nanos) {
  state.counters["samples"] = static_cast<double>(nanos.size());
  if (nanos.empty()) return;
  std::sort(nanos.begin(), nanos.end());
  auto at = [&nanos](double q) {
    const size_t i = std::min(nanos.size() - 1, static_cast<size_t>(q * nanos.size()));
    return static_cast<double>(nanos[i]) / 1e3;
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = static_cast<double>(nanos.back()) / 1e3;
}

std::string MakePayload(const std::string& class_name, const std::string& args_json) {
  return absl::StrCat(
      R"({"class":")", class_name, R"(","args":)", args_json,
      R"(,"id":"b1f01038e5e833d24b46271a0e31f6d6","queue_time":1764000000.123456})");
}

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace resque::bench
