#include "bench/bench_common.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace resque::bench {
namespace {

std::optional<RedisAddress> ParseAddress(std::string_view url) {
  RedisAddress out;
  out.url = std::string(url);
  std::string_view rest = url;
  if (rest.starts_with("redis://")) rest.remove_prefix(8);
  rest = rest.substr(0, rest.find('/'));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  const size_t colon = rest.rfind(':');
  out.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    if (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &out.port)) {
      return std::nullopt;
    }
  }
  if (out.host.empty() || out.port <= 0) return std::nullopt;
  return out;
}

}  // namespace

std::optional<RedisAddress> RedisOrSkip(benchmark::State& state) {
  const char* url = std::getenv(kRedisEnv);
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("RESQUE_BENCH_REDIS is unset; set it to redis://127.0.0.1:PORT");
    return std::nullopt;
  }
  std::optional<RedisAddress> address = ParseAddress(url);
  if (!address) state.SkipWithError("RESQUE_BENCH_REDIS is not redis://host:port");
  return address;
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
