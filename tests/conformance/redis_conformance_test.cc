// The conformance suite on the Redis backend, against a real redis-server (one per test binary,
// flushed before each test). Time passes for TTLs by lowering every key's PTTL on the server.
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

class RedisUnderTest : public BackendUnderTest {
 public:
  RedisUnderTest() {
    EXPECT_TRUE(redis_.Flush().ok());
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis_.Options());
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (backend.ok()) backend_ = *std::move(backend);
  }

  Backend& backend() override { return *backend_; }

  void AdvanceTime(absl::Duration d) override {
    absl::Status s = redis_.AdvanceTime(d);
    EXPECT_TRUE(s.ok()) << s;
  }

  // The server counts the clients parked in BLPOP (INFO clients: blocked_clients).
  bool AwaitWaitingReservers(int n, absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    while (BlockedClients() < n) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

 private:
  int BlockedClients() {
    absl::StatusOr<std::string> info = redis_.Command({"INFO", "clients"});
    if (!info.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(*info, absl::ByAnyChar("\r\n"))) {
      int n = 0;
      if (absl::ConsumePrefix(&line, "blocked_clients:") && absl::SimpleAtoi(line, &n)) return n;
    }
    return -1;
  }

  RedisServer& redis_ = RedisServer::Shared();
  std::unique_ptr<Backend> backend_;
};

INSTANTIATE_TEST_SUITE_P(Redis, BackendConformance,
                         ::testing::Values(BackendFactory{
                             "Redis", [] { return std::make_unique<RedisUnderTest>(); }}),
                         FactoryName);

}  // namespace
}  // namespace resque::testing
