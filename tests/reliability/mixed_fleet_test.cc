// Liveness in a mixed fleet, on a real redis-server: Ruby resque's heartbeats, working-on
// records, pruning and failure records written byte for byte as Ruby writes them (worker.rb,
// data_store.rb, failure/redis.rb), against our workers' judgement and recovery.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "backends/redis/redis_backend.h"
#include "core/clock.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/job_registry.h"
#include "core/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"

namespace resque {
namespace {

using ::resque::testing::RedisServer;
using ::resque::testing::Value;
using ::testing::HasSubstr;

constexpr char kRuby[] = "ruby-host:777:mail";

std::string Payload(int n) {
  return absl::StrFormat(R"({"class":"Mail","args":[%d],"id":"id%d"})", n, n);
}

class MixedFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(redis().Flush());
    backend_ = Value(redis::NewRedisBackend(redis().Options()));
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  std::string Run(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> r = redis().Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  // Redis TIME, in whole seconds (what Ruby's data_store.server_time keeps).
  absl::Time ServerTime() {
    std::vector<std::string> parts = absl::StrSplit(Run({"TIME"}), '\n');
    int64_t seconds = 0;
    EXPECT_TRUE(!parts.empty() && absl::SimpleAtoi(parts[0], &seconds));
    return absl::FromUnixSeconds(seconds);
  }

  // Worker#heartbeat!: HSET workers:heartbeat <id> Time.at(TIME).iso8601, on a host in UTC.
  void RubyBeat(const std::string& id, absl::Time at) {
    Run({"HSET", "resque:workers:heartbeat", id,
         absl::FormatTime("%Y-%m-%dT%H:%M:%S+00:00", at, absl::UTCTimeZone())});
  }

  // Worker#register_worker and #working_on.
  void RubyWorkerWorkingOn(const std::string& id, const std::string& payload) {
    Run({"SADD", "resque:workers", id});
    Run({"SET", "resque:worker:" + id + ":started", "2026-12-01 10:00:00 +0000"});
    Run({"SET", "resque:worker:" + id,
         absl::StrFormat(R"({"queue":"mail","run_at":"2026-12-01T10:00:00Z","payload":%s})",
                         payload)});
  }

  WorkerOptions Options(std::string host) {
    WorkerOptions options;
    options.queues = {"mail"};
    options.hostname = std::move(host);
    options.clock = &clock_;
    options.timer = &clock_;
    options.log = nullptr;
    return options;
  }

  // A day ahead of Redis: judged by it, every peer would look dead.
  ManualClock clock_{absl::Now() + absl::Hours(24)};
  std::unique_ptr<Backend> backend_;
  JobRegistry registry_;
};

TEST_F(MixedFleetTest, ARubyHeartbeatIsJudgedByRubysPruneIntervalOnRedisTime) {
  Run({"SET", "resque:job:id1:status", R"({"status":2,"updated":1764583200})"});
  RubyWorkerWorkingOn(kRuby, Payload(1));
  Worker ours(*backend_, registry_, Options("here"));
  RubyBeat(kRuby, ServerTime() - absl::Seconds(299));
  EXPECT_EQ(ours.BeatAndRecover(), 0);
  EXPECT_EQ(Run({"SISMEMBER", "resque:workers", kRuby}), "1");
  EXPECT_EQ(Run({"LLEN", "resque:failed"}), "0");
  // Our own beat is in Redis time too, not in our clock's.
  const absl::Time ours_at =
      Value(ParseHeartbeat(Run({"HGET", "resque:workers:heartbeat", ours.worker_ids()[0]})));
  EXPECT_LT(absl::AbsDuration(ours_at - ServerTime()), absl::Seconds(5));
  EXPECT_EQ(Run({"HGET", "resque:workers:liveness", ours.worker_ids()[0]}), "(nil)");

  RubyBeat(kRuby, ServerTime() - absl::Seconds(302));
  EXPECT_EQ(ours.BeatAndRecover(), 0);
  EXPECT_EQ(Run({"SISMEMBER", "resque:workers", kRuby}), "0");
  EXPECT_EQ(Run({"HEXISTS", "resque:workers:heartbeat", kRuby}), "0");
  EXPECT_EQ(Run({"EXISTS", "resque:worker:" + std::string(kRuby)}), "0");
  const Failure f = Value(DecodeFailure(Run({"LINDEX", "resque:failed", "0"})));
  EXPECT_EQ(f.exception, "Resque::PruneDeadWorkerDirtyExit");
  EXPECT_EQ(f.error,
            absl::StrFormat("Worker %s did not gracefully exit while processing Mail", kRuby));
  EXPECT_EQ(f.worker, kRuby);
  EXPECT_EQ(f.queue, "mail");
  EXPECT_EQ(f.payload, Payload(1));
  EXPECT_TRUE(f.backtrace.empty());
  EXPECT_EQ(Run({"GET", "resque:stat:failed"}), "1");
  EXPECT_THAT(Run({"GET", "resque:job:id1:status"}), HasSubstr(R"("status":3)"));
  int64_t ttl = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Run({"TTL", "resque:job:id1:status"}), &ttl));
  EXPECT_GT(ttl, 86000);
}

TEST_F(MixedFleetTest, OurWorkerPrunedByRubyHasItsOtherJobsBackOnceAndItsRunningJobNotRunTwice) {
  const std::string dead = "elsewhere:4242:mail";
  ASSERT_OK(backend_->RegisterWorker(dead, "2026-12-01T10:00:00Z",
                                     {.dead_after = absl::Seconds(60), .in_flight = true}));
  ASSERT_OK(backend_->Heartbeat({dead}, "2026-12-01T10:00:00Z"));
  for (int i = 1; i <= 3; ++i) ASSERT_OK(backend_->Push("mail", Payload(i)));
  ASSERT_EQ(Value(backend_->ReserveInFlightMany({"mail"}, absl::ZeroDuration(), dead, 2)).size(),
            2u);
  const std::string working = absl::StrFormat(
      R"({"queue":"mail","run_at":"2026-12-01T10:00:00Z","payload":%s,"worker":"elsewhere:4242"})",
      Payload(1));
  ASSERT_OK(backend_->StartJob({.worker_id = dead, .working_json = working}));

  // Ruby's prune_dead_workers of it (heartbeat expired):
  // unregister_worker(PruneDeadWorkerDirtyExit) writes the failure record of the job in
  // worker:<id>, then unregisters it.
  Run({"RPUSH", "resque:failed",
       absl::StrFormat(
           R"({"failed_at":"2026/12/01 10:06:00 UTC","payload":%s,"exception":"Resque::PruneDeadWorkerDirtyExit","error":"Worker %s did not gracefully exit while processing Mail","backtrace":[],"worker":"%s","queue":"mail"})",
           Payload(1), dead, dead)});
  Run({"SREM", "resque:workers", dead});
  Run({"DEL", "resque:worker:" + dead});
  Run({"DEL", "resque:worker:" + dead + ":started"});
  Run({"HDEL", "resque:workers:heartbeat", dead});
  Run({"DEL", "resque:stat:processed:" + dead});
  Run({"DEL", "resque:stat:failed:" + dead});

  Worker a(*backend_, registry_, Options("here"));
  Worker b(*backend_, registry_, Options("there"));
  EXPECT_EQ(a.BeatAndRecover(), 1);
  EXPECT_EQ(b.BeatAndRecover(), 0);
  EXPECT_EQ(Run({"LRANGE", "resque:queue:mail", "0", "-1"}),
            absl::StrFormat("%s\n%s", Payload(2), Payload(3)));
  EXPECT_EQ(Run({"EXISTS", "resque:inflight:" + dead, "resque:inflight:" + dead + ":queue:mail"}),
            "0");
  EXPECT_EQ(Run({"SISMEMBER", "resque:workers:inflight", dead}), "0");
  EXPECT_EQ(Run({"HEXISTS", "resque:workers:liveness", dead}), "0");
  EXPECT_EQ(Run({"LLEN", "resque:failed"}), "1");
}

}  // namespace
}  // namespace resque
