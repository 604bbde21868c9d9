// The worker tests on the Redis backend, against a real redis-server (one per test binary,
// flushed before each test). Time passes for TTLs by lowering every key's PTTL on the server.
#include <memory>
#include <vector>

#include "backends/redis/redis_backend.h"
#include "tests/support/redis_server.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

class RedisWorkerBackend : public WorkerBackend {
 public:
  RedisWorkerBackend() {
    const absl::Status flushed = redis_.Flush();
    EXPECT_TRUE(flushed.ok()) << flushed;
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis_.Options());
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (backend.ok()) backend_ = *std::move(backend);
  }

  Backend& backend() override { return *backend_; }

  void AdvanceTime(absl::Duration d) override {
    const absl::Status s = redis_.AdvanceTime(d);
    EXPECT_TRUE(s.ok()) << s;
    clock().Advance(d);
  }

 private:
  RedisServer& redis_ = RedisServer::Shared();
  std::unique_ptr<Backend> backend_;
};

}  // namespace

std::vector<WorkerBackendFactory> WorkerBackends() {
  return {{"Redis", [] { return std::make_unique<RedisWorkerBackend>(); }}};
}

}  // namespace resque::testing
