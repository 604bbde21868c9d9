// The failover test: a master, one replica and three redis-sentinel processes, all on loopback;
// tracked jobs are enqueued through a redis-sentinel:// URL and worked by a `resque work`
// process while the master is killed with SIGKILL. The sentinels promote the replica; the
// worker and the enqueuer carry on against it without a restart. Every acknowledged job must
// run; duplicates are counted and bounded; the time without service is measured. With
// wait_replicas=1 no acknowledged job may be lost; without it the loss is measured
// (docs/reliability.md, "Failover").
#include <hiredis/hiredis.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/queue.h"
#include "gtest/gtest.h"
#include "tests/reliability/worker_process.h"
#include "tests/support/redis_server.h"

namespace resque::testing {
namespace {

constexpr int kJobs = 1500;
constexpr int kKillAt = 300;  // the master dies once this many jobs are acknowledged
constexpr absl::Duration kPace = absl::Milliseconds(3);
constexpr char kMaster[] = "mymaster";
// AUTH on both sides: the servers' password (in the URL's user-info) and the sentinels' own
// (sentinel_password=), which must not be mixed up.
constexpr char kServerPassword[] = "server-pw";
constexpr char kSentinelPassword[] = "sentinel-pw";

// One command to the server on `port`, its reply as text (an array's elements joined by
// spaces), or "" when it cannot be reached.
std::string Ask(int port, const std::vector<std::string>& argv, const std::string& password) {
  timeval tv = {1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return "";
  }
  redisSetTimeout(c, tv);
  if (!password.empty()) {
    auto* auth = static_cast<redisReply*>(redisCommand(c, "AUTH %s", password.c_str()));
    if (auth != nullptr) freeReplyObject(auth);
  }
  std::vector<const char*> words;
  std::vector<size_t> lengths;
  for (const std::string& w : argv) {
    words.push_back(w.data());
    lengths.push_back(w.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(words.size()), words.data(), lengths.data()));
  std::string out;
  if (r != nullptr) {
    if (r->type == REDIS_REPLY_ARRAY) {
      std::vector<std::string> parts;
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        parts.push_back(e->type == REDIS_REPLY_INTEGER ? absl::StrFormat("%d", e->integer)
                                                       : std::string(e->str ? e->str : "", e->len));
      }
      out = absl::StrJoin(parts, " ");
    } else if (r->type == REDIS_REPLY_INTEGER) {
      out = absl::StrFormat("%d", r->integer);
    } else if (r->str != nullptr) {
      out = std::string(r->str, r->len);
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

// The value after `field` in a flat field/value reply (SENTINEL master).
std::string Field(const std::string& reply, const std::string& field) {
  const std::string key = " " + field + " ";
  const size_t at = (" " + reply + " ").find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() - 1;
  const size_t end = reply.find(' ', start);
  return reply.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

template <typename Pred>
bool Eventually(absl::Duration limit, Pred pred) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return pred();
}

struct Result {
  int acknowledged = 0;
  int refused = 0;  // enqueues that returned an error (not acknowledged)
  int lost = 0;     // acknowledged, never run
  int duplicates = 0;
  absl::Duration enqueue_gap;  // from the kill to the next acknowledged enqueue
  absl::Duration worker_gap;   // from the kill to the run of the first job acknowledged after it
};

class FailoverTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/resque-failover-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_TRUE(master_.Start().ok());
    replica_.set_extra_args({"--replicaof", "127.0.0.1", absl::StrFormat("%d", master_.port())});
    ASSERT_TRUE(replica_.Start().ok());
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<int> port = FreeLoopbackPort();
      ASSERT_TRUE(port.ok());
      const std::string conf = absl::StrFormat("%s/sentinel-%d.conf", dir_, i);
      std::ofstream(conf) << absl::StrFormat(
          "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nrequirepass %s\n"
          "sentinel monitor %s 127.0.0.1 %d 2\n"
          "sentinel auth-pass %s %s\n"
          "sentinel sentinel-pass %s\n"
          "sentinel down-after-milliseconds %s 1000\n"
          "sentinel failover-timeout %s 10000\n"
          "sentinel parallel-syncs %s 1\n",
          *port, dir_, kSentinelPassword, kMaster, master_.port(), kMaster, kServerPassword,
          kSentinelPassword, kMaster, kMaster, kMaster);
      absl::StatusOr<std::unique_ptr<WorkerProcess>> s = WorkerProcess::Start(
          {"redis-sentinel", conf}, {}, absl::StrFormat("%s/sentinel-%d.log", dir_, i));
      ASSERT_TRUE(s.ok()) << s.status();
      sentinels_.push_back(*std::move(s));
      sentinel_ports_.push_back(*port);
    }
    // The replica in sync, and every sentinel seeing it and the two others: a failover needs a
    // quorum of two and a majority to elect its leader.
    ASSERT_TRUE(Eventually(absl::Seconds(20), [&] {
      const std::string info = Ask(replica_.port(), {"INFO", "replication"}, kServerPassword);
      return info.find("master_link_status:up") != std::string::npos;
    })) << "the replica did not sync";
    ASSERT_TRUE(Eventually(
        absl::Seconds(30),
        [&] {
          for (int port : sentinel_ports_) {
            const std::string m = Ask(port, {"SENTINEL", "master", kMaster}, kSentinelPassword);
            if (Field(m, "num-slaves") != "1" || Field(m, "num-other-sentinels") != "2")
              return false;
          }
          return true;
        }))
        << "the sentinels did not find each other and the replica; see " << dir_;
  }

  void TearDown() override {
    for (auto& s : sentinels_) s->Kill();
    (void)master_.Stop();
    (void)replica_.Stop();
    if (!HasFailure()) std::system(absl::StrFormat("rm -rf %s", dir_).c_str());
  }

  std::string Url(int wait_replicas) const {
    std::vector<std::string> hosts;
    for (int port : sentinel_ports_) hosts.push_back(absl::StrFormat("127.0.0.1:%d", port));
    std::string url =
        absl::StrFormat("redis-sentinel://:%s@%s/%s?sentinel_password=%s", kServerPassword,
                        absl::StrJoin(hosts, ","), kMaster, kSentinelPassword);
    if (wait_replicas > 0) {
      absl::StrAppend(&url,
                      absl::StrFormat("&wait_replicas=%d&wait_timeout_ms=500", wait_replicas));
    }
    return url;
  }

  Result Run(int wait_replicas) {
    Result result;
    const std::string url = Url(wait_replicas);
    const std::string runs = dir_ + "/runs";
    absl::StatusOr<std::unique_ptr<WorkerProcess>> worker = WorkerProcess::Start(
        {RESQUE_BINARY, "--redis", url, "work", "--queue", "failover", "--blocking", "--interval",
         "0.1", "--concurrency", "2", "--load", RELIABILITY_JOBS_LIBRARY},
        {"RESQUE_TEST_OUT=" + runs, "RESQUE_TEST_JOB_MS=1"}, dir_ + "/worker.log");
    EXPECT_TRUE(worker.ok()) << worker.status();
    if (!worker.ok()) return result;

    absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(url);
    EXPECT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<Backend>> backend = redis::NewRedisBackend(*options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return result;
    Queue queue(**backend);

    std::vector<std::string> acked;
    std::vector<absl::Time> acked_at;
    absl::Time killed = absl::InfiniteFuture();
    // From the kill, the worker's gap: the first run noted more than 100 ms after it (what was
    // reserved before the kill is noted by then) is the first from the new master.
    std::atomic<int64_t> worker_gap_ns{-1};
    std::thread monitor;
    // As a supervisor would, the dead master is started again once the sentinels have promoted
    // the replica (not before: an empty master back in time would be the master still). The
    // sentinels make it a replica of the new master, so that WAIT has a replica again. Started
    // from this thread: a server dies with the thread that started it (PR_SET_PDEATHSIG).
    bool restarted = false;
    absl::Time restarted_at = absl::InfiniteFuture();
    absl::Time replicating_at = absl::InfiniteFuture();
    absl::Time next_look = absl::InfinitePast();
    const auto restart_when_promoted = [&] {
      if (killed == absl::InfiniteFuture() || absl::Now() < next_look) return;
      next_look = absl::Now() + absl::Milliseconds(100);
      if (restarted) {
        if (replicating_at == absl::InfiniteFuture() &&
            Ask(master_.port(), {"INFO", "replication"}, kServerPassword)
                    .find("master_link_status:up") != std::string::npos) {
          replicating_at = absl::Now();
        }
        return;
      }
      const std::string m = Ask(
          sentinel_ports_[0], {"SENTINEL", "get-master-addr-by-name", kMaster}, kSentinelPassword);
      if (m.empty() || m.find(absl::StrFormat(" %d", master_.port())) != std::string::npos) return;
      EXPECT_TRUE(master_.Start().ok());
      restarted = true;
      restarted_at = absl::Now();
    };
    // Whether the runs file shows a job numbered above `after` (ids are their numbers in hex).
    const auto ran_one_after = [&](int after) {
      std::ifstream in(runs);
      for (std::string line; std::getline(in, line);) {
        // A line being written may be cut short: only whole ids count.
        if (line.size() == 32 && std::stoll(line, nullptr, 16) > after) return true;
      }
      return false;
    };
    const absl::Time enqueue_deadline = absl::Now() + absl::Seconds(60);
    for (int i = 0; i < kJobs && absl::Now() < enqueue_deadline; ++i) {
      absl::StatusOr<std::string> id =
          queue.Enqueue("failover", "Tracked", absl::StrFormat("[%d]", i),
                        {.track = true, .id = absl::StrFormat("%032x", i)});
      if (id.ok()) {
        acked.push_back(*id);
        acked_at.push_back(absl::Now());
      } else {
        ++result.refused;
      }
      if (static_cast<int>(acked.size()) == kKillAt && killed == absl::InfiniteFuture()) {
        EXPECT_TRUE(master_.Kill().ok());
        killed = absl::Now();
        // The worker's gap: until a job enqueued after the kill (acknowledged or not: a refused
        // enqueue may still be on the new master) has run.
        monitor = std::thread([&, killed, i] {
          while (absl::Now() < killed + absl::Seconds(60)) {
            if (ran_one_after(i)) {
              worker_gap_ns = absl::ToInt64Nanoseconds(absl::Now() - killed);
              return;
            }
            absl::SleepFor(absl::Milliseconds(5));
          }
        });
      }
      restart_when_promoted();
      absl::SleepFor(kPace);
    }
    while (!restarted && absl::Now() < killed + absl::Seconds(30)) {
      restart_when_promoted();
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_TRUE(restarted) << "the sentinels promoted no replica";
    // When the restarted master has become a replica in sync: WAIT can be satisfied again.
    while (replicating_at == absl::InfiniteFuture() && absl::Now() < killed + absl::Seconds(60)) {
      restart_when_promoted();
      absl::SleepFor(absl::Milliseconds(20));
    }
    result.acknowledged = static_cast<int>(acked.size());
    if (monitor.joinable()) monitor.join();
    EXPECT_GE(worker_gap_ns.load(), 0) << "the worker performed nothing after the failover";
    result.worker_gap = absl::Nanoseconds(worker_gap_ns.load());

    // The first job acknowledged after the kill, and when it was.
    size_t first_after = acked.size();
    for (size_t i = 0; i < acked.size(); ++i) {
      if (acked_at[i] > killed) {
        first_after = i;
        break;
      }
    }
    EXPECT_LT(first_after, acked.size()) << "no enqueue succeeded after the failover";
    if (first_after < acked.size()) result.enqueue_gap = acked_at[first_after] - killed;

    // Every acknowledged job run, or no progress for 5 s, within a minute.
    std::map<std::string, int> ran;
    const auto read_runs = [&] {
      ran.clear();
      std::ifstream in(runs);
      for (std::string line; std::getline(in, line);) ++ran[line];
    };
    const auto all_ran = [&] {
      for (const std::string& id : acked) {
        if (ran.count(id) == 0) return false;
      }
      return true;
    };
    absl::Time last_progress = absl::Now();
    size_t last_count = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      read_runs();
      if (all_ran()) break;
      if (ran.size() != last_count) {
        last_count = ran.size();
        last_progress = absl::Now();
      } else if (absl::Now() - last_progress > absl::Seconds(5)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ((*worker)->Stop(SIGQUIT, absl::Seconds(15)), 0)
        << "the worker did not carry on; see " << dir_ << "/worker.log";
    read_runs();
    for (const std::string& id : acked) {
      if (ran.count(id) == 0) ++result.lost;
    }
    for (const auto& [id, n] : ran) result.duplicates += n - 1;

    std::printf(
        "failover test (wait_replicas=%d): %d acknowledged, %d refused during the failover, "
        "%d lost, %d duplicate run(s); after the kill: first acknowledged enqueue %s, first job "
        "performed %s, old master restarted %s, replicating again by %s\n",
        wait_replicas, result.acknowledged, result.refused, result.lost, result.duplicates,
        absl::FormatDuration(absl::Trunc(result.enqueue_gap, absl::Milliseconds(1))).c_str(),
        absl::FormatDuration(absl::Trunc(result.worker_gap, absl::Milliseconds(1))).c_str(),
        absl::FormatDuration(absl::Trunc(restarted_at - killed, absl::Milliseconds(1))).c_str(),
        absl::FormatDuration(absl::Trunc(replicating_at - killed, absl::Milliseconds(1))).c_str());
    return result;
  }

  std::string dir_;
  RedisServer master_{kServerPassword};
  RedisServer replica_{kServerPassword};
  std::vector<std::unique_ptr<WorkerProcess>> sentinels_;
  std::vector<int> sentinel_ports_;
};

TEST_P(FailoverTest, WorkersAndEnqueuesCarryOnAcrossAFailover) {
  const int wait_replicas = GetParam();
  Result r = Run(wait_replicas);
  EXPECT_GT(r.acknowledged, kKillAt);
  if (wait_replicas > 0) {
    EXPECT_EQ(r.lost, 0) << "an acknowledged job was lost; see " << dir_;
  }
  // A job runs twice when its reserve or its finish had not reached the replica: at most the
  // jobs in flight at the kill, one per slot, and those handed back.
  EXPECT_LE(r.duplicates, 10) << "see " << dir_;
  // The replica is the master now, with nothing left to do; the old master follows it.
  EXPECT_EQ(Ask(replica_.port(), {"ROLE"}, kServerPassword).substr(0, 6), "master");
  EXPECT_EQ(Ask(replica_.port(), {"LLEN", "resque:queue:failover"}, kServerPassword), "0");
  EXPECT_TRUE(Eventually(
      absl::Seconds(10),
      [&] { return Ask(master_.port(), {"ROLE"}, kServerPassword).substr(0, 5) == "slave"; }))
      << "the old master did not become a replica: ROLE says "
      << Ask(master_.port(), {"ROLE"}, kServerPassword) << "; sentinel: "
      << Ask(sentinel_ports_[0], {"SENTINEL", "replicas", kMaster}, kSentinelPassword);
}

// Mistakes and refusals, on the same set of processes, each one clear error.
using SentinelTest = FailoverTest;

TEST_F(SentinelTest, AMasterNameNoSentinelKnowsIsInvalidArgument) {
  std::string url = Url(0);
  url.replace(url.find(kMaster), std::string(kMaster).size(), "nosuchmaster");
  absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(url);
  ASSERT_TRUE(options.ok()) << options.status();
  absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(*options);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(b.status())) << b.status();
  EXPECT_NE(b.status().message().find("no master named \"nosuchmaster\""), absl::string_view::npos)
      << b.status();
}

TEST_F(SentinelTest, AWrongSentinelPasswordSaysAuthAndNeverShowsIt) {
  std::string url = Url(0);
  url.replace(url.find(kSentinelPassword), std::string(kSentinelPassword).size(), "not-it");
  absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(url);
  ASSERT_TRUE(options.ok()) << options.status();
  options->connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(*options);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("AUTH refused"), absl::string_view::npos) << b.status();
  EXPECT_EQ(b.status().message().find("not-it"), absl::string_view::npos) << b.status();
}

TEST_F(SentinelTest, AReplicaRefusingAWriteIsUnavailableNotAnError) {
  // Straight to the replica (no sentinel): what a connection to a demoted master meets.
  redis::RedisOptions options = replica_.Options();
  absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(options);
  ASSERT_TRUE(b.ok()) << b.status();
  absl::Status pushed = (*b)->Push("q", "{}");
  EXPECT_TRUE(absl::IsUnavailable(pushed)) << pushed;
  EXPECT_NE(pushed.message().find("not a writable master"), absl::string_view::npos) << pushed;
}

TEST_F(SentinelTest, EverySentinelDownIsUnavailableNamingThem) {
  for (auto& s : sentinels_) s->Kill();
  absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(Url(0));
  ASSERT_TRUE(options.ok()) << options.status();
  options->connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(*options);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnavailable(b.status())) << b.status();
  EXPECT_NE(b.status().message().find("no sentinel gave the master's address"),
            absl::string_view::npos)
      << b.status();
}

INSTANTIATE_TEST_SUITE_P(WaitReplicas, FailoverTest, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("WithoutWait")
                                                  : std::string("WithWaitForOneReplica");
                         });

}  // namespace
}  // namespace resque::testing
