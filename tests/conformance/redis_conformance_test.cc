// The conformance suite on the Redis backend, against a real redis-server (one per test binary,
// flushed before each test). Time passes for TTLs by lowering every key's PTTL on the server.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

 protected:
  std::unique_ptr<Backend> backend_;
};

// The suite again, each thread of a test on a session of its own (Backend::OpenSession), as each
// worker slot is: a session's deferred StartJob and its pinned connection must keep every
// contract of the backend.
class RedisSessionsUnderTest : public RedisUnderTest {
 public:
  Backend& backend() override {
    std::lock_guard lock(mu_);
    std::unique_ptr<Backend>& session = sessions_[std::this_thread::get_id()];
    if (session == nullptr) session = backend_->OpenSession();
    return *session;
  }

  ~RedisSessionsUnderTest() override {
    std::lock_guard lock(mu_);
    sessions_.clear();  // before the backend whose pool they hold connections of
  }

 private:
  std::mutex mu_;
  std::map<std::thread::id, std::unique_ptr<Backend>> sessions_;
};

INSTANTIATE_TEST_SUITE_P(
    Redis, BackendConformance,
    ::testing::Values(BackendFactory{"Redis", [] { return std::make_unique<RedisUnderTest>(); }},
                      BackendFactory{"RedisSessions",
                                     [] { return std::make_unique<RedisSessionsUnderTest>(); }}),
    FactoryName);

}  // namespace
}  // namespace resque::testing
