// One Redis backend shared by several threads (its connection pool hands each call its own
// hiredis context): nothing lost, nothing doubled, counters exact. Runs under TSan too.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace resque::redis {
namespace {

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr int kPerProducer = 150;

TEST(RedisConcurrency, ThreadsSharingOneBackendLoseAndDoubleNothing) {
  testing::RedisServer& redis = testing::RedisServer::Shared();
  ASSERT_TRUE(redis.Flush().ok());
  absl::StatusOr<std::unique_ptr<Backend>> made = NewRedisBackend(redis.Options());
  ASSERT_TRUE(made.ok()) << made.status();
  Backend& backend = **made;

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&backend, p] {
      for (int n = 0; n < kPerProducer; ++n) {
        // Half as single pushes, half in batches of two, to the two queues alternately.
        const std::string queue = p % 2 == 0 ? "high" : "low";
        if (n % 4 < 2) {
          ASSERT_TRUE(backend.Push(queue, absl::StrFormat("%d:%d", p, n)).ok());
        } else if (n % 4 == 2) {
          ASSERT_TRUE(backend
                          .PushMany(queue, {absl::StrFormat("%d:%d", p, n),
                                            absl::StrFormat("%d:%d", p, n + 1)})
                          .ok());
        }
      }
    });
  }

  std::mutex mu;                         // not absl::Mutex: invisible to TSan in Debian's Abseil
  std::map<int, std::vector<int>> seen;  // producer -> sequence numbers, in reserve order
  std::atomic<int> taken{0};
  const int total = kProducers * kPerProducer;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      const std::string worker = absl::StrFormat("host:1-%d:high,low", c);
      while (taken.load() < total && absl::Now() < deadline) {
        absl::StatusOr<std::optional<ReservedJob>> job = backend.Reserve(
            {"high", "low"}, c % 2 == 0 ? absl::ZeroDuration() : absl::Milliseconds(50));
        ASSERT_TRUE(job.ok()) << job.status();
        if (!job->has_value()) continue;
        int p = 0;
        int n = 0;
        ASSERT_EQ(std::sscanf((*job)->payload.c_str(), "%d:%d", &p, &n), 2);
        {
          std::lock_guard<std::mutex> lock(mu);
          seen[p].push_back(n);
        }
        JobFinish finish;
        finish.worker_id = worker;
        finish.failed = n % 10 == 0;
        finish.failure_json = (*job)->payload;
        ASSERT_TRUE(backend.FinishJob(finish).ok());
        taken.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  ASSERT_EQ(taken.load(), total);
  int failed = 0;
  for (int p = 0; p < kProducers; ++p) {
    std::vector<int>& got = seen[p];
    ASSERT_EQ(got.size(), static_cast<size_t>(kPerProducer)) << "producer " << p;
    std::sort(got.begin(), got.end());
    for (int n = 0; n < kPerProducer; ++n) {
      ASSERT_EQ(got[n], n);
      if (n % 10 == 0) ++failed;
    }
  }
  EXPECT_EQ(*backend.GetStat("processed"), total);
  EXPECT_EQ(*backend.GetStat("failed"), failed);
  EXPECT_EQ(*backend.FailureCount(), failed);
  int64_t per_worker = 0;
  for (int c = 0; c < kConsumers; ++c) {
    per_worker += *backend.GetStat(absl::StrFormat("processed:host:1-%d:high,low", c));
  }
  EXPECT_EQ(per_worker, total);
  EXPECT_EQ(*backend.Size("high"), 0);
  EXPECT_EQ(*backend.Size("low"), 0);
}

}  // namespace
}  // namespace resque::redis
