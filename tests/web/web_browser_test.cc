// The dashboard in a real browser: Debian's chromium, driven by puppeteer-core (browser.js beside
// this file), against a WebServer over a real redis-server holding jobs, workers and failures:
// node-resque's written by node-resque itself, php-resque's and Ruby resque's in the forms they
// write (docs/wire-format.md), ours, and XSS payloads among them. Each
// page must load without a console error and show them; the failure retried from the failed page
// must be re-enqueued and then performed by our worker; a POST without the CSRF token is refused.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backends/redis/redis_backend.h"
#include "core/failure.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/worker.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"
#include "web/server.h"

namespace resque::web {
namespace {

using ::resque::testing::RedisServer;

constexpr char kXssScript[] = "<script>window.__xss=1</script>";
constexpr char kXssImg[] = "\"><img src=x onerror=window.__xss=1>";

std::string WebDir() { return RESQUE_WEB_TEST_DIR; }
std::string InteropDir() { return RESQUE_WEB_TEST_DIR "/../interop"; }

bool BrowserReady(std::string* why) {
  if (std::system("test -x /usr/bin/chromium") != 0) {
    *why = "Debian's chromium is not installed (scripts/deps.sh installs it)";
    return false;
  }
  absl::StatusOr<testing::ProcessResult> node =
      testing::RunProcess({"node", "-e", "require('puppeteer-core')"}, absl::Seconds(30), WebDir());
  if (!node.ok() || node->exit_code != 0) {
    *why = "puppeteer-core is not installed: run `npm ci` in tests/web (scripts/test.sh does)";
    return false;
  }
  return true;
}

// The job the test retries: fails until `fixed`.
class FlakyJob : public Job {
 public:
  explicit FlakyJob(int* performed) : performed_(performed) {}
  absl::Status Perform(const JobContext&) override {
    ++*performed_;
    return absl::OkStatus();
  }

 private:
  int* performed_;
};

TEST(WebBrowserTest, EveryPageShowsPeersDataAsTextAndARetriedFailureIsPerformed) {
  std::string why;
  if (!BrowserReady(&why)) {
    const char* required = std::getenv("RESQUE_REQUIRE_PEERS");
    if (required != nullptr && *required != '\0') FAIL() << why;
    GTEST_SKIP() << why;
  }
  RedisServer& redis = RedisServer::Shared();
  ASSERT_OK(redis.Flush());
  absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(redis.Options());
  ASSERT_OK(b);
  Backend& backend = **b;

  // Queues: ours (id, queue_time), php-resque's, node-resque's (queue, no id), Ruby's (class
  // and args only); args with XSS payloads.
  const double now = static_cast<double>(absl::ToUnixSeconds(absl::Now()));
  ASSERT_OK(backend.Push(
      "mail", absl::StrFormat(R"({"class":"Mailer","args":["alice@example.com",%s],"id":"c0ffee",)"
                              R"("queue_time":%.1f})",
                              json::Quote(kXssScript), now - 42)));
  ASSERT_OK(backend.Push("mail", R"({"class":"PHP_Job","args":[{"to":"bob"}],"id":"b1f0",)"
                                 R"("queue_time":1700000000.1234})"));
  // node-resque itself (tests/interop, pinned): a job enqueued by its Queue, and a failure
  // written by its Worker.
  const std::string port = absl::StrCat(redis.port());
  testing::RunResult node = testing::Run(
      {"node", InteropDir() + "/enqueue.js", port,
       absl::StrFormat(R"([["node","Add",[%s]],["nodefail","Fail",[1]]])", json::Quote(kXssImg))},
      {}, absl::Seconds(60));
  ASSERT_EQ(node.exit_code, 0) << node.out << node.err;
  node = testing::Run({"node", InteropDir() + "/work.js", port, "nodefail", "1"}, {},
                      absl::Seconds(60));
  ASSERT_EQ(node.exit_code, 0) << node.out << node.err;
  ASSERT_EQ(*backend.FailureCount(), 1);
  ASSERT_OK(backend.Push("ruby", R"({"class":"Archive","args":[7]})"));

  // Workers: ours busy, php-resque's idle, node-resque's paused (pause-all is not set: marked).
  ASSERT_OK(backend.RegisterWorker("cpphost:100:mail", FormatIsoTime(absl::Now())));
  ASSERT_OK(backend.StartJob(
      {.worker_id = "cpphost:100:mail",
       .working_json = absl::StrFormat(
           R"({"queue":"mail","run_at":"%s","payload":{"class":"Mailer","args":["x"]}})",
           FormatIsoTime(absl::Now() - absl::Seconds(3)))}));
  ASSERT_OK(backend.RegisterWorker("phphost:200:mail", "Tue Dec 01 10:00:00 UTC 2026"));
  ASSERT_OK(backend.RegisterWorker("nodehost:300:node", "2026-12-01T10:00:00.000Z"));
  ASSERT_OK(backend.SetWorkerPaused("nodehost:300:node", true));
  ASSERT_OK(backend.IncrementStat("processed", 1234).status());
  ASSERT_OK(backend.IncrementStat("failed", 2).status());

  // Failures as Ruby resque writes them, one with XSS in its error and backtrace.
  Failure flaky;
  flaky.failed_at = "2026/12/01 10:00:00 UTC";
  flaky.payload = R"({"class":"FlakyJob","args":[1]})";
  flaky.exception = "RuntimeError";
  flaky.error = "boom";
  flaky.backtrace = {"app/jobs/flaky.rb:3:in `perform'"};
  flaky.worker = "rubyhost:400:retryq";
  flaky.queue = "retryq";
  ASSERT_OK(backend.PushFailure(EncodeFailure(flaky)));  // after node-resque's: index 1
  Failure evil = flaky;
  evil.payload = absl::StrFormat(R"({"class":"EvilJob","args":[%s]})", json::Quote(kXssImg));
  evil.exception = "Evil<b>Error</b>";
  evil.error = kXssScript;
  evil.backtrace = {kXssImg};
  evil.queue = "mail";
  ASSERT_OK(backend.PushFailure(EncodeFailure(evil)));

  // A delayed job (resque-scheduler's layout) and a recurring schedule.
  ASSERT_OK(backend.PushDelayed(absl::ToUnixSeconds(absl::Now()) + 3600,
                                R"({"class":"Later","args":[],"queue":"low"})"));
  ASSERT_OK(backend
                .SetSchedule("nightly",
                             R"({"class":"Report","queue":"low","args":[],"cron":"0 3 * * *"})",
                             absl::ToUnixSeconds(absl::Now()))
                .status());

  WebServer server(backend, {.port = 0, .backend_name = "redis (test)", .refresh_seconds = 1});
  ASSERT_OK(server.Start());

  const std::string scenario_path = ::testing::TempDir() + "/web_scenario.json";
  std::ofstream(scenario_path) << absl::StrFormat(
      R"({"queues":[{"name":"mail","size":2},{"name":"node","size":1},{"name":"ruby","size":1}],)"
      R"("queue_jobs":[{"queue":"mail","class":"Mailer","text":"alice@example.com"},)"
      R"({"queue":"mail","class":"PHP_Job","text":"bob"},)"
      R"({"queue":"ruby","class":"Archive","text":"7"}],)"
      R"("workers":[{"id":"cpphost:100:mail","state":"busy","class":"Mailer"},)"
      R"({"id":"phphost:200:mail","state":"idle"},)"
      R"({"id":"nodehost:300:node","state":"paused"}],)"
      R"("failures":[{"class":"FlakyJob","error":"boom","queue":"retryq"},)"
      R"({"class":"Fail","error":"deliberate failure","queue":"nodefail"},)"
      R"({"class":"EvilJob","error":%s,"queue":"mail"}],)"
      R"("xss":[%s,%s],"retry":{"class":"FlakyJob","error":"boom"},)"
      R"("schedules":["nightly"],"delayed":[{"class":"Later"}]})",
      json::Quote(kXssScript), json::Quote(kXssScript), json::Quote(kXssImg));
  std::vector<std::string> argv = {"node",       WebDir() + "/browser.js",
                                   "--url",      absl::StrCat("http://127.0.0.1:", server.port()),
                                   "--scenario", scenario_path};
  // docs/web.md's screenshots come from this run: RESQUE_WEB_SCREENSHOTS=docs/web ctest -R Browser
  if (const char* shots = std::getenv("RESQUE_WEB_SCREENSHOTS"); shots != nullptr && *shots) {
    argv.insert(argv.end(), {"--screenshots", shots});
  }
  testing::RunResult run = testing::Run(argv, {}, absl::Seconds(120));
  server.Stop();
  EXPECT_EQ(run.exit_code, 0) << run.out << "\n" << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "\"ok\":true")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "\"console_errors\":[]")) << run.out;

  // The retry clicked in the browser put the job back on its queue...
  absl::StatusOr<std::vector<std::string>> queued = backend.Peek("retryq", 0, 10);
  ASSERT_OK(queued);
  ASSERT_EQ(queued->size(), 1u) << run.out;
  EXPECT_EQ(DecodePayload((*queued)[0])->class_name, "FlakyJob");
  // ...and our worker performs it.
  int performed = 0;
  JobRegistry registry;
  ASSERT_OK(registry.Register("FlakyJob", [&] { return std::make_unique<FlakyJob>(&performed); }));
  WorkerOptions options;
  options.queues = {"retryq"};
  options.burst = true;
  options.interval = absl::Milliseconds(10);
  Worker worker(backend, registry, options);
  ASSERT_OK(worker.Run());
  EXPECT_EQ(performed, 1);
  EXPECT_EQ(*backend.Size("retryq"), 0);
}

}  // namespace
}  // namespace resque::web
