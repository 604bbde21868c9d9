// RawRedis: the bare hiredis calls that the Redis backend is measured against (pipelined RPUSH,
// LPOP), and the benchmarks' own setup and cleanup (prefilling, deleting keys). Every raw
// baseline connects through OpenOrSkip, to the server the backend under test is opened on.
#ifndef RESQUE_BENCH_RAW_REDIS_H_
#define RESQUE_BENCH_RAW_REDIS_H_

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_common.h"

namespace resque::bench {

class RawRedis {
 public:
  // A connection to RESQUE_BENCH_REDIS (read as the Redis backend reads a URL: host and port or
  // a Unix socket, password, db); nullptr after skipping the benchmark with the reason.
  static std::unique_ptr<RawRedis> OpenOrSkip(benchmark::State& state);
  ~RawRedis();
  RawRedis(const RawRedis&) = delete;
  RawRedis& operator=(const RawRedis&) = delete;

  // Queues one command without waiting for its reply.
  void Append(const std::vector<std::string_view>& argv);
  // Reads `n` replies of earlier Appends; false on a connection error or an error reply.
  bool Drain(int n);
  // One command, one round trip; false on a connection error or an error reply.
  bool Run(const std::vector<std::string_view>& argv);
  // LPOP `key`: true when it took an item.
  bool Lpop(std::string_view key);

 private:
  explicit RawRedis(redisContext* context) : context_(context) {}
  redisContext* context_;
};

}  // namespace resque::bench

#endif  // RESQUE_BENCH_RAW_REDIS_H_
