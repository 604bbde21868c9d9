// The Redis backend against a real redis-server: the exact keys and bytes of WIRE.md, errors for
// keys of the wrong type, AUTH/SELECT/Unix sockets, and faults (Redis absent, stopped, restarted).
// What every backend must do is in the conformance suite; this file is what only Redis has.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/backend_factory.h"
#include "backends/redis/redis_backend.h"
#include "core/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace resque::redis {
namespace {

using ::resque::testing::RedisServer;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWorker[] = "host1:4242-0:high,mail";
constexpr char kJobId[] = "b1f01038e5e833d24b46271a0e31f6d6";

class RedisBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    backend_ = Make(redis().Options());
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  static std::unique_ptr<Backend> Make(const RedisOptions& options) {
    absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *std::move(b) : nullptr;
  }

  // What the server holds, read with a plain client (not the backend).
  static std::string Raw(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> r = redis().Command(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  static int64_t Pttl(const std::string& key) {
    int64_t ms = -3;
    EXPECT_TRUE(absl::SimpleAtoi(Raw({"PTTL", key}), &ms));
    return ms;
  }

  Backend& backend() { return *backend_; }

  std::unique_ptr<Backend> backend_;
};

// ---- The bytes on the wire ----

TEST_F(RedisBackendTest, PushAppendsThePayloadBytesToTheQueueListAndNamesTheQueue) {
  const std::string first = R"({"class":"Mail","args":[{"to":"a@b"}],"id":"x1","queue_time":1.5})";
  const std::string second = "{\"class\":\"Mail\",\"args\":[\"\\u00e9\xc3\xa9\"]}";
  ASSERT_TRUE(backend().Push("mail", first).ok());
  ASSERT_TRUE(backend().PushMany("mail", {second, first}).ok());
  EXPECT_EQ(Raw({"TYPE", "resque:queue:mail"}), "list");
  EXPECT_EQ(Raw({"LRANGE", "resque:queue:mail", "0", "-1"}), first + "\n" + second + "\n" + first);
  EXPECT_EQ(Raw({"TYPE", "resque:queues"}), "set");
  EXPECT_EQ(Raw({"SMEMBERS", "resque:queues"}), "mail");
}

TEST_F(RedisBackendTest, ReservePopsFromTheHeadOfTheQueueList) {
  ASSERT_EQ(Raw({"RPUSH", "resque:queue:q", "a", "b"}), "2");
  absl::StatusOr<std::optional<ReservedJob>> job = backend().Reserve({"q"}, absl::ZeroDuration());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->payload, "a");
  EXPECT_EQ(Raw({"LRANGE", "resque:queue:q", "0", "-1"}), "b");
}

TEST_F(RedisBackendTest, NamespaceIsConfigurable) {
  RedisOptions options = redis().Options();
  options.ns = "myapp";
  std::unique_ptr<Backend> b = Make(options);
  ASSERT_TRUE(b->Push("q", "{}").ok());
  ASSERT_TRUE(b->RegisterWorker("w", "today").ok());
  EXPECT_EQ(Raw({"LLEN", "myapp:queue:q"}), "1");
  EXPECT_EQ(Raw({"SMEMBERS", "myapp:queues"}), "q");
  EXPECT_EQ(Raw({"SMEMBERS", "myapp:workers"}), "w");
  EXPECT_EQ(Raw({"EXISTS", "resque:queue:q"}), "0");
}

TEST_F(RedisBackendTest, WorkerRegistrationUsesTheResqueKeys) {
  ASSERT_TRUE(backend().RegisterWorker(kWorker, "2026-11-24 10:00:00 +0000").ok());
  EXPECT_EQ(Raw({"SMEMBERS", "resque:workers"}), kWorker);
  EXPECT_EQ(Raw({"GET", absl::StrFormat("resque:worker:%s:started", kWorker)}),
            "2026-11-24 10:00:00 +0000");

  ASSERT_TRUE(Raw({"SET", absl::StrFormat("resque:stat:processed:%s", kWorker), "3"}) == "OK");
  ASSERT_TRUE(Raw({"SET", absl::StrFormat("resque:stat:failed:%s", kWorker), "1"}) == "OK");
  ASSERT_TRUE(Raw({"SET", absl::StrFormat("resque:worker:%s", kWorker), "{}"}) == "OK");
  ASSERT_TRUE(backend().UnregisterWorker(kWorker).ok());
  EXPECT_EQ(Raw({"SCARD", "resque:workers"}), "0");
  EXPECT_EQ(Raw({"KEYS", "*"}), "");  // nothing of the worker is left
}

TEST_F(RedisBackendTest, StartJobWritesTheWorkerKeyAndATrackedStatusOnly) {
  const std::string working = R"({"queue":"mail","run_at":"2026/11/24 10:00:00 UTC","payload":{}})";
  ASSERT_TRUE(backend().StartJob({kWorker, working, kJobId, R"({"status":2})"}).ok());
  EXPECT_EQ(Raw({"GET", absl::StrFormat("resque:worker:%s", kWorker)}), working);
  EXPECT_EQ(Raw({"EXISTS", absl::StrFormat("resque:job:%s:status", kJobId)}), "0");  // untracked

  const std::string status_key = absl::StrFormat("resque:job:%s:status", kJobId);
  ASSERT_EQ(Raw({"SET", status_key, R"({"status":1})"}), "OK");
  ASSERT_TRUE(backend().StartJob({kWorker, working, kJobId, R"({"status":2})"}).ok());
  EXPECT_EQ(Raw({"GET", status_key}), R"({"status":2})");
  EXPECT_EQ(Pttl(status_key), -1);  // a running job's status does not expire
}

TEST_F(RedisBackendTest, FinishJobCountsClearsTheWorkerAndExpiresTheStatusInOneDay) {
  const std::string status_key = absl::StrFormat("resque:job:%s:status", kJobId);
  const std::string worker_key = absl::StrFormat("resque:worker:%s", kWorker);
  ASSERT_EQ(Raw({"SET", status_key, R"({"status":2})"}), "OK");
  ASSERT_EQ(Raw({"SET", worker_key, "{}"}), "OK");
  JobFinish finish;
  finish.worker_id = kWorker;
  finish.job_id = kJobId;
  finish.status_json = R"({"status":4,"updated":1700000000,"started":1700000000})";
  ASSERT_TRUE(backend().FinishJob(finish).ok());
  EXPECT_EQ(Raw({"GET", status_key}), finish.status_json);
  EXPECT_GT(Pttl(status_key), 86390 * 1000);
  EXPECT_LE(Pttl(status_key), 86400 * 1000);
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "1");
  EXPECT_EQ(Raw({"GET", absl::StrFormat("resque:stat:processed:%s", kWorker)}), "1");
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:failed"}), "0");
  EXPECT_EQ(Raw({"EXISTS", worker_key}), "0");
  EXPECT_EQ(Raw({"EXISTS", "resque:failed"}), "0");
}

TEST_F(RedisBackendTest, FinishJobOfAFailureRecordsItWhereResqueWebLooks) {
  JobFinish finish;
  finish.worker_id = kWorker;
  finish.failed = true;
  finish.failure_json =
      R"({"failed_at":"2026/11/24 10:00:00 UTC","payload":{"class":"A","args":[]},)"
      R"("exception":"RuntimeError","error":"boom","backtrace":[],"worker":"w","queue":"q"})";
  ASSERT_TRUE(backend().FinishJob(finish).ok());
  ASSERT_TRUE(backend().FinishJob(finish).ok());
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "2");
  EXPECT_EQ(Raw({"GET", "resque:stat:failed"}), "2");
  EXPECT_EQ(Raw({"GET", absl::StrFormat("resque:stat:failed:%s", kWorker)}), "2");
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}),
            finish.failure_json + "\n" + finish.failure_json);
}

TEST_F(RedisBackendTest, SetStatusWritesTheStatusKeyWithItsTtl) {
  const std::string key = absl::StrFormat("resque:job:%s:status", kJobId);
  ASSERT_TRUE(backend().SetStatus(kJobId, R"({"status":1})", absl::InfiniteDuration(), false).ok());
  EXPECT_EQ(Raw({"GET", key}), R"({"status":1})");
  EXPECT_EQ(Pttl(key), -1);
  ASSERT_TRUE(backend().SetStatus(kJobId, R"({"status":3})", absl::Seconds(60), true).ok());
  EXPECT_EQ(Raw({"GET", key}), R"({"status":3})");
  EXPECT_GT(Pttl(key), 50 * 1000);
  ASSERT_TRUE(backend().SetStatus("other", R"({"status":3})", absl::Seconds(60), true).ok());
  EXPECT_EQ(Raw({"EXISTS", "resque:job:other:status"}), "0");
}

TEST_F(RedisBackendTest, StatsAreStringCounters) {
  EXPECT_EQ(*backend().IncrementStat("processed", 5), 5);
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "5");
  ASSERT_EQ(Raw({"SET", "resque:stat:failed", "41"}), "OK");  // as a peer left it
  EXPECT_EQ(*backend().GetStat("failed"), 41);
  ASSERT_TRUE(backend().ClearStat("failed").ok());
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:failed"}), "0");
}

TEST_F(RedisBackendTest, RemoveFailureTakesOutExactlyOneRecordEvenWithTwins) {
  for (const char* v : {"a", "same", "same", "b"}) ASSERT_TRUE(backend().PushFailure(v).ok());
  ASSERT_TRUE(backend().RemoveFailure(2).ok());
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), "a\nsame\nb");
  EXPECT_TRUE(absl::IsNotFound(backend().RemoveFailure(3)));
  EXPECT_TRUE(absl::IsNotFound(backend().UpdateFailure(3, "x")));
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), "a\nsame\nb");
  ASSERT_TRUE(backend().UpdateFailure(1, "retried").ok());
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), "a\nretried\nb");
}

TEST_F(RedisBackendTest, ReadsWhatPeersWrote) {
  // node-resque 9.7's enqueue and a php-resque failure, as they store them.
  const std::string node = R"({"class":"Add","queue":"q1","args":[1,2]})";
  ASSERT_EQ(Raw({"SADD", "resque:queues", "q1"}), "1");
  ASSERT_EQ(Raw({"RPUSH", "resque:queue:q1", node}), "1");
  EXPECT_EQ(*backend().Queues(), std::vector<std::string>{"q1"});
  EXPECT_EQ(*backend().Peek("q1", 0, 10), std::vector<std::string>{node});
  ASSERT_EQ(Raw({"SADD", "resque:workers", "web1:77:q1"}), "1");
  ASSERT_EQ(Raw({"SET", "resque:worker:web1:77:q1:started", "1700000000"}), "OK");
  EXPECT_EQ(*backend().Workers(), std::vector<std::string>{"web1:77:q1"});
  EXPECT_EQ(**backend().WorkerStarted("web1:77:q1"), "1700000000");
}

TEST_F(RedisBackendTest, ReserveWithoutWaitSurvivesAFlushedScriptCache) {
  ASSERT_TRUE(backend().Push("q", "p1").ok());
  ASSERT_EQ(Raw({"SCRIPT", "FLUSH"}), "OK");  // EVALSHA now answers NOSCRIPT: EVAL takes over
  absl::StatusOr<std::optional<ReservedJob>> job = backend().Reserve({"q"}, absl::ZeroDuration());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->payload, "p1");
  ASSERT_EQ(Raw({"SCRIPT", "FLUSH"}), "OK");
  JobFinish finish;
  finish.worker_id = "w";
  ASSERT_TRUE(backend().FinishJob(finish).ok());
  EXPECT_EQ(*backend().GetStat("processed"), 1);
}

TEST_F(RedisBackendTest, BlockingReserveTakesTheFirstNonEmptyQueueInPriorityOrder) {
  ASSERT_TRUE(backend().Push("low", "l").ok());
  ASSERT_TRUE(backend().Push("high", "h").ok());
  absl::StatusOr<std::optional<ReservedJob>> job =
      backend().Reserve({"high", "low"}, absl::Seconds(1));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->queue, "high");
  job = backend().Reserve({"high", "low"}, absl::Seconds(1));
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->queue, "low");
}

TEST_F(RedisBackendTest, BlockingReserveReturnsNothingWhenTheWaitEnds) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::optional<ReservedJob>> job =
      backend().Reserve({"a", "b"}, absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_FALSE(job->has_value());
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(RedisBackendTest, BlockingReserveWakesOnAPush) {
  std::unique_ptr<Backend> pusher = Make(redis().Options());
  std::thread t([&] {
    // Push once the reserve is parked on the server, so the wake-up is what is tested.
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline &&
           redis().Command({"INFO", "clients"})->find("blocked_clients:1") == std::string::npos) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_TRUE(pusher->Push("late", "payload").ok());
  });
  const absl::Time start = absl::Now();
  absl::StatusOr<std::optional<ReservedJob>> job =
      backend().Reserve({"early", "late"}, absl::Seconds(10));
  t.join();
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->queue, "late");
  EXPECT_EQ((*job)->payload, "payload");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// Connections the server has accepted so far (this query's own included).
int64_t ConnectionsAccepted() {
  absl::StatusOr<std::string> info = RedisServer::Shared().Command({"INFO", "stats"});
  EXPECT_TRUE(info.ok()) << info.status();
  const std::string key = "total_connections_received:";
  const size_t at = info.ok() ? info->find(key) : std::string::npos;
  int64_t n = -1;
  if (at != std::string::npos) {
    const size_t end = info->find_first_of("\r\n", at);
    EXPECT_TRUE(absl::SimpleAtoi(info->substr(at + key.size(), end - at - key.size()), &n));
  }
  return n;
}

TEST_F(RedisBackendTest, ConnectionsAreReusedNotReopened) {
  const int64_t before = ConnectionsAccepted();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(backend().Push("q", "x").ok());
  EXPECT_EQ(ConnectionsAccepted() - before, 1);  // only the second INFO's own

  // Eight threads parked in BLPOP at once need eight connections; a second round reuses them.
  auto round = [this] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back(
          [this] { EXPECT_TRUE(backend().Reserve({"empty"}, absl::Milliseconds(200)).ok()); });
    }
    for (std::thread& t : threads) t.join();
  };
  round();
  const int64_t after_first = ConnectionsAccepted();
  round();
  EXPECT_EQ(ConnectionsAccepted() - after_first, 1);
}

// ---- Keys of the wrong type ----

TEST_F(RedisBackendTest, AStringAtAQueueKeyIsAFailedPreconditionNamingTheKey) {
  ASSERT_EQ(Raw({"SET", "resque:queue:mail", "not a list"}), "OK");
  const auto names_key = HasSubstr("resque:queue:mail");
  absl::Status s = backend().Push("mail", "{}");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), names_key);
  s = backend().Reserve({"other", "mail"}, absl::ZeroDuration()).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), names_key);
  s = backend().Reserve({"mail"}, absl::Milliseconds(100)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), names_key);
  s = backend().Size("mail").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  s = backend().Peek("mail", 0, 1).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(Raw({"GET", "resque:queue:mail"}), "not a list");  // nothing was dropped
}

TEST_F(RedisBackendTest, AStringAtTheFailedKeyFailsTheWholeFinish) {
  ASSERT_EQ(Raw({"SET", "resque:failed", "oops"}), "OK");
  ASSERT_EQ(Raw({"SET", absl::StrFormat("resque:worker:%s", kWorker), "{}"}), "OK");
  EXPECT_TRUE(absl::IsFailedPrecondition(backend().PushFailure("{}")));
  EXPECT_TRUE(absl::IsFailedPrecondition(backend().FailureCount().status()));
  JobFinish finish;
  finish.worker_id = kWorker;
  finish.failed = true;
  finish.failure_json = "{}";
  absl::Status s = backend().FinishJob(finish);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("\"resque:failed\""));
  // All or nothing: no counter moved and the worker still shows its job.
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:processed"}), "0");
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:failed"}), "0");
  EXPECT_EQ(Raw({"GET", absl::StrFormat("resque:worker:%s", kWorker)}), "{}");
}

TEST_F(RedisBackendTest, AStringAtTheFailedKeyFailsAWholeBatchFinish) {
  ASSERT_EQ(Raw({"SET", "resque:failed", "oops"}), "OK");
  ASSERT_EQ(Raw({"RPUSH", "resque:queue:mail", "a", "b"}), "2");
  absl::StatusOr<std::vector<ReservedJob>> batch =
      backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), kWorker, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  std::vector<JobFinish> finishes = {
      {.worker_id = kWorker, .in_flight = (*batch)[0]},
      {.worker_id = kWorker, .failed = true, .failure_json = "{}", .in_flight = (*batch)[1]}};
  absl::Status s = backend().FinishJobs(finishes);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("\"resque:failed\""));
  // All or nothing: no counter moved, both jobs are still in flight.
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:processed"}), "0");
  EXPECT_EQ(Raw({"LLEN", absl::StrFormat("resque:inflight:%s:queue:mail", kWorker)}), "2");
}

TEST_F(RedisBackendTest, ABatchReserveIntoAnInFlightKeyOfTheWrongTypeMovesNothing) {
  ASSERT_EQ(Raw({"RPUSH", "resque:queue:mail", "a", "b", "c"}), "3");
  ASSERT_EQ(Raw({"SET", absl::StrFormat("resque:inflight:%s:queue:mail", kWorker), "x"}), "OK");
  absl::Status s =
      backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), kWorker, 2).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("inflight"));
  EXPECT_EQ(Raw({"LRANGE", "resque:queue:mail", "0", "-1"}), "a\nb\nc");  // in their order
  s = backend().ReserveInFlightMany({"mail"}, absl::ZeroDuration(), kWorker, 5000).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

TEST_F(RedisBackendTest, ACounterThatIsNotAnIntegerIsAFailedPrecondition) {
  ASSERT_EQ(Raw({"SET", "resque:stat:processed", "lots"}), "OK");
  absl::Status s = backend().GetStat("processed").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("resque:stat:processed"));
  s = backend().IncrementStat("processed", 1).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  JobFinish finish;
  finish.worker_id = kWorker;
  s = backend().FinishJob(finish);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("resque:stat:processed"));
  EXPECT_EQ(Raw({"EXISTS", absl::StrFormat("resque:stat:processed:%s", kWorker)}), "0");
}

TEST_F(RedisBackendTest, AListAtAWorkerSetIsAFailedPrecondition) {
  ASSERT_EQ(Raw({"RPUSH", "resque:workers", "x"}), "1");
  EXPECT_TRUE(absl::IsFailedPrecondition(backend().RegisterWorker("w", "now")));
  EXPECT_TRUE(absl::IsFailedPrecondition(backend().Workers().status()));
}

// ---- Connecting: AUTH, SELECT, Unix sockets ----

TEST_F(RedisBackendTest, ConnectsOverAUnixSocketAndSelectsTheDb) {
  absl::StatusOr<RedisOptions> options =
      ParseRedisUrl(absl::StrFormat("unix://%s?db=3", redis().socket_path()));
  ASSERT_TRUE(options.ok()) << options.status();
  std::unique_ptr<Backend> in_db3 = Make(*options);
  ASSERT_NE(in_db3, nullptr);
  ASSERT_TRUE(in_db3->Push("q", "x").ok());
  EXPECT_EQ(*in_db3->Size("q"), 1);
  EXPECT_EQ(*backend().Size("q"), 0);  // db 0 has none
  EXPECT_EQ(Raw({"EXISTS", "resque:queue:q"}), "0");
}

TEST_F(RedisBackendTest, ASelectOfAMissingDbIsRefused) {
  RedisOptions options = redis().Options();
  options.db = 5000;
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
  EXPECT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("SELECT"));
}

class RedisAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RedisServer("pa55-word");
    ASSERT_TRUE(server_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string Url(std::string_view userinfo) {
    return absl::StrFormat("redis://%s@127.0.0.1:%d/0", userinfo, server_->port());
  }
  static RedisServer* server_;
};
RedisServer* RedisAuthTest::server_ = nullptr;

TEST_F(RedisAuthTest, AuthenticatesWithAPasswordAloneOrWithAUser) {
  // "someone" is no ACL user: as php-resque does, the user is then ignored.
  for (const char* userinfo : {":pa55-word", "default:pa55-word", "someone:pa55-word"}) {
    absl::StatusOr<RedisOptions> options = ParseRedisUrl(Url(userinfo));
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(*options);
    ASSERT_TRUE(b.ok()) << userinfo << ": " << b.status();
    EXPECT_TRUE((*b)->Push("q", "x").ok());
  }
}

TEST_F(RedisAuthTest, AWrongPasswordIsRefusedWithoutShowingIt) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl(Url(":not-the-pa55"));
  ASSERT_TRUE(options.ok());
  options->connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(*options);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(b.status())) << b.status();
  EXPECT_THAT(b.status().message(), AllOf(Not(HasSubstr("not-the-pa55")), HasSubstr("AUTH")));
}

// ---- Faults ----

// A server of its own, so that stopping it disturbs no other test.
// Waits (a bounded real time) until `n` threads sleep or wait on `timer`.
bool AwaitSleepers(const ManualClock& timer, int n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (timer.waiters() < n) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Redis cannot block on several lists and move atomically, so such a reserve looks again and
// again, sleeping between looks on RedisOptions::timer. This one waits up to an hour on queues
// "a" and "b", in a thread, on a backend whose timer is `timer`.
class SeveralQueuesReserve {
 public:
  explicit SeveralQueuesReserve(ManualClock& timer) : timer_(timer) {
    RedisOptions options = RedisServer::Shared().Options();
    options.timer = &timer;
    absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
    EXPECT_TRUE(b.ok()) << b.status();
    if (b.ok()) backend_ = *std::move(b);
    reserver_ = std::thread([this] {
      if (backend_ != nullptr)
        got_ = backend_->ReserveInFlight({"a", "b"}, absl::Hours(1), kWorker);
    });
  }
  // A test that failed midway: the wait ends by the timer.
  ~SeveralQueuesReserve() {
    if (!reserver_.joinable()) return;
    timer_.Advance(absl::Hours(2));
    reserver_.join();
  }
  Backend& backend() { return *backend_; }
  // Joins the reserving thread and returns what it took.
  absl::StatusOr<std::optional<ReservedJob>> Join() {
    reserver_.join();
    return got_;
  }

 private:
  ManualClock& timer_;
  std::unique_ptr<Backend> backend_;
  absl::StatusOr<std::optional<ReservedJob>> got_ = absl::UnknownError("did not return");
  std::thread reserver_;
};

TEST_F(RedisBackendTest, AWaitOnSeveralQueuesSleepsOnTheBackendsTimerBetweenLooks) {
  ManualClock timer;
  SeveralQueuesReserve reserve(timer);
  ASSERT_TRUE(AwaitSleepers(timer, 1));
  ASSERT_TRUE(reserve.backend().Push("b", R"({"class":"X","args":[]})").ok());
  timer.Advance(absl::Milliseconds(5));  // the first pause: the next look finds the job
  absl::StatusOr<std::optional<ReservedJob>> got = reserve.Join();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->queue, "b");
}

TEST_F(RedisBackendTest, AWaitOnSeveralQueuesEndsWhenTheTimerPassesIt) {
  ManualClock timer;
  SeveralQueuesReserve reserve(timer);
  ASSERT_TRUE(AwaitSleepers(timer, 1));
  timer.Advance(absl::Hours(1));
  absl::StatusOr<std::optional<ReservedJob>> got = reserve.Join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

class RedisFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  RedisOptions Options() {
    RedisOptions options = server_.Options();
    options.connect_timeout = absl::Milliseconds(500);
    options.command_timeout = absl::Seconds(2);
    return options;
  }
  RedisServer server_;
};

TEST_F(RedisFaultTest, ARedisAbsentAtStartIsUnavailableNamingTheAddressButNotThePassword) {
  ASSERT_TRUE(server_.Stop().ok());
  RedisOptions options = Options();
  options.password = "hunter2-secret";
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnavailable(b.status())) << b.status();
  EXPECT_THAT(
      b.status().message(),
      AllOf(HasSubstr(absl::StrFormat("127.0.0.1:%d", server_.port())), Not(HasSubstr("hunter2"))));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));  // connect_timeout bounds the retries
}

TEST_F(RedisFaultTest, VerbsSucceedAgainOnceRedisIsBack) {
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(Options());
  ASSERT_TRUE(b.ok()) << b.status();
  Backend& backend = **b;
  ASSERT_TRUE(backend.Push("q", "before").ok());

  ASSERT_TRUE(server_.Stop().ok());
  const absl::Time start = absl::Now();
  absl::Status down = backend.Push("q", "while down");
  EXPECT_TRUE(absl::IsUnavailable(down)) << down;
  EXPECT_THAT(down.message(), HasSubstr(absl::StrFormat("127.0.0.1:%d", server_.port())));
  EXPECT_TRUE(absl::IsUnavailable(backend.Size("q").status()));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  ASSERT_TRUE(server_.Start().ok());  // same port, empty (no persistence)
  // The backend's pooled connections are dead; the next verb reconnects by itself.
  EXPECT_TRUE(backend.Push("q", "after").ok());
  EXPECT_EQ(*backend.Size("q"), 1);
  absl::StatusOr<std::optional<ReservedJob>> job = backend.Reserve({"q"}, absl::Seconds(1));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->payload, "after");
}

TEST_F(RedisFaultTest, PooledConnectionsClosedByARestartAreReplacedUnnoticed) {
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(Options());
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*b)->Push("q", "x").ok());
  ASSERT_TRUE(server_.Stop().ok());
  ASSERT_TRUE(server_.Start().ok());
  // No verb ran while it was down: not even one call may fail.
  EXPECT_TRUE((*b)->Push("q", "y").ok());
  EXPECT_EQ(*(*b)->Size("q"), 1);
}

TEST_F(RedisFaultTest, ABlockingReserveReturnsWhenRedisDies) {
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(Options());
  ASSERT_TRUE(b.ok()) << b.status();
  std::optional<absl::Status> result;
  absl::Time returned;
  std::thread reserver([&] {
    result = (*b)->Reserve({"q"}, absl::Seconds(30)).status();
    returned = absl::Now();
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> info = server_.Command({"INFO", "clients"});
    if (info.ok() && info->find("blocked_clients:1") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(server_.Stop().ok());
  reserver.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(absl::IsUnavailable(*result)) << *result;
  EXPECT_LT(returned - killed, absl::Seconds(3));  // not the 30 s wait
}

TEST_F(RedisFaultTest, ABlockingReserveOnAHungServerReturnsByItsWaitPlusTheCommandTimeout) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(server_.Pause().ok());  // no FIN, no answer: only our timeout can end the wait
  const absl::Time start = absl::Now();
  absl::Status s = (*b)->Reserve({"q"}, absl::Milliseconds(500)).status();
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(server_.Resume().ok());
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_GE(took, absl::Milliseconds(500));
  EXPECT_LT(took, absl::Milliseconds(500 + 300 + 700));  // wait + command timeout + slack
  // The server answers again: the dropped connection is replaced.
  EXPECT_TRUE((*b)->Reserve({"q"}, absl::ZeroDuration()).ok());
}

TEST_F(RedisFaultTest, AServerThatStopsAnsweringTimesOut) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(server_.Pause().ok());  // up, connections accepted, but no answer
  const absl::Time start = absl::Now();
  absl::Status s = (*b)->Push("q", "x");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(server_.Resume().ok());
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_TRUE((*b)->Size("q").ok());  // and it recovers once the server answers again
}

// ---- OpenBackend: one URL, dispatched on its scheme ----

TEST_F(RedisBackendTest, OpenBackendDispatchesOnTheUrlsScheme) {
  const int port = redis().Options().port;
  for (const std::string& url :
       {absl::StrFormat("redis://127.0.0.1:%d", port), absl::StrFormat("127.0.0.1:%d", port)}) {
    absl::StatusOr<std::unique_ptr<Backend>> b = OpenBackend(url, {.ns = "factory"});
    ASSERT_TRUE(b.ok()) << url << ": " << b.status();
    ASSERT_TRUE((*b)->Push("q", url).ok());
    EXPECT_EQ(Raw({"LINDEX", "factory:queue:q", "-1"}), url);  // Redis, under the namespace
  }
  for (const char* url : {"memory://", "memory"}) {
    absl::StatusOr<std::unique_ptr<Backend>> b = OpenBackend(url);
    ASSERT_TRUE(b.ok()) << url << ": " << b.status();
    ASSERT_TRUE((*b)->Push("memory-only", "{}").ok());
    EXPECT_EQ(Raw({"EXISTS", "resque:queue:memory-only"}), "0");  // not on the server
  }
}

TEST_F(RedisBackendTest, OpenBackendOfAnUnknownSchemeIsInvalidArgumentNamingOnlyTheScheme) {
  absl::StatusOr<std::unique_ptr<Backend>> b = OpenBackend("postgres://:hunter2@127.0.0.1:5432");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(b.status())) << b.status();
  EXPECT_THAT(b.status().message(), AllOf(HasSubstr("\"postgres\""), Not(HasSubstr("hunter2"))));
  // Formerly read as a Redis URL and refused in Redis's words; now core's factory says it.
  for (const char* url : {"memory://somewhere", "redis-cluster://127.0.0.1:6380"}) {
    absl::StatusOr<std::unique_ptr<Backend>> bad = OpenBackend(url);
    EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << url << ": " << bad.status();
  }
}

TEST_F(RedisBackendTest, OpenBackendReachesRedisOverAUnixSocket) {
  absl::StatusOr<std::unique_ptr<Backend>> b =
      OpenBackend(absl::StrFormat("unix://%s", redis().socket_path()), {.ns = "factory"});
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*b)->Push("q", "over the socket").ok());
  EXPECT_EQ(Raw({"LINDEX", "factory:queue:q", "0"}), "over the socket");
}

}  // namespace
}  // namespace resque::redis
