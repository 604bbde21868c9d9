// Ruby resque's redis_multi_queue failure backend (lib/resque/failure/redis_multi_queue.rb) on a
// real redis-server: failure records in "<ns>:<queue>_failed", each list's name in the set
// "<ns>:failed_queues", which resque-web's failed pages read. Records are written here as Ruby
// writes them, and ours are read back where Ruby and resque-web look.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "backends/backend_factory.h"
#include "backends/redis/redis_backend.h"
#include "core/failure.h"
#include "core/job_registry.h"
#include "core/scheduler.h"
#include "core/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"

namespace resque::redis {
namespace {

using ::resque::testing::RedisServer;
using ::resque::testing::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kWorker[] = "host1:4242:mail";

// A record as Ruby's RedisMultiQueue#save writes it (Resque.encode of its hash, in this order).
std::string RubyRecord(const std::string& queue, const std::string& error) {
  return absl::StrFormat(
      R"({"failed_at":"2026/11/25 14:00:00 UTC","payload":{"class":"Archive","args":[35,"tar"]},)"
      R"("exception":"RuntimeError","error":"%s","backtrace":["/app/jobs/archive.rb:3:in `perform'"],)"
      R"("worker":"web1:77:%s","queue":"%s"})",
      error, queue, queue);
}

class FailureLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(redis().Flush());
    RedisOptions options = redis().Options();
    options.failures = FailureLayout::kPerQueue;
    absl::StatusOr<std::unique_ptr<Backend>> b = NewRedisBackend(options);
    ASSERT_OK(b);
    backend_ = *std::move(b);
  }

  static RedisServer& redis() { return RedisServer::Shared(); }
  static std::string Raw(const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> r = redis().Command(argv);
    EXPECT_OK(r);
    return r.ok() ? *r : "";
  }
  // What Ruby's failure_queue_name and push_to_failed_queue do for one failure.
  static void RubyFails(const std::string& queue, const std::string& error) {
    Raw({"SADD", "resque:failed_queues", queue + "_failed"});
    Raw({"RPUSH", "resque:" + queue + "_failed", RubyRecord(queue, error)});
  }

  Backend& backend() { return *backend_; }
  std::unique_ptr<Backend> backend_;
};

class Fails : public Job {
 public:
  absl::Status Perform(const JobContext&) override { return absl::InternalError("no"); }
};

// An automatic retry writes no record; the last try's goes to its queue's list.
TEST_F(FailureLayoutTest, RetriesWorkInThePerQueueLayoutAndTheLastTryGoesToItsQueuesList) {
  JobRegistry registry;
  ASSERT_OK(registry.Register<Fails>("Fails"));
  ASSERT_OK(registry.SetRetryPolicy(
      "Fails", {.retries = 1, .delay = [](int) { return absl::ZeroDuration(); }}));
  ASSERT_OK(backend().Push("mail", R"({"class":"Fails","args":[],"id":"f1"})"));
  WorkerOptions options;
  options.queues = {"mail"};
  options.burst = true;
  options.log = nullptr;
  for (int run = 0; run < 2; ++run) {
    Worker worker(backend(), registry, options);
    ASSERT_OK(worker.Run());
    if (run == 0) {
      EXPECT_EQ(Value(backend().FailureCount()), 0);
      ASSERT_EQ(Value(backend().DelayedCount()), 1);
      Scheduler scheduler(backend(), {.name = "t:1"});
      EXPECT_EQ(Value(scheduler.RunOnce()).moved, 1);
      ASSERT_OK(backend().ReleaseSchedulerLock("t:1"));
    }
  }
  EXPECT_EQ(Value(backend().FailureCount("mail")), 1);
  EXPECT_THAT(Raw({"LINDEX", "resque:mail_failed", "0"}), HasSubstr(R"("retries_exhausted":true)"));
}

TEST_F(FailureLayoutTest, ReadsRubysPerQueueListsAndTheirSet) {
  RubyFails("mail", "one");
  RubyFails("mail", "two");
  RubyFails("high", "three");
  Raw({"SADD", "resque:failed_queues", "stray"});  // not a "<queue>_failed" name: not a queue
  EXPECT_EQ(backend().failure_layout(), FailureLayout::kPerQueue);
  EXPECT_THAT(Value(backend().FailureQueues()), ElementsAre("high", "mail"));
  EXPECT_EQ(Value(backend().FailureCount()), 3);
  EXPECT_EQ(Value(backend().FailureCount("mail")), 2);
  EXPECT_EQ(Value(backend().FailureCount("none")), 0);
  FailureStore store(backend());
  const std::vector<Failure> mail = Value(store.List(0, 10, "mail"));
  ASSERT_EQ(mail.size(), 2u);
  EXPECT_EQ(mail[1].error, "two");
  EXPECT_EQ(mail[1].queue, "mail");
  EXPECT_THAT(mail[1].backtrace, ElementsAre("/app/jobs/archive.rb:3:in `perform'"));
}

TEST_F(FailureLayoutTest, AFailedJobGoesToItsQueuesListInTheFinishStep) {
  const std::string record = RubyRecord("mail", "boom");
  ASSERT_OK(backend().FinishJob(
      {.worker_id = kWorker, .failed = true, .failure_json = record, .failure_queue = "mail"}));
  ASSERT_OK(backend().FinishJob({.worker_id = kWorker}));  // a success writes no record
  EXPECT_EQ(Raw({"LRANGE", "resque:mail_failed", "0", "-1"}), record);
  EXPECT_EQ(Raw({"SMEMBERS", "resque:failed_queues"}), "mail_failed");
  EXPECT_EQ(Raw({"EXISTS", "resque:failed"}), "0");
  EXPECT_EQ(Raw({"GET", "resque:stat:failed"}), "1");
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "2");
  // Without its queue a failure has no list to go to: refused before anything is written.
  EXPECT_CODE(backend().FinishJob({.worker_id = kWorker, .failed = true, .failure_json = "{}"}),
              kInvalidArgument);
  EXPECT_EQ(Raw({"GET", "resque:stat:processed"}), "2");
}

TEST_F(FailureLayoutTest, AWrongTypeAtAQueuesListFailsTheWholeFinish) {
  ASSERT_EQ(Raw({"SET", "resque:mail_failed", "oops"}), "OK");
  absl::Status s = backend().FinishJob(
      {.worker_id = kWorker, .failed = true, .failure_json = "{}", .failure_queue = "mail"});
  EXPECT_CODE(s, kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("\"resque:mail_failed\""));
  EXPECT_EQ(Raw({"EXISTS", "resque:stat:processed"}), "0");
  EXPECT_EQ(Raw({"EXISTS", "resque:failed_queues"}), "0");
}

TEST_F(FailureLayoutTest, RetryRemoveAndClearWorkOnOneQueuesList) {
  RubyFails("mail", "one");
  RubyFails("mail", "two");
  RubyFails("high", "three");
  FailureStore store(backend());
  ASSERT_OK(store.Retry(1, "mail"));
  EXPECT_EQ(Raw({"LRANGE", "resque:queue:mail", "0", "-1"}),
            R"({"class":"Archive","args":[35,"tar"]})");
  EXPECT_TRUE(Value(store.List(1, 1, "mail"))[0].retried_at.has_value());
  ASSERT_OK(store.Remove(0, "mail"));
  EXPECT_EQ(Value(store.List(0, 10, "mail"))[0].error, "two");
  EXPECT_CODE(store.Remove(5, "mail"), kNotFound);
  ASSERT_OK(store.Clear("mail"));
  EXPECT_EQ(Raw({"EXISTS", "resque:mail_failed"}), "0");
  EXPECT_THAT(Value(store.Queues()), ElementsAre("high"));
  EXPECT_EQ(Value(store.RetryAll()), 1);  // every queue's list
  EXPECT_EQ(Raw({"LLEN", "resque:queue:high"}), "1");
  ASSERT_OK(store.Clear());
  EXPECT_EQ(Raw({"EXISTS", "resque:high_failed"}), "0");
  EXPECT_THAT(Value(store.Queues()), IsEmpty());
  EXPECT_EQ(Value(store.Count()), 0);
}

TEST_F(FailureLayoutTest, RetryAllWithRemoveEmptiesEachQueuesListAndQueuesEachJobOnce) {
  RubyFails("mail", "one");
  Raw({"RPUSH", "resque:mail_failed", "{not json"});
  RubyFails("mail", "two");
  RubyFails("high", "three");
  FailureStore store(backend());
  std::vector<std::string> skipped;
  const RetryAllOptions options = {.remove = true};
  RetryAllResult done = Value(store.RetryAll(
      options, [&](const FailureEntry& entry, RetryOutcome outcome, std::string_view) {
        if (outcome == RetryOutcome::kSkipped) {
          skipped.push_back(absl::StrFormat("%s %d", entry.list, entry.index));
        }
      }));
  EXPECT_EQ(done.retried, 3);
  EXPECT_EQ(done.skipped, 1);
  EXPECT_THAT(skipped, ElementsAre("mail 1"));
  EXPECT_EQ(Raw({"LLEN", "resque:queue:mail"}), "2");
  EXPECT_EQ(Raw({"LLEN", "resque:queue:high"}), "1");
  EXPECT_EQ(Raw({"LRANGE", "resque:mail_failed", "0", "-1"}), "{not json");
  EXPECT_EQ(Raw({"EXISTS", "resque:high_failed"}), "0");
  EXPECT_EQ(Value(store.RetryAll(options)).retried, 0);
  EXPECT_EQ(Raw({"LLEN", "resque:queue:mail"}), "2");
  // The record that does not decode goes by its index, in its queue's list.
  ASSERT_OK(store.Remove(0, "mail"));
  EXPECT_EQ(Value(store.Count()), 0);
}

TEST_F(FailureLayoutTest, EachLayoutRefusesTheOthersArguments) {
  // Per queue: the indexed verbs need a queue.
  EXPECT_CODE(backend().Failures(0, 1), kInvalidArgument);
  EXPECT_CODE(backend().RemoveFailure(0), kInvalidArgument);
  EXPECT_CODE(backend().UpdateFailure(0, "{}"), kInvalidArgument);
  EXPECT_CODE(backend().PushFailure("{}"), kInvalidArgument);
  ASSERT_OK(backend().PushFailure("{}", "mail"));
  EXPECT_EQ(Raw({"LRANGE", "resque:mail_failed", "0", "-1"}), "{}");
  // One list: a queue is refused where it would mean a list there is none of.
  absl::StatusOr<std::unique_ptr<Backend>> one = NewRedisBackend(redis().Options());
  ASSERT_OK(one);
  EXPECT_EQ((*one)->failure_layout(), FailureLayout::kOneList);
  EXPECT_CODE((*one)->FailureCount("mail"), kInvalidArgument);
  EXPECT_CODE((*one)->Failures(0, 1, "mail"), kInvalidArgument);
  EXPECT_THAT(Value((*one)->FailureQueues()), IsEmpty());
  ASSERT_OK((*one)->PushFailure("{}", "mail"));  // the record's queue; the one list takes it
  EXPECT_EQ(Raw({"LRANGE", "resque:failed", "0", "-1"}), "{}");
}

// The working-on record of a job of queue "mail" and the DirtyExit a recovery records for it.
DirtyExit MailDirtyExit(const std::string& worker, const std::string& payload) {
  return {
      .working_json = absl::StrFormat(
          R"({"queue":"mail","run_at":"2026-11-25T10:00:00Z","payload":%s})", payload),
      .failure_json = absl::StrFormat(
          R"({"payload":%s,"exception":"Resque::DirtyExit","error":"Job still being processed","backtrace":[],"worker":"%s","queue":"mail"})",
          payload, worker),
      .queue = "mail"};
}

TEST_F(FailureLayoutTest, ADeadPeersDirtyExitGoesToItsQueuesList) {
  const std::string peer = "web1:77:mail";
  const std::string payload = R"({"class":"Archive","args":[35]})";
  const DirtyExit exit = MailDirtyExit(peer, payload);
  ASSERT_OK(backend().RegisterWorker(peer, "now"));
  ASSERT_OK(backend().StartJob({.worker_id = peer, .working_json = exit.working_json}));
  const std::optional<RecoverResult> r =
      Value(backend().RecoverWorker({.worker_id = peer, .dirty_exit = exit}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->dirty_exits, 1);
  EXPECT_EQ(Raw({"LINDEX", "resque:mail_failed", "0"}), exit.failure_json);
  EXPECT_THAT(Value(backend().FailureQueues()), ElementsAre("mail"));
  EXPECT_EQ(Raw({"EXISTS", "resque:failed"}), "0");
}

TEST_F(FailureLayoutTest, AJobAPeerFailedInItsQueuesListIsNotHandedBackByTheRecovery) {
  const std::string owner = "host1:4242:mail";
  const std::string job = R"({"class":"Archive","args":[35],"id":"j1"})";
  ASSERT_OK(backend().Push("mail", job));
  ASSERT_OK(backend().Push("mail", R"({"class":"Archive","args":[36],"id":"j2"})"));
  const std::vector<std::string> queues = {"mail"};
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(Value(backend().Reserve({.queues = queues, .owner = owner})).size(), 1u);
  }
  // Ruby's pruning with RedisMultiQueue files its DirtyExit of j1 under the job's queue.
  Raw({"SADD", "resque:failed_queues", "mail_failed"});
  Raw({"RPUSH", "resque:mail_failed", MailDirtyExit(owner, job).failure_json});
  const std::optional<RecoverResult> r = Value(backend().RecoverWorker({.worker_id = owner}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->already_failed, 1);
  EXPECT_EQ(r->handed_back, 1);
  EXPECT_THAT(Value(backend().Peek("mail", 0, 10)),
              ElementsAre(R"({"class":"Archive","args":[36],"id":"j2"})"));
}

TEST_F(FailureLayoutTest, TheMemoryBackendRefusesThePerQueueLayout) {
  absl::StatusOr<std::unique_ptr<Backend>> memory =
      OpenBackend("memory://", {.failures = FailureLayout::kPerQueue});
  EXPECT_CODE(memory, kInvalidArgument);
  EXPECT_THAT(memory.status().message(), HasSubstr("redis_multi_queue"));
}

}  // namespace
}  // namespace resque::redis
