// The worker's behaviour, on every backend: what a user of resque-cpp, php-resque or resque-web
// sees in queues, statuses, stats, worker registrations and failure records once a worker has
// run. Instantiated per backend in worker_<backend>_test.cc.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/failure.h"
#include "core/hooks.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/queue.h"
#include "core/reserver.h"
#include "core/retry.h"
#include "core/scheduler.h"
#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {

// A job's own exception type: its failure record names it, demangled.
class CardDeclined : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAreArray;

constexpr char kHost[] = "test-host";

class WorkerTest : public ::testing::TestWithParam<WorkerBackendFactory> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    queue_ = std::make_unique<Queue>(backend(), &clock());
    RegisterRecord(registry_, journal_);
  }

  Backend& backend() { return env_->backend(); }
  ManualClock& clock() { return env_->clock(); }

  std::string Enqueue(std::string_view queue, std::string_view class_name,
                      std::string_view args = "", bool track = false) {
    absl::StatusOr<std::string> id =
        queue_->Enqueue(queue, class_name, args, {.track = track, .id = ""});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  WorkerOptions Options(std::vector<std::string> queues) {
    WorkerOptions options;
    options.queues = std::move(queues);
    options.interval = absl::Milliseconds(5);
    options.hostname = kHost;
    options.clock = &clock();
    return options;
  }

  // Runs a burst worker to its end.
  void RunBurst(WorkerOptions options) {
    options.burst = true;
    Worker worker(backend(), registry_, std::move(options));
    RunningWorker running(worker);
    ASSERT_TRUE(running.AwaitReturn()) << "a burst worker did not stop on empty queues";
    EXPECT_OK(running.status());
  }

  std::vector<Failure> Failures() { return Value(FailureStore(backend()).List(0, 1000)); }

  std::optional<JobState> StateOf(const std::string& id) {
    absl::StatusOr<JobStatus> status = StatusTracker(backend(), &clock()).Get(id);
    if (absl::IsNotFound(status.status())) return std::nullopt;
    EXPECT_OK(status);
    return status.ok() ? std::optional<JobState>(status->state) : std::nullopt;
  }

  int64_t Stat(const std::string& name) { return Value(backend().GetStat(name)); }

  // A pid that no process has: a child that has exited and been reaped.
  static pid_t DeadPid() {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
  }

  std::unique_ptr<WorkerBackend> env_;
  std::unique_ptr<Queue> queue_;
  JobRegistry registry_;
  Journal journal_;
};

// ---- Reserving ----

TEST_P(WorkerTest, PerformsJobsInQueuePriorityOrder) {
  Enqueue("low", "Record", "[1]");
  Enqueue("medium", "Record", "[2]");
  Enqueue("high", "Record", "[3]");
  Enqueue("low", "Record", "[4]");
  Enqueue("high", "Record", "[5]");
  RunBurst(Options({"high", "medium", "low"}));
  EXPECT_THAT(journal_.entries(),
              ElementsAre("high [3]", "high [5]", "medium [2]", "low [1]", "low [4]"));
}

TEST_P(WorkerTest, StarWorksEveryQueueSortedByName) {
  Enqueue("charlie", "Record", "[1]");
  Enqueue("alpha", "Record", "[2]");
  Enqueue("bravo", "Record", "[3]");
  RunBurst(Options({"*"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("alpha [2]", "bravo [3]", "charlie [1]"));
}

// Past kStarListsAllUpTo known queues "*" reserves over the busy ones only: the jobs still come
// in queue order, from queues pushed to before the worker started and while it runs.
TEST_P(WorkerTest, StarOverManyMostlyEmptyQueuesPerformsEveryJobInQueueOrder) {
  for (int i = 0; i < kStarListsAllUpTo + 50; ++i) {
    const std::string q = absl::StrFormat("q%03d", i);
    Enqueue(q, "Record", "[0]");
    ASSERT_OK(backend().RemoveJobs(q, {.class_name = "Record"}));  // known, empty
  }
  Enqueue("q140", "Record", "[1]");
  Enqueue("q007", "Record", "[2]");
  Enqueue("q007", "Record", "[3]");
  RunBurst(Options({"*"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("q007 [2]", "q007 [3]", "q140 [1]"));
  // Running: a job pushed to a queue that was empty at the last look is found within a look.
  WorkerOptions options = Options({"*"});
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  Enqueue("q099", "Record", "[4]");
  ASSERT_TRUE(journal_.AwaitSize(4));
  EXPECT_EQ(journal_.entries().back(), "q099 [4]");
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
}

TEST_P(WorkerTest, NamedQueuesKeepTheirPlaceAroundStar) {
  Enqueue("alpha", "Record", "[1]");
  Enqueue("zulu", "Record", "[2]");
  Enqueue("bravo", "Record", "[3]");
  Enqueue("yankee", "Record", "[4]");
  RunBurst(Options({"zulu", "*", "alpha"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("zulu [2]", "bravo [3]", "yankee [4]", "alpha [1]"));
}

TEST_P(WorkerTest, BlockingWorkerTakesAJobPushedWhileItWaits) {
  WorkerOptions options = Options({"q"});
  options.blocking = true;
  options.interval = absl::Seconds(1);
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(Eventually([&] { return Value(backend().Workers()).size() == 1; }));
  Enqueue("q", "Record", "[7]");
  ASSERT_TRUE(journal_.AwaitSize(1));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("q [7]"));
}

TEST_P(WorkerTest, PollingWorkerTakesAJobPushedLater) {
  Worker worker(backend(), registry_, Options({"q"}));
  RunningWorker running(worker);
  ASSERT_TRUE(Eventually([&] { return Value(backend().Workers()).size() == 1; }));
  Enqueue("q", "Record", "[8]");
  ASSERT_TRUE(journal_.AwaitSize(1));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("q [8]"));
}

// ---- Concurrency ----

TEST_P(WorkerTest, EachSlotIsARegisteredWorkerAndEveryJobIsPerformedOnce) {
  constexpr int kSlots = 4;
  constexpr int kJobs = 200;
  // "Barrier" jobs return once kSlots of them run at the same time: the slots are parallel.
  std::atomic<int> at_barrier{0};
  RegisterFn(registry_, "Barrier", [&](const JobContext&) {
    at_barrier.fetch_add(1);
    const bool met = Eventually([&] { return at_barrier.load() >= kSlots; });
    journal_.Add(met ? "barrier met" : "barrier missed");
    return absl::OkStatus();
  });
  WorkerOptions options = Options({"q"});
  options.concurrency = kSlots;
  options.blocking = true;
  options.interval = absl::Milliseconds(100);
  Worker worker(backend(), registry_, options);
  ASSERT_EQ(worker.worker_ids().size(), static_cast<size_t>(kSlots));
  for (int i = 0; i < kSlots; ++i) {
    // The slot last: the second field stays the pid, as peers' pruning reads it.
    EXPECT_EQ(worker.worker_ids()[i], absl::StrFormat("%s:%d:q:%d", kHost, getpid(), i));
  }

  RunningWorker running(worker);
  ASSERT_TRUE(Eventually([&] { return Value(backend().Workers()).size() == kSlots; }));
  EXPECT_THAT(Value(backend().Workers()), UnorderedElementsAreArray(worker.worker_ids()));
  for (int i = 0; i < kSlots; ++i) Enqueue("q", "Barrier");
  ASSERT_TRUE(journal_.AwaitSize(kSlots));
  EXPECT_THAT(journal_.entries(), ::testing::Each("barrier met"));
  for (int i = 0; i < kJobs; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  ASSERT_TRUE(journal_.AwaitSize(kSlots + kJobs));
  ASSERT_TRUE(Eventually([&] { return Stat("processed") == kSlots + kJobs; }));

  std::map<std::string, int> times;
  for (const std::string& entry : journal_.entries()) ++times[entry];
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(times[absl::StrFormat("q [%d]", i)], 1) << i;
  int64_t per_worker = 0;
  for (const std::string& id : worker.worker_ids()) per_worker += Stat("processed:" + id);
  EXPECT_EQ(per_worker, kSlots + kJobs);

  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_OK(running.status());
  // Counted after the backend took the record: only certain once the slots are done.
  EXPECT_EQ(worker.counts().processed, kSlots + kJobs);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  for (const std::string& id : worker.worker_ids()) EXPECT_EQ(Stat("processed:" + id), 0) << id;
  EXPECT_EQ(Stat("processed"), kSlots + kJobs);
}

TEST_P(WorkerTest, OneSlotIsNamedHostPidQueues) {
  Worker worker(backend(), registry_, Options({"high", "low"}));
  EXPECT_THAT(worker.worker_ids(), ElementsAre(absl::StrFormat("%s:%d:high,low", kHost, getpid())));
}

// ---- Statuses ----

TEST_P(WorkerTest, TrackedJobGoesFromWaitingToRunningToCompleteThenExpiresAfterADay) {
  std::optional<JobState> while_running;
  RegisterFn(registry_, "Probe", [&](const JobContext& ctx) {
    while_running = StateOf(std::string(ctx.id()));
    return absl::OkStatus();
  });
  const std::string id = Enqueue("q", "Probe", "", /*track=*/true);
  EXPECT_EQ(StateOf(id), JobState::kWaiting);
  Worker worker(backend(), registry_, Options({"q"}));
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_EQ(while_running, JobState::kRunning);
  EXPECT_EQ(StateOf(id), JobState::kComplete);
  env_->AdvanceTime(absl::Hours(23));
  EXPECT_EQ(StateOf(id), JobState::kComplete);
  env_->AdvanceTime(absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(StateOf(id), std::nullopt);
}

TEST_P(WorkerTest, TrackedJobThatFailsIsFailedThenExpiresAfterADay) {
  RegisterFn(registry_, "Declined",
             [](const JobContext&) -> absl::Status { throw CardDeclined("card declined"); });
  const std::string id = Enqueue("q", "Declined", "", /*track=*/true);
  Worker worker(backend(), registry_, Options({"q"}));
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_EQ(StateOf(id), JobState::kFailed);
  env_->AdvanceTime(absl::Hours(23));
  EXPECT_EQ(StateOf(id), JobState::kFailed);
  env_->AdvanceTime(absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(StateOf(id), std::nullopt);
}

TEST_P(WorkerTest, UntrackedJobGetsNoStatus) {
  const std::string id = Enqueue("q", "Record");
  Worker worker(backend(), registry_, Options({"q"}));
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_EQ(journal_.size(), 1u);
  EXPECT_EQ(StateOf(id), std::nullopt);
}

TEST_P(WorkerTest, WorkerShowsTheJobItIsWorkingOn) {
  std::optional<std::string> working;
  Worker* self = nullptr;
  RegisterFn(registry_, "Probe", [&](const JobContext&) {
    working = Value(backend().WorkerJob(self->worker_ids()[0]));
    return absl::OkStatus();
  });
  Enqueue("q", "Probe", "[42]");
  const std::string payload = Value(backend().Peek("q", 0, 1)).at(0);
  Worker worker(backend(), registry_, Options({"q"}));
  self = &worker;
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  ASSERT_TRUE(working.has_value());
  // WIRE.md's three fields, then node-resque's "worker": the id without its queues.
  const std::string id = worker.worker_ids()[0];
  EXPECT_EQ(*working,
            absl::StrFormat(R"({"queue":"q","run_at":"2023-11-14T22:13:20Z","payload":%s,)"
                            R"("worker":"%s"})",
                            payload, id.substr(0, id.rfind(":q"))));
  EXPECT_EQ(Value(backend().WorkerJob(worker.worker_ids()[0])), std::nullopt);
}

// A slot running from job to job takes each next job, and records its start, in the step that
// records the last one (FinishAndReserve with a FoldedStart): the jobs after the first must read
// as the first does, busy worker and running status, reliable or not.
TEST_P(WorkerTest, AJobTakenWithTheLastRecordIsShownStartedAsTheFirstIs) {
  std::vector<std::string> working;
  std::vector<std::optional<JobState>> states;
  std::mutex mu;
  std::string slot;
  RegisterFn(registry_, "Probe", [&](const JobContext& ctx) {
    std::lock_guard lock(mu);
    working.push_back(Value(backend().WorkerJob(slot)).value_or("(idle)"));
    states.push_back(StateOf(std::string(ctx.id())));
    return absl::OkStatus();
  });
  for (const bool reliable : {false, true}) {
    SCOPED_TRACE(absl::StrFormat("reliable %d", reliable));
    {
      std::lock_guard lock(mu);
      working.clear();
      states.clear();
    }
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      ids.push_back(Enqueue("q", "Probe", absl::StrFormat("[%d]", i), /*track=*/true));
    }
    const std::vector<std::string> payloads = Value(backend().Peek("q", 0, 10));
    WorkerOptions options = Options({"q"});
    options.reliable = reliable;
    options.burst = true;
    Worker worker(backend(), registry_, options);
    slot = worker.worker_ids()[0];
    RunningWorker running(worker);
    ASSERT_TRUE(running.AwaitReturn());
    EXPECT_OK(running.status());
    std::lock_guard lock(mu);
    ASSERT_EQ(working.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(working[i],
                absl::StrFormat(R"({"queue":"q","run_at":"2023-11-14T22:13:20Z","payload":%s,)"
                                R"("worker":"%s"})",
                                payloads[i], slot.substr(0, slot.rfind(":q"))))
          << i;
      EXPECT_EQ(states[i], JobState::kRunning) << i;
      EXPECT_EQ(StateOf(ids[i]), JobState::kComplete) << i;
    }
  }
}

// ---- Stats ----

TEST_P(WorkerTest, CountsProcessedAndFailedJobsInTotalAndPerWorker) {
  RegisterFn(registry_, "Declined",
             [](const JobContext&) -> absl::Status { throw CardDeclined("card declined"); });
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record");
  for (int i = 0; i < 2; ++i) Enqueue("q", "Declined");
  Worker worker(backend(), registry_, Options({"q"}));
  int performed = 0;
  while (performed < 10 && Value(worker.WorkOne(absl::ZeroDuration()))) ++performed;
  EXPECT_EQ(performed, 5);
  const std::string wid = worker.worker_ids()[0];
  EXPECT_EQ(Stat("processed"), 5);
  EXPECT_EQ(Stat("failed"), 2);
  EXPECT_EQ(Stat("processed:" + wid), 5);
  EXPECT_EQ(Stat("failed:" + wid), 2);
  EXPECT_EQ(worker.counts().processed, 5);
  EXPECT_EQ(worker.counts().failed, 2);
}

// ---- Failures ----

TEST_P(WorkerTest, FailureRecordNamesTheExceptionTheJobAndTheWorker) {
  RegisterFn(registry_, "Declined",
             [](const JobContext&) -> absl::Status { throw CardDeclined("card 4242 declined"); });
  // Kept verbatim, unknown fields included.
  const std::string payload =
      R"({"class":"Declined","args":[{"card":"4242"}],"id":"abc","queue_time":1.5,"from":"php"})";
  ASSERT_OK(backend().Push("billing", payload));
  Worker worker(backend(), registry_, Options({"billing"}));
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  const Failure& f = failures[0];
  EXPECT_EQ(f.exception, "resque::testing::CardDeclined");
  EXPECT_EQ(f.error, "card 4242 declined");
  EXPECT_EQ(f.queue, "billing");
  EXPECT_EQ(f.worker, worker.worker_ids()[0]);
  EXPECT_EQ(f.payload, payload);
  // The ManualClock starts at unix time 1700000000.
  EXPECT_EQ(f.failed_at, "2023/11/14 22:13:20 UTC");
  EXPECT_THAT(f.failed_at,
              MatchesRegex(R"([0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC)"));
}

TEST_P(WorkerTest, ErrorStatusFromAJobIsAFailure) {
  RegisterFn(registry_, "Invalid",
             [](const JobContext&) { return absl::InvalidArgumentError("no such customer"); });
  Enqueue("q", "Invalid");
  RunBurst(Options({"q"}));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobError");
  EXPECT_THAT(failures[0].error, HasSubstr("no such customer"));
  EXPECT_EQ(Stat("failed"), 1);
}

// Issue 12, item 5: what a job says is cut to the failure record's bounds, so that a runaway
// message fills neither the backend nor the log.
TEST_P(WorkerTest, AFailuresErrorAndBacktraceAreBounded) {
  RegisterFn(registry_, "Runaway", [](const JobContext&) {
    std::vector<std::string> lines(5000, std::string(3000, 'b'));
    return WithBacktrace(absl::InternalError(std::string(20 << 20, 'e')), lines);
  });
  Enqueue("q", "Runaway");
  RunBurst(Options({"q"}));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  const Failure& f = failures[0];
  EXPECT_EQ(f.error.size(), kMaxFailureErrorBytes);
  EXPECT_THAT(f.error, StartsWith("INTERNAL: eee"));
  EXPECT_THAT(f.error, EndsWith("e..."));
  ASSERT_EQ(f.backtrace.size(), kMaxBacktraceLines);
  EXPECT_EQ(f.backtrace.front(), std::string(kMaxBacktraceLineBytes - 3, 'b') + "...");
  EXPECT_EQ(f.backtrace.back(),
            absl::StrFormat("... %d more lines not kept", 5000 - (kMaxBacktraceLines - 1)));
}

TEST_P(WorkerTest, UnknownJobClassIsAFailure) {
  const std::string id = Enqueue("q", "NobodyKnowsMe", "", /*track=*/true);
  RunBurst(Options({"q"}));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::UnknownJobClass");
  EXPECT_THAT(failures[0].error, HasSubstr("NobodyKnowsMe"));
  EXPECT_EQ(StateOf(id), JobState::kFailed);
}

TEST_P(WorkerTest, UndecodablePayloadIsAFailureKeptRawAndTheWorkerGoesOn) {
  const std::string garbage = "{\"class\": not json";
  ASSERT_OK(backend().Push("q", garbage));
  Enqueue("q", "Record", "[1]");
  RunBurst(Options({"q"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("q [1]"));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::InvalidPayload");
  EXPECT_EQ(failures[0].queue, "q");
  // The payload is a JSON string holding the raw item, so the record stays valid JSON.
  EXPECT_EQ(Value(json::StringValue(failures[0].payload)), garbage);
  EXPECT_EQ(Stat("processed"), 2);
  EXPECT_EQ(Stat("failed"), 1);
}

TEST_P(WorkerTest, ATrackedJobWhosePayloadIsBrokenButAnObjectIsMarkedFailed) {
  // A peer enqueued it tracked, then something rewrote it without its class.
  ASSERT_OK(backend().SetStatus("0123456789abcdef0123456789abcdef", R"({"status":1})",
                                absl::InfiniteDuration(), false));
  ASSERT_OK(
      backend().Push("q", R"({"args":"not an array","id":"0123456789abcdef0123456789abcdef"})"));
  RunBurst(Options({"q"}));
  EXPECT_EQ(StateOf("0123456789abcdef0123456789abcdef"), JobState::kFailed);
  ASSERT_EQ(Failures().size(), 1u);
  EXPECT_EQ(Failures()[0].exception, "resque::InvalidPayload");
}

// ---- Hooks ----

TEST_P(WorkerTest, HooksRunAroundEnqueueAndPerformAndOnFailure) {
  RegisterFn(registry_, "Declined",
             [](const JobContext&) -> absl::Status { throw CardDeclined("declined"); });
  Hooks hooks;
  auto note = [this](std::string_view what) {
    return [this, what = std::string(what)](const JobEvent& e) {
      journal_.Add(absl::StrFormat("%s %s %s %s", what, e.payload.class_name, e.queue,
                                   e.worker_id.empty() ? "-" : "worker"));
      return absl::OkStatus();
    };
  };
  hooks.before_enqueue.push_back(note("before_enqueue"));
  hooks.before_enqueue.push_back([](const JobEvent& e) {
    return e.payload.class_name == "Refused" ? absl::PermissionDeniedError("refused")
                                             : absl::OkStatus();
  });
  hooks.after_enqueue.push_back(note("after_enqueue"));
  hooks.before_perform.push_back(note("before_perform"));
  hooks.after_perform.push_back(note("after_perform"));
  hooks.on_failure.push_back([this](const JobEvent& e, const absl::Status& error) {
    journal_.Add(absl::StrFormat("on_failure %s %s", e.payload.class_name, error.message()));
  });

  Queue queue(backend(), &clock(), &hooks);
  ASSERT_OK(queue.Enqueue("q", "Record", "[1]"));
  EXPECT_CODE(queue.Enqueue("q", "Refused"), kPermissionDenied);
  ASSERT_OK(queue.Enqueue("q", "Declined"));
  EXPECT_EQ(Value(backend().Size("q")), 2);

  WorkerOptions options = Options({"q"});
  options.hooks = &hooks;
  RunBurst(options);
  EXPECT_THAT(journal_.entries(),
              ElementsAre("before_enqueue Record q -", "after_enqueue Record q -",
                          "before_enqueue Refused q -", "before_enqueue Declined q -",
                          "after_enqueue Declined q -", "before_perform Record q worker", "q [1]",
                          "after_perform Record q worker", "before_perform Declined q worker",
                          "on_failure Declined resque::testing::CardDeclined: declined"));
}

TEST_P(WorkerTest, SkipJobFromABeforePerformHookSkipsTheJob) {
  Hooks hooks;
  hooks.before_perform.push_back([](const JobEvent& e) {
    return e.payload.args == "[\"skip\"]" ? SkipJob("not today") : absl::OkStatus();
  });
  const std::string skipped = Enqueue("q", "Record", R"(["skip"])", /*track=*/true);
  Enqueue("q", "Record", R"(["run"])");
  WorkerOptions options = Options({"q"});
  options.hooks = &hooks;
  RunBurst(options);
  EXPECT_THAT(journal_.entries(), ElementsAre(R"(q ["run"])"));
  EXPECT_THAT(Failures(), IsEmpty());
  // As php-resque's DontPerform: not a failure, the job is done with.
  EXPECT_EQ(StateOf(skipped), JobState::kComplete);
  EXPECT_EQ(Stat("processed"), 2);
  EXPECT_EQ(Stat("failed"), 0);
}

TEST_P(WorkerTest, SkipJobFromSetUpSkipsPerformAndTearDown) {
  RegisterFn(
      registry_, "Skipper",
      [this](const JobContext&) {
        journal_.Add("perform");
        return absl::OkStatus();
      },
      [this](const JobContext&) {
        journal_.Add("set_up");
        return SkipJob("nothing to do");
      },
      [this] { journal_.Add("tear_down"); });
  Enqueue("q", "Skipper");
  RunBurst(Options({"q"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("set_up"));
  EXPECT_THAT(Failures(), IsEmpty());
  EXPECT_EQ(Stat("processed"), 1);
}

TEST_P(WorkerTest, TearDownRunsAfterAThrowingPerform) {
  RegisterFn(
      registry_, "Declined",
      [](const JobContext&) -> absl::Status { throw CardDeclined("declined"); }, nullptr,
      [this] { journal_.Add("tear_down"); });
  Enqueue("q", "Declined");
  RunBurst(Options({"q"}));
  EXPECT_THAT(journal_.entries(), ElementsAre("tear_down"));
  EXPECT_EQ(Failures().size(), 1u);
}

TEST_P(WorkerTest, FailingOrThrowingHookFailsTheJobAndTheWorkerGoesOn) {
  Hooks hooks;
  hooks.before_perform.push_back([](const JobEvent& e) -> absl::Status {
    if (e.payload.args == "[1]") return absl::UnavailableError("rate limiter down");
    if (e.payload.args == "[2]") throw std::logic_error("hook bug");
    return absl::OkStatus();
  });
  hooks.on_failure.push_back(
      [](const JobEvent&, const absl::Status&) { throw std::logic_error("on_failure bug"); });
  Enqueue("q", "Record", "[1]");
  Enqueue("q", "Record", "[2]");
  Enqueue("q", "Record", "[3]");
  WorkerOptions options = Options({"q"});
  options.hooks = &hooks;
  RunBurst(options);
  EXPECT_THAT(journal_.entries(), ElementsAre("q [3]"));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].exception, "resque::HookError");
  EXPECT_THAT(failures[0].error, HasSubstr("rate limiter down"));
  EXPECT_EQ(failures[1].exception, "resque::HookError");
  EXPECT_THAT(failures[1].error, HasSubstr("hook bug"));
}

// ---- Timeouts ----

TEST_P(WorkerTest, InProcessJobPastItsTimeoutIsToldToStopAndFails) {
  RegisterFn(registry_, "Slow", [this](const JobContext& ctx) {
    journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "cancelled" : "never cancelled");
    return absl::OkStatus();  // returned late: a failure all the same
  });
  const std::string id = Enqueue("q", "Slow", "", /*track=*/true);
  Enqueue("q", "Record", "[2]");
  WorkerOptions options = Options({"q"});
  options.job_timeout = absl::Milliseconds(100);
  RunBurst(options);
  EXPECT_THAT(journal_.entries(), ElementsAre("cancelled", "q [2]"));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobTimeout");
  EXPECT_THAT(failures[0].error, HasSubstr("100ms"));
  EXPECT_EQ(StateOf(id), JobState::kFailed);
}

TEST_P(WorkerTest, WorkOneAlsoEnforcesTheInProcessTimeout) {
  RegisterFn(registry_, "Slow", [this](const JobContext& ctx) {
    journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "cancelled" : "never cancelled");
    return absl::OkStatus();
  });
  Enqueue("q", "Slow");
  WorkerOptions options = Options({"q"});
  options.job_timeout = absl::Milliseconds(50);
  Worker worker(backend(), registry_, options);
  ASSERT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_THAT(journal_.entries(), ElementsAre("cancelled"));
  ASSERT_EQ(Failures().size(), 1u);
  EXPECT_EQ(Failures()[0].exception, "resque::JobTimeout");
}

TEST_P(WorkerTest, JobWithinItsTimeoutCompletes) {
  Enqueue("q", "Record", "[1]");
  WorkerOptions options = Options({"q"});
  options.job_timeout = absl::Seconds(30);
  RunBurst(options);
  EXPECT_THAT(journal_.entries(), ElementsAre("q [1]"));
  EXPECT_THAT(Failures(), IsEmpty());
}

// ---- Fork mode ----

// Jobs for fork mode. Their effects stay in the child, so the tests look at records only.
void RegisterForkJobs(JobRegistry& registry) {
  RegisterFn(registry, "Ok", [](const JobContext&) { return absl::OkStatus(); });
  RegisterFn(registry, "Segfault", [](const JobContext&) {
    // A sanitizer's handler would turn the signal into an exit code: the job crashes plainly.
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return absl::OkStatus();
  });
  RegisterFn(registry, "Exit3", [](const JobContext&) -> absl::Status { std::exit(3); });
  RegisterFn(registry, "Declined",
             [](const JobContext&) -> absl::Status { throw CardDeclined("declined in a child"); });
  RegisterFn(registry, "Skip", [](const JobContext&) { return SkipJob("skipped in a child"); });
  // Works until killed (or a minute passes: then the test fails on its records).
  RegisterFn(registry, "Hang", [](const JobContext&) {
    const absl::Time end = absl::Now() + kDeadline;
    while (absl::Now() < end) absl::SleepFor(absl::Milliseconds(10));
    return absl::OkStatus();
  });
}

TEST_P(WorkerTest, ForkedJobThatCrashesOrExitsIsAFailureAndTheWorkerGoesOn) {
  RegisterForkJobs(registry_);
  const std::string segfault = Enqueue("q", "Segfault", "", /*track=*/true);
  const std::string exit3 = Enqueue("q", "Exit3", "", /*track=*/true);
  Enqueue("q", "Declined");
  Enqueue("q", "Skip");
  const std::string ok = Enqueue("q", "Ok", "", /*track=*/true);
  WorkerOptions options = Options({"q"});
  options.fork = true;
  RunBurst(options);

  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0].exception, "resque::JobCrashed");
  EXPECT_THAT(failures[0].error, HasSubstr(absl::StrFormat("signal %d", SIGSEGV)));
  EXPECT_EQ(failures[1].exception, "resque::JobExited");
  EXPECT_THAT(failures[1].error, HasSubstr("code 3"));
  EXPECT_EQ(failures[2].exception, "resque::testing::CardDeclined");
  EXPECT_EQ(failures[2].error, "declined in a child");
  EXPECT_EQ(StateOf(segfault), JobState::kFailed);
  EXPECT_EQ(StateOf(exit3), JobState::kFailed);
  EXPECT_EQ(StateOf(ok), JobState::kComplete);
  EXPECT_EQ(Stat("processed"), 5);
  EXPECT_EQ(Stat("failed"), 3);
}

TEST_P(WorkerTest, ForkedJobPastItsTimeoutIsKilled) {
  RegisterForkJobs(registry_);
  Enqueue("q", "Hang");
  const std::string ok = Enqueue("q", "Ok", "", /*track=*/true);
  WorkerOptions options = Options({"q"});
  options.fork = true;
  options.job_timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  RunBurst(options);
  EXPECT_LT(absl::Now() - start, kDeadline / 2);
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobTimeout");
  EXPECT_THAT(failures[0].error, HasSubstr("killed"));
  EXPECT_EQ(StateOf(ok), JobState::kComplete);
}

TEST_P(WorkerTest, ForkedJobsRunOnEverySlot) {
  RegisterForkJobs(registry_);
  for (int i = 0; i < 12; ++i) Enqueue("q", i % 3 == 0 ? "Declined" : "Ok");
  WorkerOptions options = Options({"q"});
  options.fork = true;
  options.concurrency = 3;
  RunBurst(options);
  EXPECT_EQ(Stat("processed"), 12);
  EXPECT_EQ(Stat("failed"), 4);
  EXPECT_EQ(Value(backend().Size("q")), 0);
}

// ---- Stopping ----

TEST_P(WorkerTest, BurstWorkerStopsOnEmptyQueuesAndUnregisters) {
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.concurrency = 2;
  RunBurst(options);
  EXPECT_EQ(journal_.size(), 3u);
  EXPECT_EQ(Value(backend().Size("q")), 0);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

// Issue 12, item 12: a polling worker with a zero interval is php-resque's INTERVAL=0, which
// stops at the first empty round, not a loop against the backend without a pause.
TEST_P(WorkerTest, APollingWorkerWithAZeroIntervalStopsOnceItsQueuesAreEmpty) {
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.interval = absl::ZeroDuration();
  Worker worker(backend(), registry_, std::move(options));
  ASSERT_OK(worker.Run());
  EXPECT_EQ(journal_.size(), 3u);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, StopsAfterMaxJobs) {
  for (int i = 0; i < 10; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.max_jobs = 3;
  options.concurrency = 2;
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(running.AwaitReturn()) << "max_jobs did not stop the worker";
  EXPECT_EQ(journal_.size(), 3u);
  EXPECT_EQ(Value(backend().Size("q")), 7);
  EXPECT_EQ(worker.counts().processed, 3);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, WorkOneStopsTakingJobsAtMaxJobs) {
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record");
  WorkerOptions options = Options({"q"});
  options.max_jobs = 2;
  Worker worker(backend(), registry_, options);
  EXPECT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_TRUE(Value(worker.WorkOne(absl::ZeroDuration())));
  EXPECT_CODE(worker.WorkOne(absl::ZeroDuration()), kResourceExhausted);
  EXPECT_EQ(Value(backend().Size("q")), 1);
}

TEST_P(WorkerTest, PausedWorkerTakesNoJobsUntilResumed) {
  WorkerOptions options = Options({"q"});
  options.concurrency = 2;
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  worker.Pause();
  ASSERT_TRUE(Eventually([&] { return worker.paused_slots() == 2; }));
  Enqueue("q", "Record", "[1]");
  // Both slots are parked, so nothing can take the job.
  EXPECT_EQ(Value(backend().Size("q")), 1);
  EXPECT_EQ(journal_.size(), 0u);
  worker.Resume();
  ASSERT_TRUE(journal_.AwaitSize(1));
  EXPECT_TRUE(Eventually([&] { return worker.paused_slots() == 0; }));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
}

// Ruby's pause-all-workers: the slots take nothing while it is set (polling or blocking), the
// worker logs the pause and the resume once each, and takes the job once it is cleared.
TEST_P(WorkerTest, PauseAllWorkersHoldsEverySlotUntilCleared) {
  for (const bool blocking : {false, true}) {
    std::mutex log_mu;
    std::vector<std::string> messages;
    WorkerOptions options = Options({"q"});
    options.concurrency = 2;
    options.blocking = blocking;
    options.log = [&](LogLevel, std::string_view m) {
      std::lock_guard lock(log_mu);
      messages.emplace_back(m);
    };
    const auto logged = [&](std::string_view what) {
      std::lock_guard lock(log_mu);
      return std::count_if(messages.begin(), messages.end(),
                           [&](const std::string& m) { return m.find(what) != std::string::npos; });
    };
    ASSERT_OK(backend().PauseAllWorkers(true));
    Worker worker(backend(), registry_, options);
    RunningWorker running(worker);
    ASSERT_TRUE(Eventually([&] { return logged("all workers paused") == 1; })) << blocking;
    Enqueue("q", "Record", "[1]");
    // A bounded look (many polls at 5 ms): the job stays queued.
    const absl::Time end = absl::Now() + absl::Milliseconds(300);
    while (absl::Now() < end) {
      ASSERT_EQ(Value(backend().Size("q")), 1) << blocking;
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(journal_.size(), 0u);
    ASSERT_OK(backend().PauseAllWorkers(false));
    ASSERT_TRUE(journal_.AwaitSize(1));
    EXPECT_TRUE(Eventually([&] { return logged("pause-all-workers cleared") == 1; }));
    worker.RequestStop(StopMode::kGraceful);
    ASSERT_TRUE(running.AwaitReturn());
    EXPECT_EQ(logged("all workers paused"), 1) << blocking;
    journal_.Clear();
  }
}

// A slot takes its next job in the same step as it records the last one (Backend::
// FinishAndReserve). A stop or a pause that comes in between must not hold that job: it goes
// back to the head of its queue, waiting, out of the slot's in-flight list, and nothing of it is
// recorded. Told from on_job_done, which runs right after that step, so the job is surely taken.
TEST_P(WorkerTest, AJobTakenWithTheLastRecordGoesBackWhenTheSlotStopsOrPausesFirst) {
  for (const bool reliable : {true, false}) {
    for (const bool pause : {false, true}) {
      SCOPED_TRACE(absl::StrFormat("reliable %d, pause %d", reliable, pause));
      ASSERT_OK(backend().RemoveQueue("q"));
      ASSERT_OK(backend().ClearStat("processed"));
      journal_.Clear();
      Enqueue("q", "Record", "[1]");
      const std::string second = Enqueue("q", "Record", "[2]", /*track=*/true);
      const std::string second_payload = Value(backend().Peek("q", 1, 1)).at(0);
      WorkerOptions options = Options({"q"});
      options.reliable = reliable;
      Worker* told = nullptr;
      std::atomic<int> reports{0};
      options.on_job_done = [&](const JobReport&) {
        if (reports.fetch_add(1) > 0) return;
        if (pause) {
          told->Pause();
        } else {
          told->RequestStop(StopMode::kGraceful);
        }
      };
      Worker worker(backend(), registry_, options);
      told = &worker;
      RunningWorker running(worker);
      if (pause) {
        ASSERT_TRUE(Eventually([&] { return worker.paused_slots() == 1; }));
        // Parked: the second job waits in its queue, not in the slot's hands.
        EXPECT_THAT(Value(backend().Peek("q", 0, 10)), ElementsAre(second_payload));
        EXPECT_THAT(Value(backend().InFlight(worker.worker_ids()[0])), IsEmpty());
        EXPECT_EQ(StateOf(second), JobState::kWaiting);
        // The slot is idle: its folded start is undone with the hand-back.
        EXPECT_EQ(Value(backend().WorkerJob(worker.worker_ids()[0])), std::nullopt);
        worker.Resume();
        ASSERT_TRUE(journal_.AwaitSize(2));
        worker.RequestStop(StopMode::kGraceful);
        ASSERT_TRUE(running.AwaitReturn());
        EXPECT_THAT(journal_.entries(), ElementsAre("q [1]", "q [2]"));
        EXPECT_EQ(StateOf(second), JobState::kComplete);
        continue;
      }
      ASSERT_TRUE(running.AwaitReturn());
      EXPECT_OK(running.status());
      EXPECT_THAT(journal_.entries(), ElementsAre("q [1]"));
      EXPECT_THAT(Value(backend().Peek("q", 0, 10)), ElementsAre(second_payload));
      EXPECT_THAT(Value(backend().InFlight(worker.worker_ids()[0])), IsEmpty());
      EXPECT_EQ(StateOf(second), JobState::kWaiting);
      EXPECT_EQ(Stat("processed"), 1);
    }
  }
}

TEST_P(WorkerTest, StopWhilePausedReturns) {
  Worker worker(backend(), registry_, Options({"q"}));
  RunningWorker running(worker);
  worker.Pause();
  ASSERT_TRUE(Eventually([&] { return worker.paused_slots() == 1; }));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, GracefulStopFinishesTheRunningJobAndTakesNoOther) {
  Event started;
  Event release;
  RegisterFn(registry_, "Gate", [&](const JobContext& ctx) {
    started.Notify();
    const bool released = release.Await();
    journal_.Add(absl::StrFormat("released=%d cancelled=%d", released, ctx.Cancelled()));
    return absl::OkStatus();
  });
  const std::string id = Enqueue("q", "Gate", "", /*track=*/true);
  Enqueue("q", "Record", "[2]");
  Worker worker(backend(), registry_, Options({"q"}));
  RunningWorker running(worker);
  ASSERT_TRUE(started.Await());
  worker.RequestStop(StopMode::kGraceful);
  release.Notify();
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("released=1 cancelled=0"));
  EXPECT_EQ(StateOf(id), JobState::kComplete);
  EXPECT_THAT(Failures(), IsEmpty());
  EXPECT_EQ(Value(backend().Size("q")), 1);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, ImmediateStopCancelsTheRunningJobAndRecordsIt) {
  Event started;
  RegisterFn(registry_, "Long", [&](const JobContext& ctx) {
    started.Notify();
    journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "cancelled" : "never cancelled");
    return absl::OkStatus();
  });
  const std::string id = Enqueue("q", "Long", "", /*track=*/true);
  Enqueue("q", "Record", "[2]");
  Worker worker(backend(), registry_, Options({"q"}));
  RunningWorker running(worker);
  ASSERT_TRUE(started.Await());
  worker.RequestStop(StopMode::kImmediate);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("cancelled"));
  EXPECT_EQ(StateOf(id), JobState::kFailed);
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobKilled");
  EXPECT_THAT(failures[0].error, HasSubstr("immediate"));
  EXPECT_EQ(Value(backend().Size("q")), 1);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, ImmediateStopKillsTheRunningChild) {
  RegisterForkJobs(registry_);
  const std::string id = Enqueue("q", "Hang", "", /*track=*/true);
  WorkerOptions options = Options({"q"});
  options.fork = true;
  Worker worker(backend(), registry_, options);
  const absl::Time start = absl::Now();
  RunningWorker running(worker);
  // The worker shows the job once it starts it (just before the fork).
  ASSERT_TRUE(
      Eventually([&] { return Value(backend().WorkerJob(worker.worker_ids()[0])).has_value(); }));
  worker.RequestStop(StopMode::kImmediate);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_LT(absl::Now() - start, kDeadline / 2);
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobKilled");
  EXPECT_EQ(StateOf(id), JobState::kFailed);
}

TEST_P(WorkerTest, KillRunningJobsStopsTheChildAndTheWorkerGoesOn) {
  RegisterForkJobs(registry_);
  Enqueue("q", "Hang");
  const std::string ok = Enqueue("q", "Ok", "", /*track=*/true);
  WorkerOptions options = Options({"q"});
  options.fork = true;
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(
      Eventually([&] { return Value(backend().WorkerJob(worker.worker_ids()[0])).has_value(); }));
  worker.KillRunningJobs();
  ASSERT_TRUE(Eventually([&] { return StateOf(ok) == JobState::kComplete; }));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobKilled");
  EXPECT_THAT(failures[0].error, HasSubstr("USR1"));
}

TEST_P(WorkerTest, KillRunningJobsCancelsAnInProcessJobAndTheWorkerGoesOn) {
  Event started;
  RegisterFn(registry_, "Long", [&](const JobContext& ctx) {
    started.Notify();
    journal_.Add(Eventually([&] { return ctx.Cancelled(); }) ? "cancelled" : "never cancelled");
    return absl::AbortedError("gave up half way");
  });
  Enqueue("q", "Long");
  Enqueue("q", "Record", "[2]");
  Worker worker(backend(), registry_, Options({"q"}));
  RunningWorker running(worker);
  ASSERT_TRUE(started.Await());
  worker.KillRunningJobs();
  ASSERT_TRUE(journal_.AwaitSize(2));
  worker.RequestStop(StopMode::kGraceful);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("cancelled", "q [2]"));
  const std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].exception, "resque::JobKilled");
  // The worker's reason first, then what the job said.
  EXPECT_THAT(failures[0].error, HasSubstr("USR1"));
  EXPECT_THAT(failures[0].error, HasSubstr("gave up half way"));
}

TEST_P(WorkerTest, StopBeforeRunMakesRunReturnAtOnce) {
  Enqueue("q", "Record");
  Worker worker(backend(), registry_, Options({"q"}));
  worker.RequestStop(StopMode::kGraceful);
  EXPECT_OK(worker.Run());
  EXPECT_EQ(journal_.size(), 0u);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

// ---- Registration ----

TEST_P(WorkerTest, PrunesDeadWorkersOfItsOwnHostOnly) {
  const pid_t dead = DeadPid();
  const std::string dead_one = absl::StrFormat("%s:%d:q", kHost, dead);
  const std::string dead_slot = absl::StrFormat("%s:%d-3:q,r", kHost, dead);
  const std::string other_host = absl::StrFormat("elsewhere:%d:q", dead);
  // pid 1 always exists: that worker may well be alive.
  const std::string alive = absl::StrFormat("%s:1:q", kHost);
  for (const std::string& id : {dead_one, dead_slot, other_host, alive}) {
    ASSERT_OK(backend().RegisterWorker(id, "2023-11-14T22:00:00Z"));
  }
  ASSERT_OK(backend().IncrementStat("processed:" + dead_one, 5));
  RunBurst(Options({"q"}));
  EXPECT_THAT(Value(backend().Workers()), UnorderedElementsAreArray({other_host, alive}));
  EXPECT_EQ(Stat("processed:" + dead_one), 0);
}

TEST_P(WorkerTest, RegistersWhileRunningAndUnregistersOnExit) {
  WorkerOptions options = Options({"q"});
  options.concurrency = 3;
  Worker worker(backend(), registry_, options);
  {
    RunningWorker running(worker);
    ASSERT_TRUE(Eventually([&] { return Value(backend().Workers()).size() == 3; }));
    for (const std::string& id : worker.worker_ids()) {
      EXPECT_EQ(Value(backend().WorkerStarted(id)), "2023-11-14T22:13:20Z") << id;
    }
    worker.RequestStop(StopMode::kGraceful);
    ASSERT_TRUE(running.AwaitReturn());
  }
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
  for (const std::string& id : worker.worker_ids()) {
    EXPECT_EQ(Value(backend().WorkerStarted(id)), std::nullopt) << id;
  }
}

TEST_P(WorkerTest, WorkOneRegistersItsSlotUntilTheWorkerIsDestroyed) {
  std::string id;
  {
    Worker worker(backend(), registry_, Options({"q"}));
    id = worker.worker_ids()[0];
    EXPECT_FALSE(Value(worker.WorkOne(absl::ZeroDuration())));
    EXPECT_THAT(Value(backend().Workers()), ElementsAre(id));
  }
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, RunRejectsBadOptions) {
  WorkerOptions no_queues = Options({});
  EXPECT_CODE(Worker(backend(), registry_, no_queues).Run(), kInvalidArgument);
  EXPECT_CODE(Worker(backend(), registry_, Options({"q", ""})).Run(), kInvalidArgument);
  WorkerOptions negative = Options({"q"});
  negative.job_timeout = absl::Seconds(-1);
  EXPECT_CODE(Worker(backend(), registry_, negative).Run(), kInvalidArgument);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

// ---- Batches (WorkerOptions::batch) ----

TEST_P(WorkerTest, BatchesPerformEveryJobOnceInOrderAndRecordThemAll) {
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(Enqueue("q", "Record", absl::StrFormat("[%d]", i), /*track=*/i % 3 == 0));
  }
  WorkerOptions options = Options({"q"});
  options.batch = 8;
  RunBurst(options);
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) expected.push_back(absl::StrFormat("q [%d]", i));
  EXPECT_EQ(journal_.entries(), expected);
  EXPECT_EQ(Stat("processed"), 40);
  for (int i = 0; i < 40; i += 3) EXPECT_EQ(StateOf(ids[i]), JobState::kComplete) << i;
  EXPECT_EQ(Value(backend().Size("q")), 0);
  EXPECT_THAT(Value(backend().Workers()), IsEmpty());
}

TEST_P(WorkerTest, ABatchMarksItsTrackedJobsRunningBeforeItPerformsThem) {
  Enqueue("q", "Record", "[0]");  // one job alone first; the batches come after it
  std::optional<JobState> second_while_first_ran;
  std::string second;
  RegisterFn(registry_, "First", [&](const JobContext&) {
    second_while_first_ran = StateOf(second);
    return absl::OkStatus();
  });
  const std::string first = Enqueue("q", "First", "[]", /*track=*/true);
  second = Enqueue("q", "Record", "[2]", /*track=*/true);
  WorkerOptions options = Options({"q"});
  options.batch = 2;
  // The first job's time is the manual clock's, so it is quick however loaded the machine is,
  // and the next two come as one batch.
  options.timer = &clock();
  RunBurst(options);
  EXPECT_EQ(second_while_first_ran, JobState::kRunning);
  EXPECT_EQ(StateOf(first), JobState::kComplete);
  EXPECT_EQ(StateOf(second), JobState::kComplete);
}

TEST_P(WorkerTest, ASlowJobEndsItsBatchAndTheRestGoBackFirstInLine) {
  std::vector<std::string> messages;
  std::mutex log_mu;
  std::optional<int64_t> left_while_slow;
  RegisterFn(registry_, "Slow", [&](const JobContext&) {
    clock().Advance(absl::Milliseconds(30));  // past the 10 ms a batch may take
    left_while_slow = Value(backend().Size("q"));
    journal_.Add("slow");
    return absl::OkStatus();
  });
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  Enqueue("q", "Slow", "[]");
  for (int i = 4; i < 10; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.batch = 4;
  options.timer = &clock();  // the batch budget is spent only as the jobs advance the clock
  options.log = [&](LogLevel, std::string_view m) {
    std::lock_guard lock(log_mu);
    messages.emplace_back(m);
  };
  RunBurst(options);
  // Sizes 1, 2, then 4 from job 3: the slow job is the first of that batch, and the three
  // reserved with it wait in flight while it runs, then go back before the next reserve.
  EXPECT_THAT(journal_.entries(), ElementsAre("q [0]", "q [1]", "q [2]", "slow", "q [4]", "q [5]",
                                              "q [6]", "q [7]", "q [8]", "q [9]"));
  EXPECT_EQ(left_while_slow, 3);
  EXPECT_EQ(Stat("processed"), 10);
  std::lock_guard lock(log_mu);
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("3 unstarted job(s) of a slow batch")));
}

TEST_P(WorkerTest, SlowJobsAreWorkedOneAtATimeWhateverTheBatch) {
  std::vector<int64_t> waiting_while_running;
  RegisterFn(registry_, "Slow", [&](const JobContext&) {
    clock().Advance(absl::Milliseconds(15));  // past the 10 ms a batch may take
    waiting_while_running.push_back(Value(backend().Size("q")));
    return absl::OkStatus();
  });
  for (int i = 0; i < 4; ++i) Enqueue("q", "Slow", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.batch = 8;
  options.timer = &clock();
  RunBurst(options);
  // No job waits in this slot's hands while another runs: every other one is still queued.
  EXPECT_THAT(waiting_while_running, ElementsAre(3, 2, 1, 0));
}

TEST_P(WorkerTest, ABatchTakesNoMoreJobsThanMaxJobsAllows) {
  for (int i = 0; i < 20; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.batch = 16;
  options.max_jobs = 5;
  Worker worker(backend(), registry_, options);
  RunningWorker running(worker);
  ASSERT_TRUE(running.AwaitReturn()) << "max_jobs did not stop the worker";
  EXPECT_EQ(journal_.size(), 5u);
  EXPECT_EQ(Value(backend().Size("q")), 15);
  EXPECT_THAT(Value(backend().InFlight(worker.worker_ids()[0])), IsEmpty());
}

TEST_P(WorkerTest, AStopInTheMiddleOfABatchHandsItsUnstartedJobsBack) {
  Worker* self = nullptr;
  RegisterFn(registry_, "Stop", [&](const JobContext&) {
    self->RequestStop(StopMode::kGraceful);
    journal_.Add("stop");
    return absl::OkStatus();
  });
  for (int i = 0; i < 3; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  Enqueue("q", "Stop", "[]");  // the first job of the third batch (sizes 1, 2, 4)
  for (int i = 4; i < 10; ++i) Enqueue("q", "Record", absl::StrFormat("[%d]", i));
  WorkerOptions options = Options({"q"});
  options.batch = 4;
  Worker worker(backend(), registry_, options);
  self = &worker;
  RunningWorker running(worker);
  ASSERT_TRUE(running.AwaitReturn());
  EXPECT_THAT(journal_.entries(), ElementsAre("q [0]", "q [1]", "q [2]", "stop"));
  EXPECT_EQ(Value(backend().Size("q")), 6);
  std::vector<std::string> left;
  for (const std::string& p : Value(backend().Peek("q", 0, 6))) {
    left.push_back(std::string(p.substr(p.find("\"args\":"), 13)));
  }
  EXPECT_THAT(left, ElementsAre(R"("args":[4],"i)", R"("args":[5],"i)", R"("args":[6],"i)",
                                R"("args":[7],"i)", R"("args":[8],"i)", R"("args":[9],"i)"));
  EXPECT_EQ(Stat("processed"), 4);
}

TEST_P(WorkerTest, RunRejectsABatchOutOfRange) {
  for (int batch : {0, -1, 1001}) {
    WorkerOptions options = Options({"q"});
    options.batch = batch;
    EXPECT_CODE(Worker(backend(), registry_, options).Run(), kInvalidArgument) << batch;
  }
  WorkerOptions unreliable = Options({"q"});
  unreliable.batch = 4;
  unreliable.reliable = false;
  EXPECT_CODE(Worker(backend(), registry_, unreliable).Run(), kInvalidArgument);
}

// ---- Automatic retries (core/retry.h) ----

// One scheduler turn at the test's clock, as `resque scheduler` takes it.
int64_t MoveDueNow(Backend& backend, ManualClock& clock) {
  Scheduler scheduler(backend, {.name = "test:1", .clock = &clock});
  absl::StatusOr<SchedulerTurn> turn = scheduler.RunOnce();
  EXPECT_OK(turn);
  EXPECT_OK(backend.ReleaseSchedulerLock("test:1"));
  return turn.ok() ? turn->moved : -1;
}

TEST_P(WorkerTest, AJobWithRetriesWaitsInTheDelayedJobsUntilItsLastTryFailsAndIsRecorded) {
  RegisterFn(registry_, "Boom", [](const JobContext&) { return absl::UnavailableError("down"); });
  ASSERT_OK(registry_.SetRetryPolicy(
      "Boom", {.retries = 2, .delay = [](int count) { return absl::Seconds(100 * (count + 1)); }}));
  const std::string id = Enqueue("mail", "Boom", "[1]", /*track=*/true);
  const int64_t start = absl::ToUnixSeconds(clock().Now());

  RunBurst(Options({"mail"}));
  EXPECT_THAT(Failures(), IsEmpty());
  EXPECT_EQ(Stat("failed"), 1);
  EXPECT_EQ(Stat("processed"), 1);
  std::vector<std::string> items = Value(backend().DelayedItems(start + 100, 0, 10));
  ASSERT_EQ(items.size(), 1u);
  const Payload first = Value(DecodePayload(items[0]));
  EXPECT_EQ(first.id, id);
  EXPECT_EQ(RetryCountOf(first), 1);
  EXPECT_THAT(items[0], HasSubstr(R"("queue":"mail","retry_count":1,"error_class":)"));
  EXPECT_THAT(items[0], HasSubstr(R"("error_message":"UNAVAILABLE: down")"));
  JobStatus status = Value(StatusTracker(backend(), &clock()).Get(id));
  EXPECT_EQ(status.state, JobState::kWaiting);
  EXPECT_EQ(status.retry_at, start + 100);
  EXPECT_EQ(status.retry_count, 1);
  EXPECT_EQ(status.error, "UNAVAILABLE: down");

  env_->AdvanceTime(absl::Seconds(99));
  EXPECT_EQ(MoveDueNow(backend(), clock()), 0);  // not due yet
  env_->AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(MoveDueNow(backend(), clock()), 1);
  RunBurst(Options({"mail"}));
  EXPECT_THAT(Failures(), IsEmpty());
  EXPECT_EQ(Value(backend().DelayedItems(start + 300, 0, 10)).size(), 1u);  // waits 200 s now

  env_->AdvanceTime(absl::Seconds(200));
  EXPECT_EQ(MoveDueNow(backend(), clock()), 1);
  RunBurst(Options({"mail"}));
  std::vector<Failure> failures = Failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].extra,
              ElementsAre(std::pair<std::string, std::string>("retry_count", "2"),
                          std::pair<std::string, std::string>("retries_exhausted", "true")));
  // The job as enqueued: retried by hand, it starts its retries over.
  EXPECT_EQ(RetryCountOf(Value(DecodePayload(failures[0].payload))), 0);
  EXPECT_THAT(failures[0].payload, Not(HasSubstr("error_message")));
  EXPECT_EQ(Stat("failed"), 3);
  EXPECT_EQ(StateOf(id), JobState::kFailed);
  EXPECT_EQ(Value(backend().DelayedCount()), 0);
}

TEST_P(WorkerTest, TheWorkersRetryOptionBeatsARegistrationAndStarCoversTheOtherClasses) {
  for (const char* name : {"Boom", "Other"}) {
    RegisterFn(registry_, name, [](const JobContext&) { return absl::InternalError("no"); });
  }
  ASSERT_OK(registry_.SetRetryPolicy("Boom", {.retries = 5}));
  Enqueue("mail", "Boom");
  Enqueue("mail", "Other");
  Enqueue("mail", "Missing");  // an unknown class is never retried
  WorkerOptions options = Options({"mail"});
  options.retry = {{"Boom", RetryPolicy{.retries = 0}}, {"*", RetryPolicy{.retries = 1}}};
  RunBurst(options);
  std::vector<std::string> recorded;
  for (const Failure& f : Failures()) {
    recorded.push_back(Value(DecodePayload(f.payload)).class_name);
    EXPECT_THAT(f.extra, IsEmpty()) << "retries 0 and no policy mark nothing";
  }
  EXPECT_THAT(recorded, ElementsAre("Boom", "Missing"));
  std::vector<DelayedTime> times = Value(backend().DelayedTimes(0, 10));
  ASSERT_EQ(times.size(), 1u);
  EXPECT_THAT(Value(backend().DelayedItems(times[0].at, 0, 10)),
              ElementsAre(HasSubstr(R"("class":"Other")")));
  // Sidekiq's first backoff: 15 to 24 s.
  const int64_t now = absl::ToUnixSeconds(clock().Now());
  EXPECT_GE(times[0].at, now + 15);
  EXPECT_LE(times[0].at, now + 24);
}

TEST_P(WorkerTest, ARetryPolicyOutOfRangeIsRefused) {
  WorkerOptions options = Options({"mail"});
  options.retry = {{"Record", RetryPolicy{.retries = kMaxRetries + 1}}};
  Worker worker(backend(), registry_, options);
  EXPECT_TRUE(absl::IsInvalidArgument(worker.Run()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_.SetRetryPolicy("Record", {.retries = -1})));
  EXPECT_TRUE(absl::IsNotFound(registry_.SetRetryPolicy("Nope", {.retries = 1})));
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerTest, ::testing::ValuesIn(WorkerBackends()),
                         WorkerBackendName);

}  // namespace
}  // namespace resque::testing
