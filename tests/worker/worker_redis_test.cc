// The worker tests on the Redis backend, against a real redis-server (one per test binary,
// flushed before each test). Time passes for TTLs by lowering every key's PTTL on the server.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "backends/redis/redis_backend.h"
#include "tests/status_testing.h"
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

// How many scripts the server ran since the stats were reset (EVALSHA and EVAL calls).
int64_t ScriptCalls(RedisServer& redis) {
  absl::StatusOr<std::string> info = redis.Command({"INFO", "commandstats"});
  EXPECT_TRUE(info.ok()) << info.status();
  int64_t calls = 0;
  for (absl::string_view line : absl::StrSplit(info.value_or(""), absl::ByAnyChar("\r\n"))) {
    for (absl::string_view name : {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="}) {
      if (!absl::StartsWith(line, name)) continue;
      int64_t n = 0;
      EXPECT_TRUE(
          absl::SimpleAtoi(line.substr(name.size()).substr(0, line.find(',') - name.size()), &n))
          << line;
      calls += n;
    }
  }
  return calls;
}

// One round trip per job in steady state: each job's record and the next job's reserve are one
// script, with and without reliable reserve. (Two scripts per job before: a reserve, a finish.)
TEST(WorkerRoundTrips, ASlotThatKeepsFindingJobsRunsOneScriptPerJob) {
  RedisServer& redis = RedisServer::Shared();
  constexpr int kJobs = 200;
  for (const bool reliable : {true, false}) {
    SCOPED_TRACE(reliable ? "reliable" : "unreliable");
    ASSERT_OK(redis.Flush());
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(redis.Options());
    ASSERT_OK(backend);
    std::vector<std::string> payloads;
    for (int i = 0; i < kJobs; ++i) {
      payloads.push_back(absl::StrFormat(R"({"class":"Noop","args":[%d]})", i));
    }
    ASSERT_OK((*backend)->PushMany("q", payloads));
    JobRegistry registry;
    std::atomic<int> ran{0};
    RegisterFn(registry, "Noop", [&ran](const JobContext&) {
      ran.fetch_add(1);
      return absl::OkStatus();
    });
    WorkerOptions options;
    options.queues = {"q"};
    options.burst = true;
    options.reliable = reliable;
    options.heartbeat_interval = absl::ZeroDuration();
    ASSERT_EQ(*redis.Command({"CONFIG", "RESETSTAT"}), "OK");
    Worker worker(**backend, registry, options);
    ASSERT_OK(worker.Run());
    EXPECT_EQ(ran.load(), kJobs);
    // The first reserve, then one script per job; a few more for registering, pruning, the last
    // empty look.
    const int64_t scripts = ScriptCalls(redis);
    EXPECT_GE(scripts, kJobs);
    EXPECT_LE(scripts, kJobs + 10);
  }
}

}  // namespace

std::vector<WorkerBackendFactory> WorkerBackends() {
  return {{"Redis", [] { return std::make_unique<RedisWorkerBackend>(); }}};
}

}  // namespace resque::testing
