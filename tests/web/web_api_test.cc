// `resque web`'s API, /metrics and /healthz, served by a real WebServer on a loopback port over
// a real redis-server (and the memory backend, for the bulk reads), asked over HTTP by
// cpp-httplib's client. The pages themselves are tested in a browser (web_browser_test.cc).
#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backends/memory/memory_backend.h"
#include "backends/redis/redis_backend.h"
#include "core/backend_wrapper.h"
#include "core/failure.h"
#include "core/json.h"
#include "core/payload.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"
#include "web/dashboard.h"
#include "web/server.h"

namespace resque::web {
namespace {

using ::resque::testing::RedisServer;

std::string JobPayload(const std::string& cls, const std::string& args, double queue_time) {
  Payload p;
  p.class_name = cls;
  p.args = args;
  p.id = NewJobId();
  p.queue_time = queue_time;
  return EncodePayload(p);
}

std::string FailureRecord(const std::string& queue, const std::string& payload,
                          const std::string& error) {
  Failure f;
  f.failed_at = "2026/12/01 10:00:00 UTC";
  f.payload = payload;
  f.exception = "RuntimeError";
  f.error = error;
  f.backtrace = {"app/jobs/bad.rb:3:in `perform'"};
  f.worker = "rubyhost:4242:" + queue;
  f.queue = queue;
  return EncodeFailure(f);
}

class WebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(redis().Flush());
    absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(redis().Options());
    ASSERT_OK(b);
    backend_ = *std::move(b);
  }

  void Serve(WebOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<WebServer>(*backend_, options);
    ASSERT_OK(server_->Start());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(10);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    return client_->Get(path, headers);
  }
  httplib::Result Post(const std::string& path, const std::string& body, bool with_token = true) {
    httplib::Headers headers;
    if (with_token) headers.emplace("X-CSRF-Token", server_->csrf_token());
    return client_->Post(path, headers, body, "application/json");
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<WebServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebApiTest, OverviewShowsQueuesWorkersAndTotalsAsPeersWroteThem) {
  const double now = static_cast<double>(absl::ToUnixSeconds(absl::Now()));
  ASSERT_OK(backend_->Push("mail", JobPayload("Mailer", "[\"a@example.com\"]", now - 30)));
  ASSERT_OK(backend_->Push("mail", JobPayload("Mailer", "[\"b@example.com\"]", now)));
  // node-resque's payload: no id, no queue_time, so no age.
  ASSERT_OK(backend_->Push("node", R"({"class":"Add","queue":"node","args":[1,2]})"));
  ASSERT_OK(backend_->RegisterWorker("host1:123:mail", "2026-12-01T10:00:00Z"));
  ASSERT_OK(backend_->StartJob(
      {.worker_id = "host1:123:mail",
       .working_json = absl::StrFormat(
           R"({"queue":"mail","run_at":"%s","payload":{"class":"Mailer","args":[1]}})",
           FormatIsoTime(absl::Now() - absl::Seconds(7)))}));
  // php-resque's worker: started as strftime writes it, idle.
  ASSERT_OK(backend_->RegisterWorker("phphost:99:node", "Tue Dec 01 10:00:00 UTC 2026"));
  ASSERT_OK(backend_->IncrementStat("processed", 12).status());
  ASSERT_OK(backend_->IncrementStat("failed", 2).status());
  Serve();

  httplib::Result r = Get("/api/overview");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  ASSERT_OK(json::ParseObject(r->body).status());
  EXPECT_TRUE(absl::StrContains(
      r->body, R"("processed":12,"failed":2,"failed_list":0,"pending":3,"queues":2,"workers":2,)"
               R"("busy":1,"idle":1,"paused":0)"))
      << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"({"name":"node","size":1,"oldest_age":null)"));
  // The oldest mail job waited about 30 s.
  const size_t at = r->body.find(R"({"name":"mail","size":2,"oldest_age":)");
  ASSERT_NE(at, std::string::npos) << r->body;
  double age = 0;
  ASSERT_TRUE(absl::SimpleAtod(r->body.substr(at + 37, 6), &age)) << r->body.substr(at, 60);
  EXPECT_GE(age, 29);
  EXPECT_LT(age, 120);
  EXPECT_TRUE(absl::StrContains(r->body, R"("host":"host1","pid":"123","queues":["mail"])"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("state":"busy")"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("class":"Mailer","args":[1])"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("host":"phphost","pid":"99")"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("history":[{"t":)"));
}

TEST_F(WebApiTest, QueuePageListsJobsPagedAndRemovesOneAndClears) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(backend_->Push("q", JobPayload("Job", absl::StrCat("[", i, "]"), 1.0)));
  }
  Serve();
  httplib::Result r = Get("/api/queues/q?start=20&count=5");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("name":"q","size":30,"start":20,"count":5)"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("index":20,"class":"Job","args":[20])"));
  EXPECT_TRUE(absl::StrContains(r->body, R"("index":24,"class":"Job","args":[24])"));
  EXPECT_FALSE(absl::StrContains(r->body, R"("index":25)"));

  absl::StatusOr<std::vector<std::string>> third = backend_->Peek("q", 3, 1);
  ASSERT_OK(third);
  r = Post("/api/queue/remove",
           absl::StrCat(R"({"queue":"q","raw":)", json::Quote((*third)[0]), "}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, R"({"removed":1})");
  EXPECT_EQ(*backend_->Size("q"), 29);

  r = Post("/api/queue/clear", R"({"queue":"q"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(*backend_->Size("q"), 0);
  r = Get("/api/queues/q");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
}

TEST_F(WebApiTest, ARetriedFailureIsPushedBackAndStampedAndAStaleOneIsRefused) {
  const std::string payload = JobPayload("BadJob", "[1]", 1.0);
  ASSERT_OK(backend_->PushFailure(FailureRecord("work", payload, "boom")));
  ASSERT_OK(backend_->PushFailure(FailureRecord("work", JobPayload("Other", "[]", 1.0), "bang")));
  Serve();
  httplib::Result r = Get("/api/failed?class=BadJob");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("total":2,"matched":1)")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("error":"boom","backtrace":["app/jobs/bad.rb:3)"));
  absl::StatusOr<std::vector<std::string>> records = backend_->Failures(0, 1);
  ASSERT_OK(records);
  const std::string raw = (*records)[0];

  // What another page showed before the list changed: refused, nothing pushed.
  r = Post("/api/failed/retry",
           absl::StrCat(R"({"index":1,"list":"","raw":)", json::Quote(raw), "}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(*backend_->Size("work"), 0);

  r = Post("/api/failed/retry",
           absl::StrCat(R"({"index":0,"list":"","raw":)", json::Quote(raw), "}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  absl::StatusOr<std::vector<std::string>> queued = backend_->Peek("work", 0, 10);
  ASSERT_OK(queued);
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(DecodePayload((*queued)[0])->class_name, "BadJob");
  absl::StatusOr<std::vector<Failure>> after = FailureStore(*backend_).List(0, 1);
  ASSERT_OK(after);
  EXPECT_TRUE((*after)[0].retried_at.has_value());

  r = Post("/api/failed/retry_all", R"({"class":"Other"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("retried":1)")) << r->body;

  records = backend_->Failures(0, 1);
  ASSERT_OK(records);
  r = Post("/api/failed/remove",
           absl::StrCat(R"({"index":0,"raw":)", json::Quote((*records)[0]), "}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(*backend_->FailureCount(), 1);
  r = Post("/api/failed/clear", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(*backend_->FailureCount(), 0);
}

TEST_F(WebApiTest, ClearingOneQueuesFailuresInTheOneListKeepsTheOthers) {
  for (const char* q : {"a", "b", "a", "c", "a"}) {
    ASSERT_OK(backend_->PushFailure(FailureRecord(q, JobPayload("J", "[]", 1.0), "x")));
  }
  Serve();
  httplib::Result r = Post("/api/failed/clear", R"({"queue":"a"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("removed":3)")) << r->body;
  absl::StatusOr<std::vector<Failure>> left = FailureStore(*backend_).List(0, 10);
  ASSERT_OK(left);
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].queue, "b");
  EXPECT_EQ((*left)[1].queue, "c");
}

TEST_F(WebApiTest, ActionsNeedThePostAndTheCsrfToken) {
  ASSERT_OK(backend_->PushFailure(FailureRecord("work", JobPayload("J", "[]", 1.0), "x")));
  Serve();
  httplib::Result r = Post("/api/failed/clear", "{}", /*with_token=*/false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "CSRF"));
  r = client_->Post("/api/failed/clear", {{"X-CSRF-Token", std::string(64, '0')}}, "{}",
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = Get("/api/failed/clear");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(*backend_->FailureCount(), 1);  // nothing was cleared

  r = Get("/api/session");
  ASSERT_TRUE(r);
  EXPECT_TRUE(absl::StrContains(r->body, server_->csrf_token()));
}

TEST_F(WebApiTest, BadRequestsGetA4xxWithAMessageAndTheServerCarriesOn) {
  Serve();
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/failed?start=x", "", 400},
      {"GET", "/api/failed?count=0", "", 400},
      {"GET", "/api/failed?count=100000", "", 400},
      {"GET", "/api/queues/none", "", 404},
      {"GET", "/api/nothing", "", 404},
      {"GET", "/etc/passwd", "", 404},
      {"GET", "/../../etc/passwd", "", 404},
      {"POST", "/api/failed/retry", "not json", 400},
      {"POST", "/api/failed/retry", R"({"index":"zero","raw":"x"})", 400},
      {"POST", "/api/failed/retry", R"({"index":-1,"raw":"x"})", 400},
      {"POST", "/api/failed/remove", R"({"index":0})", 400},
      {"POST", "/api/queue/remove", R"({"queue":"q","raw":"{not a payload"})", 400},
      {"POST", "/api/queue/clear", R"({"queue":""})", 400},
      {"POST", "/api/nothing", "{}", 404},
  };
  for (const Case& c : cases) {
    httplib::Result r = c.method == "GET" ? Get(c.path) : Post(c.path, c.body);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.method << " " << c.path << " " << c.body << ": " << r->body;
    EXPECT_TRUE(absl::StrContains(r->body, "\"error\":")) << c.path << ": " << r->body;
  }
  httplib::Result r = client_->Delete("/api/overview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = Get("/api/overview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(WebApiTest, CredentialsAreRequiredWhenSetButNotForHealthz) {
  Serve({.credentials = "ops:s3cret"});
  httplib::Result r = Get("/api/overview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(absl::StrContains(r->get_header_value("WWW-Authenticate"), "Basic"));
  r = Get("/", {{"Authorization", "Basic " + absl::Base64Escape("ops:wrong")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = Get("/metrics", {{"Authorization", "Basic " + absl::Base64Escape("ops:s3cret")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok\n");
}

// DNS rebinding: another site's name resolved to 127.0.0.1 is refused without credentials.
TEST_F(WebApiTest, WithoutCredentialsOnlyALoopbackHostHeaderIsServed) {
  Serve();
  httplib::Result r = Get("/api/session", {{"Host", "evil.example:5678"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421) << r->body;
  EXPECT_FALSE(absl::StrContains(r->body, server_->csrf_token()));
  for (const char* host : {"127.0.0.1:5678", "localhost:5678", "[::1]:5678", "127.0.0.1"}) {
    r = Get("/api/session", {{"Host", host}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << host;
  }
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("127.foo.example"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
}

// A peer's odd dates never make the JSON invalid (JSON has no infinity).
TEST_F(WebApiTest, InfiniteDatesFromPeersShowAsUnknown) {
  ASSERT_OK(backend_->RegisterWorker("h:1:q", "2026-12-01T10:00:00Z"));
  ASSERT_OK(backend_->StartJob(
      {.worker_id = "h:1:q", .working_json = R"({"queue":"q","run_at":1e300,"payload":{}})"}));
  ASSERT_OK(
      redis().Command({"HSET", "resque:workers:heartbeat", "h:1:q", "infinite-past"}).status());
  Serve();
  httplib::Result r = Get("/api/workers");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_OK(json::Validate(r->body).status());
  EXPECT_TRUE(absl::StrContains(r->body, R"("running_for":0.000,"heartbeat_age":null)")) << r->body;
}

TEST_F(WebApiTest, BeyondLoopbackWithoutCredentialsIsRefusedBeforeAnythingIsBound) {
  WebServer server(*backend_, {.host = "0.0.0.0", .port = 0});
  absl::Status s = server.Start();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "needs credentials")) << s;
  EXPECT_EQ(server.port(), 0);
}

// A Stop right after Start (a signal as the server comes up) returns, every time.
TEST_F(WebApiTest, AStopRightAfterStartReturns) {
  for (int i = 0; i < 20; ++i) {
    WebServer server(*backend_, {.port = 0});
    ASSERT_OK(server.Start());
    server.Stop();
  }
}

// A backend whose server is gone: every read fails as a dead Redis does.
class DeadBackend : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;

 private:
  absl::StatusOr<bool> DoAllWorkersPaused() override {
    return absl::UnavailableError("redis at 127.0.0.1:1: connection refused");
  }
  absl::StatusOr<std::vector<QueueSummary>> DoQueueSummaries(QueueParts /*parts*/) override {
    return absl::UnavailableError("redis at 127.0.0.1:1: connection refused");
  }
};

TEST_F(WebApiTest, ADeadBackendIs503WithTheReason) {
  DeadBackend dead(backend_.get());
  WebServer server(dead, {.port = 0});
  ASSERT_OK(server.Start());
  httplib::Client client("127.0.0.1", server.port());
  for (const char* path : {"/healthz", "/api/overview", "/metrics"}) {
    httplib::Result r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 503) << path;
    EXPECT_TRUE(absl::StrContains(r->body, "connection refused")) << path << ": " << r->body;
  }
  server.Stop();
}

// /metrics read by the Prometheus project's own Python parser (python3-prometheus-client), not a
// regex: every family parses, and the samples say what Redis holds.
TEST_F(WebApiTest, MetricsParseWithThePrometheusClientParser) {
  const char* python = "/usr/bin/python3";
  absl::StatusOr<testing::ProcessResult> probe =
      testing::RunProcess({python, "-c", "import prometheus_client"}, absl::Seconds(30));
  if (!probe.ok() || probe->exit_code != 0) {
    const char* required = std::getenv("RESQUE_REQUIRE_PEERS");
    if (required != nullptr && *required != '\0') {
      FAIL() << "python3-prometheus-client is not installed (scripts/deps.sh installs it)";
    }
    GTEST_SKIP() << "python3-prometheus-client is not installed";
  }
  ASSERT_OK(backend_->Push("mail", JobPayload("M", "[]", 1.0)));
  // A name that needs escaping in a label value.
  ASSERT_OK(backend_->Push("we\"ird\\q\nx", JobPayload("M", "[]", 1.0)));
  ASSERT_OK(backend_->Push("bad\xffutf8", JobPayload("M", "[]", 1.0)));
  ASSERT_OK(backend_->RegisterWorker("h:1:mail", "2026-12-01T10:00:00Z"));
  ASSERT_OK(backend_->PushFailure(FailureRecord("mail", JobPayload("M", "[]", 1.0), "x")));
  ASSERT_OK(backend_->IncrementStat("processed", 7).status());
  ASSERT_OK(backend_->PushDelayed(1000, R"({"class":"Later","args":[],"queue":"mail"})"));
  Serve();
  httplib::Result r = Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string path = ::testing::TempDir() + "/metrics.txt";
  std::ofstream(path) << r->body;
  constexpr char kParse[] = R"PY(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        key = s.name + "".join("|%s=%s" % kv for kv in sorted(s.labels.items()))
        out[key] = [family.type, s.value]
print(json.dumps(out, sort_keys=True))
)PY";
  absl::StatusOr<testing::ProcessResult> parsed =
      testing::RunProcess({python, "-c", kParse, path}, absl::Seconds(30));
  ASSERT_OK(parsed);
  ASSERT_EQ(parsed->exit_code, 0) << parsed->err << "\n" << r->body;
  const std::string& j = parsed->out;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_processed_total": ["counter", 7.0])")) << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_queue_size|queue=mail": ["gauge", 1.0])")) << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_queue_size|queue=we\"ird\\q\nx": ["gauge", 1.0])"))
      << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_queue_size|queue=bad\ufffdutf8": ["gauge", 1.0])"))
      << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_workers|state=idle": ["gauge", 1.0])")) << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_failed_jobs": ["gauge", 1.0])")) << j;
  EXPECT_TRUE(absl::StrContains(j, R"("resque_delayed_jobs": ["gauge", 1.0])")) << j;
  // Due in 1970: the lag is most of the epoch.
  EXPECT_TRUE(absl::StrContains(j, R"("resque_scheduler_lag_seconds": ["gauge", 17)")) << j;
}

// The snapshot behind the overview and /metrics costs the same round trips at 10 queues and
// workers as at 1,000.
TEST_F(WebApiTest, ASnapshotCostsTheSameRoundTripsHoweverManyQueuesAndWorkers) {
  const auto trips = [&]() -> int64_t {
    const int64_t before = *redis::RedisRoundTrips(*backend_);
    EXPECT_OK(TakeSnapshot(*backend_, absl::Now()).status());
    return *redis::RedisRoundTrips(*backend_) - before;
  };
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(backend_->Push(absl::StrCat("q", i), JobPayload("J", "[]", 1.0)));
    ASSERT_OK(backend_->RegisterWorker(absl::StrCat("h:", i, ":q"), "2026-12-01T10:00:00Z"));
  }
  // `resque queues` and `stats` read only the sizes: the same two round trips.
  const auto size_trips = [&]() -> int64_t {
    const int64_t before = *redis::RedisRoundTrips(*backend_);
    EXPECT_OK(backend_->QueueSummaries(Backend::QueueParts::kSizesOnly).status());
    return *redis::RedisRoundTrips(*backend_) - before;
  };
  const int64_t at_ten = trips();
  const int64_t sizes_at_ten = size_trips();
  for (int i = 10; i < 1000; ++i) {
    ASSERT_OK(backend_->Push(absl::StrCat("q", i), JobPayload("J", "[]", 1.0)));
    ASSERT_OK(backend_->RegisterWorker(absl::StrCat("h:", i, ":q"), "2026-12-01T10:00:00Z"));
  }
  const int64_t at_thousand = trips();
  EXPECT_EQ(at_ten, at_thousand);
  EXPECT_LE(at_thousand, 14);
  EXPECT_EQ(size_trips(), sizes_at_ten);
  EXPECT_LE(sizes_at_ten, 2);
  absl::StatusOr<Snapshot> s = TakeSnapshot(*backend_, absl::Now());
  ASSERT_OK(s);
  EXPECT_EQ(s->queues.size(), 1000u);
  EXPECT_EQ(s->workers.size(), 1000u);
  EXPECT_EQ(s->totals.pending, 1000);
}

// The bulk reads say the same on both backends, a key of the wrong type included.
class SummariesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SummariesTest, QueueAndWorkerSummariesAgreeWithTheOneByOneReads) {
  std::unique_ptr<Backend> backend;
  if (GetParam() == "memory") {
    backend = memory::NewMemoryBackend();
  } else {
    ASSERT_OK(RedisServer::Shared().Flush());
    absl::StatusOr<std::unique_ptr<Backend>> b =
        redis::NewRedisBackend(RedisServer::Shared().Options());
    ASSERT_OK(b);
    backend = *std::move(b);
  }
  ASSERT_OK(backend->Push("b", "{\"class\":\"J\",\"args\":[2]}"));
  ASSERT_OK(backend->Push("a", "{\"class\":\"J\",\"args\":[1]}"));
  ASSERT_OK(backend->Push("a", "{\"class\":\"J\",\"args\":[3]}"));
  ASSERT_OK(backend->RegisterWorker("w2:1:a", "s2"));
  ASSERT_OK(backend->RegisterWorker("w1:1:a", "s1"));
  ASSERT_OK(backend->StartJob({.worker_id = "w1:1:a", .working_json = "{\"queue\":\"a\"}"}));
  ASSERT_OK(backend->IncrementStat("processed:w1:1:a", 4).status());
  absl::StatusOr<std::vector<QueueSummary>> queues = backend->QueueSummaries();
  ASSERT_OK(queues);
  ASSERT_EQ(queues->size(), 2u);
  EXPECT_EQ((*queues)[0].name, "a");
  EXPECT_EQ((*queues)[0].size, 2);
  EXPECT_EQ((*queues)[0].head, "{\"class\":\"J\",\"args\":[1]}");
  EXPECT_EQ((*queues)[1].name, "b");
  EXPECT_EQ((*queues)[1].size, 1);
  absl::StatusOr<std::vector<QueueSummary>> sizes =
      backend->QueueSummaries(Backend::QueueParts::kSizesOnly);
  ASSERT_OK(sizes);
  ASSERT_EQ(sizes->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*sizes)[i].name, (*queues)[i].name);
    EXPECT_EQ((*sizes)[i].size, (*queues)[i].size);
    EXPECT_EQ((*sizes)[i].head, std::nullopt);
  }
  absl::StatusOr<std::vector<WorkerSummary>> workers = backend->WorkerSummaries();
  ASSERT_OK(workers);
  ASSERT_EQ(workers->size(), 2u);
  EXPECT_EQ((*workers)[0].id, "w1:1:a");
  EXPECT_EQ((*workers)[0].started, "s1");
  EXPECT_EQ((*workers)[0].job, "{\"queue\":\"a\"}");
  EXPECT_EQ((*workers)[0].processed, 4);
  EXPECT_EQ((*workers)[1].id, "w2:1:a");
  EXPECT_EQ((*workers)[1].job, std::nullopt);
  if (GetParam() == "redis") {
    // A peer's mistake: the queue's key is a hash. The one queue says so; the rest still show.
    ASSERT_OK(RedisServer::Shared().Command({"SADD", "resque:queues", "broken"}).status());
    ASSERT_OK(RedisServer::Shared().Command({"HSET", "resque:queue:broken", "f", "v"}).status());
    queues = backend->QueueSummaries();
    ASSERT_OK(queues);
    ASSERT_EQ(queues->size(), 3u);
    EXPECT_EQ((*queues)[2].name, "broken");
    EXPECT_FALSE((*queues)[2].error.empty());
    EXPECT_EQ((*queues)[0].size, 2);
    sizes = backend->QueueSummaries(Backend::QueueParts::kSizesOnly);
    ASSERT_OK(sizes);
    ASSERT_EQ(sizes->size(), 3u);
    EXPECT_EQ((*sizes)[2].error, (*queues)[2].error);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SummariesTest, ::testing::Values("memory", "redis"));

TEST(ParsePeerTimeTest, ReadsEveryPeersDateForm) {
  const absl::Time t = absl::FromUnixSeconds(1796119200);  // 2026-12-01 10:00:00 UTC
  EXPECT_EQ(ParsePeerTime("2026-12-01T10:00:00Z"), t);
  EXPECT_EQ(ParsePeerTime("2026-12-01T11:00:00+01:00"), t);
  EXPECT_EQ(ParsePeerTime("2026-12-01 10:00:00 +0000"), t);
  EXPECT_EQ(ParsePeerTime("Tue Dec 01 10:00:00 UTC 2026"), t);
  EXPECT_EQ(ParsePeerTime("1796119200"), t);
  EXPECT_EQ(ParsePeerTime("2026/12/01 10:00:00 UTC"), t);
  EXPECT_EQ(ParsePeerTime("Tue Dec 01 2026 11:00:00 GMT+0100 (Central European Standard Time)"),
            t);  // node-resque's run_at
  EXPECT_EQ(ParsePeerTime("infinite-past"), std::nullopt);
  EXPECT_EQ(ParsePeerTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParsePeerTime(""), std::nullopt);
}

}  // namespace
}  // namespace resque::web
