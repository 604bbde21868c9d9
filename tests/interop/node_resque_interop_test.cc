// Interop with a real peer: node-resque (pinned in package-lock.json) against the same
// redis-server as our Redis backend and core Worker.
//   1. node-resque enqueues; our Worker performs, and the args arrive byte for byte.
//   2. We enqueue; a node-resque Worker performs, and sees the args we meant.
//   3. node-resque's own Queue API reads our workers (while they work), stats and failures, and
//      can retry one of our failure records.
// The node scripts live beside this file; each run has a deadline and is killed past it.
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/failure.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/payload.h"
#include "core/queue.h"
#include "core/scheduler.h"
#include "core/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kNodeDeadline = absl::Seconds(60);

std::string InteropDir() { return RESQUE_INTEROP_DIR; }

// Runs `node <script> <port> <args...>` in the interop folder; its stdout (one JSON line).
// Records a test failure when it fails or times out.
std::string Node(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"node", script,
                                   absl::StrFormat("%d", RedisServer::Shared().port())};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ProcessResult> r = RunProcess(argv, kNodeDeadline, InteropDir());
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return "null";
  }
  EXPECT_FALSE(r->timed_out) << script << " ran past " << kNodeDeadline << "\n" << r->err;
  EXPECT_EQ(r->exit_code, 0) << script << ":\n" << r->err;
  return r->out;
}

// The JSON text of `path` (e.g. {"stats", "processed"}) in `json`, minified; "" when absent.
std::string At(const std::string& json, const std::vector<std::string>& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(simdjson::padded_string(json)).get(e) != simdjson::SUCCESS) return "";
  for (const std::string& step : path) {
    simdjson::dom::element next;
    if (e.is_array()) {
      if (e.at(std::stoul(step)).get(next) != simdjson::SUCCESS) return "";
    } else if (e[step].get(next) != simdjson::SUCCESS) {
      return "";
    }
    e = next;
  }
  return simdjson::minify(e);
}

// Under which worker name node-resque's allWorkingOn (in inspect.js output `json`) files the job
// of `class_name` it shows; empty when it shows none.
std::string WorkingOnUnder(const std::string& json, std::string_view class_name) {
  simdjson::dom::parser parser;
  simdjson::dom::object working;
  if (parser.parse(simdjson::padded_string(json))["workingOn"].get(working) != simdjson::SUCCESS) {
    return "";
  }
  for (const auto field : working) {
    std::string_view cls;
    if (field.value["payload"]["class"].get(cls) == simdjson::SUCCESS && cls == class_name) {
      return std::string(field.key);
    }
  }
  return "";
}

// A job of ours that keeps the raw args it was given, by class.
class Recorder {
 public:
  void Add(std::string_view class_name, std::string_view args) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.emplace_back(class_name, args);
  }
  std::vector<std::pair<std::string, std::string>> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

class RecordingJob : public Job {
 public:
  RecordingJob(Recorder* recorder, bool fail) : recorder_(recorder), fail_(fail) {}
  absl::Status Perform(const JobContext& ctx) override {
    recorder_->Add(ctx.class_name(), ctx.args());
    if (fail_) return absl::InternalError("deliberate failure");
    return absl::OkStatus();
  }

 private:
  Recorder* recorder_;
  bool fail_;
};

// Asks node-resque what it sees while this job runs: our worker is registered and busy.
class ProbeJob : public Job {
 public:
  ProbeJob(std::string* out, std::string* worker_id) : out_(out), worker_id_(worker_id) {}
  absl::Status Perform(const JobContext& ctx) override {
    *worker_id_ = std::string(ctx.worker_id());
    *out_ = Node("inspect.js", {});
    return absl::OkStatus();
  }

 private:
  std::string* out_;
  std::string* worker_id_;
};

class NodeResqueInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::StatusOr<ProcessResult> node =
        RunProcess({"node", "-e", "require('node-resque')"}, kNodeDeadline, InteropDir());
    if (!node.ok() || node->exit_code != 0) {
      // scripts/test.sh installs the peer and sets this: there, a missing peer is a failure,
      // never a silent skip.
      const char* required = std::getenv("RESQUE_REQUIRE_PEERS");
      if (required != nullptr && *required != '\0') {
        FAIL() << "node-resque is not installed in tests/interop (npm ci failed?)";
      }
      GTEST_SKIP() << "node-resque is not installed: run `npm ci` in tests/interop "
                      "(scripts/test.sh does)";
    }
    ASSERT_OK(redis().Flush());
    absl::StatusOr<std::unique_ptr<Backend>> b = redis::NewRedisBackend(redis().Options());
    ASSERT_OK(b);
    backend_ = *std::move(b);
    for (const char* name : {"Add", "Echo"}) {
      ASSERT_OK(registry_.Register(
          name, [this] { return std::make_unique<RecordingJob>(&recorder_, false); }));
    }
    ASSERT_OK(registry_.Register(
        "Fail", [this] { return std::make_unique<RecordingJob>(&recorder_, true); }));
    ASSERT_OK(registry_.Register(
        "Probe", [this] { return std::make_unique<ProbeJob>(&probe_, &probe_worker_); }));
  }

  static RedisServer& redis() { return RedisServer::Shared(); }

  // Our Worker, two slots (ids "<host>:<pid>:q1,q2:<slot>"), until the queues are empty.
  void WorkUntilEmpty() {
    WorkerOptions options;
    options.queues = {"q1", "q2"};
    options.concurrency = 2;
    options.burst = true;
    options.interval = absl::Milliseconds(10);
    options.hostname = "interop-host";
    Worker worker(*backend_, registry_, options);
    ASSERT_OK(worker.Run());
  }

  std::unique_ptr<Backend> backend_;
  JobRegistry registry_;
  Recorder recorder_;
  std::string probe_;
  std::string probe_worker_;  // the id of the slot that ran the Probe
};

TEST_F(NodeResqueInterop, JobsEnqueuedByNodeResqueArePerformedByOurWorkerWithTheirArgsIntact) {
  // The args as node's JSON.stringify writes them: nesting, escapes, non-ASCII, every type.
  const std::string echo_args =
      R"([{"nested":{"a":[1,"x",null]},"s":"h\u00e9llo \" / \\ ✓"},"str",3.5,-0.25,true,null,1e+21])";
  Node("enqueue.js", {absl::StrFormat(R"([["q1","Add",[1,2]],["q1","Echo",%s],)"
                                      R"(["q2","Echo",[]],["q1","Fail",["why"]]])",
                                      echo_args)});
  // node-resque's payload: class, queue, args (no id, no queue_time).
  EXPECT_THAT(*backend_->Peek("q1", 0, 1),
              ElementsAre(R"({"class":"Add","queue":"q1","args":[1,2]})"));

  WorkUntilEmpty();

  // JSON.stringify wrote é and ✓ as raw UTF-8 and kept the escapes it needs; we see those bytes.
  std::map<std::string, std::vector<std::string>> by_class;
  for (const auto& [cls, args] : recorder_.seen()) by_class[cls].push_back(args);
  EXPECT_THAT(by_class["Add"], ElementsAre("[1,2]"));
  EXPECT_THAT(by_class["Fail"], ElementsAre(R"(["why"])"));
  ASSERT_EQ(by_class["Echo"].size(), 2u);
  EXPECT_THAT(by_class["Echo"],
              UnorderedElementsAre("[]", R"([{"nested":{"a":[1,"x",null]},"s":"héllo \" / \\ ✓"},)"
                                         R"("str",3.5,-0.25,true,null,1e+21])"));
  EXPECT_EQ(*backend_->GetStat("processed"), 4);
  EXPECT_EQ(*backend_->GetStat("failed"), 1);
}

TEST_F(NodeResqueInterop, JobsWeEnqueueArePerformedByANodeResqueWorker) {
  Queue queue(*backend_);
  ASSERT_OK(queue.Enqueue("q3", "Add", "[3,4]"));
  // An object is wrapped as php-resque does: node's perform gets it as its one argument.
  ASSERT_OK(queue.Enqueue("q3", "Echo", R"({"php":"style","list":[1,2]})"));
  ASSERT_OK(queue.Enqueue("q3", "Echo", R"(["caf\u00e9","ü",{"k":null}])"));
  ASSERT_OK(queue.Enqueue("q3", "Fail", "[]", {.track = true, .id = ""}));

  const std::string out = Node("work.js", {"q3", "4"});
  EXPECT_EQ(
      At(out, {"seen"}),
      R"([{"class":"Add","args":[3,4]},{"class":"Echo","args":[{"php":"style","list":[1,2]}]},)"
      R"({"class":"Echo","args":["café","ü",{"k":null}]},{"class":"Fail","args":[]}])");

  // What node-resque recorded, read through our backend.
  EXPECT_EQ(*backend_->Size("q3"), 0);
  // node-resque counts only successes in "processed" (php-resque and Ruby count every job).
  EXPECT_EQ(*backend_->GetStat("processed"), 3);
  EXPECT_EQ(*backend_->GetStat("failed"), 1);
  EXPECT_THAT(*backend_->Workers(), ::testing::IsEmpty());  // node's Worker#end unregistered
  std::vector<std::string> failures = *backend_->Failures(0, 10);
  ASSERT_EQ(failures.size(), 1u);
  absl::StatusOr<Failure> f = DecodeFailure(failures[0]);
  ASSERT_OK(f);
  EXPECT_EQ(f->exception, "Error");
  EXPECT_EQ(f->error, "deliberate failure");
  EXPECT_EQ(f->queue, "q3");
  EXPECT_THAT(f->failed_at, HasSubstr("GMT"));  // JS Date#toString, neither Ruby's nor php's form
  absl::StatusOr<Payload> p = DecodePayload(f->payload);
  ASSERT_OK(p);
  EXPECT_EQ(p->class_name, "Fail");
  EXPECT_EQ(p->id.size(), 32u);  // our payload, kept whole by node (id, queue_time)
  EXPECT_TRUE(p->queue_time.has_value());
  // node-resque has no status tracking: a tracked job stays "waiting" (status 1).
  EXPECT_THAT(*backend_->GetStatus(p->id), HasSubstr(R"("status":1)"));
}

TEST_F(NodeResqueInterop, NodeResqueReadsOurWorkersStatsAndFailures) {
  Queue queue(*backend_);
  ASSERT_OK(queue.Enqueue("q1", "Fail", R"(["bad input"])"));
  ASSERT_OK(queue.Enqueue("q2", "Probe", "[]"));
  WorkUntilEmpty();

  // While the Probe ran: node-resque splits ids at ':' into a name, "<host>:<pid>", and the
  // rest as queues, so its map of workers holds one entry for the process, one slot's id.
  ASSERT_FALSE(probe_.empty());
  const int pid = getpid();
  const std::string name = absl::StrFormat("interop-host:%d", pid);
  const std::string listed = At(probe_, {"workers", name});
  EXPECT_THAT(listed, ::testing::AnyOf(R"("q1,q2:0")", R"("q1,q2:1")")) << probe_;
  EXPECT_EQ(At(probe_, {"workers"}), absl::StrFormat(R"({"%s":%s})", name, listed));
  // allWorkingOn reads the working-on record of the id its map holds, and files it under the
  // record's "worker" field, which we write beside WIRE.md's {"queue","run_at","payload"}: the
  // name node-resque itself gave the slot.
  const std::string listed_id = absl::StrFormat("%s:%s", name, listed.substr(1, listed.size() - 2));
  EXPECT_EQ(WorkingOnUnder(probe_, "Probe"), probe_worker_ == listed_id ? name : "")
      << probe_worker_ << "\n"
      << probe_;

  // After the run: stats, failures and (no) workers, through node-resque's Queue API.
  const std::string after = Node("inspect.js", {});
  EXPECT_EQ(At(after, {"stats", "processed"}), R"("2")");
  EXPECT_EQ(At(after, {"stats", "failed"}), R"("1")");
  EXPECT_EQ(At(after, {"failedCount"}), "1");
  EXPECT_EQ(At(after, {"workers"}), "{}");
  EXPECT_EQ(At(after, {"failed", "0", "queue"}), R"("q1")");
  EXPECT_EQ(At(after, {"failed", "0", "payload", "class"}), R"("Fail")");
  EXPECT_EQ(At(after, {"failed", "0", "payload", "args"}), R"(["bad input"])");
  EXPECT_THAT(At(after, {"failed", "0", "error"}), HasSubstr("deliberate failure"));
  EXPECT_THAT(At(after, {"failed", "0", "worker"}),
              HasSubstr(absl::StrFormat("interop-host:%d:q1,q2:", pid)));

  // node-resque retries by LREM of its own JSON.stringify of the record: that finds ours only
  // if we wrote it byte for byte as JavaScript would.
  const std::string retried = Node("inspect.js", {"0"});
  EXPECT_EQ(At(retried, {"retried"}), R"("ok")");
  EXPECT_EQ(At(retried, {"failedCount"}), "0");
  EXPECT_THAT(*backend_->Peek("q1", 0, 10),
              ElementsAre(R"({"class":"Fail","queue":"q1","args":["bad input"]})"));
}

// ---- Delayed jobs: resque-scheduler's layout, shared with node-resque's Scheduler ----

// One turn of our scheduler on the test's Redis, at the real time.
SchedulerTurn OurSchedulerTurn(Backend& backend, const std::string& name = "ours:1") {
  Scheduler scheduler(backend, {.name = name, .lock_timeout = absl::Seconds(5)});
  absl::StatusOr<SchedulerTurn> turn = scheduler.RunOnce();
  EXPECT_TRUE(turn.ok()) << turn.status();
  if (turn.ok() && turn->leader) {
    EXPECT_TRUE(backend.ReleaseSchedulerLock(name).ok());
  }
  return turn.value_or(SchedulerTurn{});
}

TEST_F(NodeResqueInterop, JobsNodeResqueDelaysAreMovedByOurSchedulerAndPerformedByOurWorker) {
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  // Two due (one in the past, one by enqueueIn 1 ms), one an hour away.
  Node("enqueue_at.js", {absl::StrFormat(R"([[%d,"q1","Add",[1,2]],[-1,"q2","Echo",["in"]],)"
                                         R"([%d,"q1","Echo",["later"]]])",
                                         now_ms - 5000, now_ms + 3600 * 1000)});
  // node-resque's item: class, queue, args, in the second it rounded to.
  EXPECT_EQ(*backend_->DelayedCount(), 3);
  std::vector<DelayedTime> times = *backend_->DelayedTimes(0, 10);
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[0].at, (now_ms - 5000 + 500) / 1000);
  EXPECT_THAT(*backend_->DelayedItems(times[0].at, 0, 10),
              ElementsAre(R"({"class":"Add","queue":"q1","args":[1,2]})"));

  absl::SleepFor(absl::Milliseconds(1100));  // the enqueueIn job's second has come
  const SchedulerTurn turn = OurSchedulerTurn(*backend_);
  EXPECT_TRUE(turn.leader);
  EXPECT_EQ(turn.moved, 2);
  EXPECT_EQ(*backend_->DelayedCount(), 1);
  WorkUntilEmpty();
  std::map<std::string, std::vector<std::string>> by_class;
  for (const auto& [cls, args] : recorder_.seen()) by_class[cls].push_back(args);
  EXPECT_THAT(by_class["Add"], ElementsAre("[1,2]"));
  EXPECT_THAT(by_class["Echo"], ElementsAre(R"(["in"])"));
}

TEST_F(NodeResqueInterop, JobsWeDelayAreMovedByNodeResquesSchedulerAndPerformedByItsWorker) {
  Queue queue(*backend_);
  ASSERT_OK(queue.EnqueueAt(absl::Now() - absl::Seconds(2), "q3", "Add", "[5,6]"));
  ASSERT_OK(queue.EnqueueIn(absl::ZeroDuration(), "q3", "Echo", R"(["now"])"));
  ASSERT_OK(queue.EnqueueIn(absl::Hours(1), "q3", "Echo", R"(["later"])"));
  const std::string moved = Node("scheduler.js", {});
  EXPECT_EQ(At(moved, {"leader"}), "true") << moved;
  EXPECT_EQ(At(moved, {"transferred"}), "2") << moved;
  EXPECT_EQ(*backend_->DelayedCount(), 1);
  EXPECT_EQ(*backend_->Size("q3"), 2);

  const std::string out = Node("work.js", {"q3", "2"});
  EXPECT_EQ(At(out, {"seen"}), R"([{"class":"Add","args":[5,6]},{"class":"Echo","args":["now"]}])");
}

TEST_F(NodeResqueInterop, OneSchedulerLeadsWhenOursAndNodeResquesBothRun) {
  Queue queue(*backend_);
  ASSERT_OK(queue.EnqueueAt(absl::Now() - absl::Seconds(1), "q3", "Add", "[1,1]"));

  // Ours leads: node-resque's Scheduler does not, and moves nothing.
  ASSERT_TRUE(*backend_->HoldSchedulerLock("ours:1", absl::Seconds(30)));
  std::string node = Node("scheduler.js", {});
  EXPECT_EQ(At(node, {"leader"}), "false") << node;
  EXPECT_EQ(At(node, {"transferred"}), "0") << node;
  EXPECT_EQ(*backend_->DelayedCount(), 1);
  ASSERT_OK(backend_->ReleaseSchedulerLock("ours:1"));

  // Node leads (its lock alone, set as its Scheduler sets it): ours does not.
  absl::StatusOr<std::vector<SchedulerLock>> locks = backend_->SchedulerLocks();
  ASSERT_OK(locks);
  EXPECT_EQ((*locks)[1].holder, "");  // node's end() released its lock
  ASSERT_OK(
      redis().Command({"SET", "resque:resque_scheduler_leader_lock", "otherhost:42", "EX", "30"}));
  SchedulerTurn turn = OurSchedulerTurn(*backend_);
  EXPECT_FALSE(turn.leader);
  EXPECT_EQ(turn.moved, 0);
  EXPECT_EQ(*backend_->DelayedCount(), 1);

  // resque-scheduler's master lock held (as redis-namespace writes its key): ours does not lead.
  ASSERT_OK(redis().Command({"DEL", "resque:resque_scheduler_leader_lock"}));
  ASSERT_OK(redis().Command(
      {"SET", "resque:resque:resque_scheduler_master_lock", "rubyhost:7", "EX", "30"}));
  EXPECT_FALSE(OurSchedulerTurn(*backend_).leader);
  ASSERT_OK(redis().Command({"DEL", "resque:resque:resque_scheduler_master_lock"}));

  // Both free: ours leads and moves the job; node-resque, run meanwhile, would find it gone.
  turn = OurSchedulerTurn(*backend_);
  EXPECT_TRUE(turn.leader);
  EXPECT_EQ(turn.moved, 1);
  EXPECT_EQ(*backend_->Size("q3"), 1);
}

}  // namespace
}  // namespace resque::testing
