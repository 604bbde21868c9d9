// The testing kit: unit-test your job code with no Redis, as Sidekiq::Testing does for Ruby.
//
// A Harness owns an in-memory backend, a manual clock and a job registry. Jobs are enqueued as
// in production (resque::Queue) and performed through the real Worker, so the statuses, stats
// and failure records a test reads are exactly the ones `resque work` writes to Redis.
//
//   #include "backends/testing/testing.h"
//   using ::resque::testing_kit::Completed;
//   using ::resque::testing_kit::Harness;
//   using ::resque::testing_kit::IsJob;
//   using ::resque::testing_kit::IsOk;
//   using ::resque::testing_kit::IsOkAndHolds;
//
//   TEST(SendEmailTest, SendsTheEmail) {
//     Harness resque;
//     ASSERT_THAT(resque.Register<SendEmail>("SendEmail"), IsOk());
//     ASSERT_THAT(resque.Enqueue("mail", "SendEmail", R"({"to":"a@x"})"), IsOk());
//     EXPECT_THAT(resque.Jobs("mail"), ElementsAre(IsJob("SendEmail", R"([{"to":"a@x"}])")));
//     EXPECT_THAT(resque.Drain(), IsOkAndHolds(ElementsAre(Completed())));
//     EXPECT_EQ(resque.Stat("processed"), 1);
//   }
//
// Two modes, switchable at any time: kFake (the default) only records what is enqueued until a
// test calls Drain(); kInline performs each job before Enqueue returns (Sidekiq's inline!).
// A Harness is for one test thread: the jobs it performs run on the calling thread.
// docs/testing.md walks through a complete example.
#ifndef RESQUE_BACKENDS_TESTING_TESTING_H_
#define RESQUE_BACKENDS_TESTING_TESTING_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/failure.h"
#include "core/hooks.h"
#include "core/job_outcome.h"
#include "core/job_registry.h"
#include "core/log.h"
#include "core/queue.h"
#include "core/status.h"
#include "core/worker.h"

namespace resque::testing_kit {

enum class Mode {
  kFake,    // Enqueue only records; Drain() or DrainQueue() performs
  kInline,  // Enqueue performs the job (and what it enqueues) before it returns
};

struct HarnessOptions {
  Mode mode = Mode::kFake;
  // The queues Drain() works, in priority order, as `resque work --queue` takes them: "*" is
  // every queue, sorted by name.
  std::vector<std::string> queues = {"*"};
  // The most jobs one Drain (or one inline Enqueue) performs. A job that enqueues itself forever
  // would otherwise hang the test; past the bound Drain returns ResourceExhausted.
  int64_t max_jobs = 1000;
  // Where the harness's clock starts (statuses' "updated", failures' "failed_at", TTLs).
  absl::Time start = absl::FromUnixSeconds(1700000000);
  // Also perform the classes that RESQUE_REGISTER_JOB put in JobRegistry::Global(), as
  // `resque work --load` does. Classes registered on the harness win over them.
  bool global_jobs = true;
  // Your hooks, run as the worker and Queue run them; see also Harness::hooks().
  Hooks hooks;
  std::string hostname = "testing";  // the worker ids' host part
  LogSink log = StderrLogSink(LogLevel::kError);
};

// A job waiting in a queue, decoded.
struct EnqueuedJob {
  std::string queue;
  std::string class_name;  // empty when the payload does not decode
  std::string args;        // the JSON array, verbatim
  std::string id;          // empty when the payload has none (Ruby, node-resque)
  std::string payload;     // the payload JSON as stored
};

enum class Outcome {
  kComplete,
  kFailed,   // a failure record was written
  kSkipped,  // SkipJob() from SetUp, Perform or a before_perform hook
  // Failed, and waits in the delayed queue for an automatic retry (JobRegistry::SetRetryPolicy):
  // no failure record; AdvanceClock past retry_at brings it back.
  kRetried,
};
// "complete", "failed", "skipped", "retried"
std::string_view OutcomeName(Outcome outcome);

// A job the harness performed, and how it ended.
struct PerformedJob {
  std::string queue;
  std::string class_name;  // empty when the payload did not decode
  std::string args;
  std::string id;
  Outcome outcome = Outcome::kComplete;
  // The record the worker wrote, when it failed; when retried, the try's exception and error
  // (no record was written).
  std::optional<Failure> failure;
  std::optional<absl::Time> retry_at;  // when retried: when it is due again
};

// For GoogleTest's messages.
void PrintTo(const EnqueuedJob& job, std::ostream* os);
void PrintTo(const PerformedJob& job, std::ostream* os);

class Harness {
 public:
  explicit Harness(HarnessOptions options = {});
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // ---- Job classes ----

  // Registers a job class for this harness only. The factory form lets a test hand its job
  // fakes it owns: Register("SendEmail", [&] { return std::make_unique<SendEmail>(mailer); }).
  // AlreadyExists when the class is registered on this harness already (which, once a drain
  // has run, includes the global classes it merged: register before the first drain).
  absl::Status Register(std::string_view class_name, JobRegistry::Factory factory);
  template <typename T>
  absl::Status Register(std::string_view class_name) {
    return Register(class_name, [] { return std::make_unique<T>(); });
  }
  JobRegistry& registry() { return registry_; }

  // ---- Enqueueing ----

  // resque::Queue::Enqueue; in inline mode the job is also performed before this returns, with
  // whatever it enqueues, and an endless chain of jobs is ResourceExhausted.
  absl::StatusOr<std::string> Enqueue(std::string_view queue, std::string_view class_name,
                                      std::string_view args_json = "",
                                      const EnqueueOptions& options = {});

  // resque::Queue::EnqueueAt / EnqueueIn by the harness's clock: the job waits in the delayed
  // queue until AdvanceClock() brings its second.
  absl::StatusOr<std::string> EnqueueAt(absl::Time at, std::string_view queue,
                                        std::string_view class_name,
                                        std::string_view args_json = "",
                                        const EnqueueOptions& options = {});
  absl::StatusOr<std::string> EnqueueIn(absl::Duration delay, std::string_view queue,
                                        std::string_view class_name,
                                        std::string_view args_json = "",
                                        const EnqueueOptions& options = {});

  // Moves clock() on by `d`, then, as a scheduler would, the delayed jobs due by then to their
  // queues (in inline mode they are performed too). Returns how many moved.
  absl::StatusOr<int64_t> AdvanceClock(absl::Duration d);
  // How many jobs wait in the delayed queue.
  int64_t DelayedCount();

  // The Queue to hand to the code under test: its enqueues, and those of the jobs performed
  // here, follow the mode. (A Queue made over backend() directly runs no hooks: inline mode
  // does not see its enqueues.) In inline mode an endless chain started from it is a test
  // failure (ADD_FAILURE), as it cannot be returned to its caller.
  Queue& queue() { return queue_; }

  Mode mode() const { return mode_; }
  void set_mode(Mode mode) { mode_ = mode; }

  // ---- Performing ----

  // Performs every queued job, as a worker on HarnessOptions::queues would (queue by queue in
  // priority order, each oldest first), including the jobs they enqueue, until the queues are
  // empty. Returns the jobs performed, in order. ResourceExhausted past max_jobs.
  absl::StatusOr<std::vector<PerformedJob>> Drain();
  // The same for one queue only.
  absl::StatusOr<std::vector<PerformedJob>> DrainQueue(std::string_view queue);

  // FailureStore::Retry: puts failure record `index` (0 = the oldest) back on its queue and
  // stamps its retried_at. In inline mode the job is performed before this returns.
  absl::Status RetryFailure(int64_t index);

  // Every job this harness performed, in order, across drains and inline enqueues.
  const std::vector<PerformedJob>& performed() const { return performed_; }

  // ---- What the worker left ----

  // The jobs waiting in `queue`, the next to be performed first.
  std::vector<EnqueuedJob> Jobs(std::string_view queue);
  // The jobs waiting in every queue (queues in name order), or only those of one class.
  std::vector<EnqueuedJob> AllJobs();
  std::vector<EnqueuedJob> JobsOf(std::string_view class_name);
  int64_t Size(std::string_view queue);
  // Removes every queue with its jobs (Sidekiq's clear_all). Statuses and failures stay.
  void ClearQueues();

  // The status of tracked job `id` (enqueued with {.track = true}); NotFound when untracked or
  // expired (a finished status lives 24 h: advance clock() to see it go).
  absl::StatusOr<JobStatus> Status(std::string_view id);
  // The failure records, oldest first.
  std::vector<Failure> Failures();
  // A stat counter: "processed", "failed", "processed:<worker id>"...; 0 when absent.
  int64_t Stat(std::string_view name);

  // The queries above report a backend error as a test failure (ADD_FAILURE) and return what
  // they have: the memory backend fails only on bad arguments.

  // ---- The parts ----

  ManualClock& clock() { return clock_; }
  Backend& backend() { return *backend_; }
  // The hooks given in the options; change them at will, the next enqueue or job runs them.
  Hooks& hooks() { return user_hooks_; }

 private:
  Worker& WorkerFor(const std::vector<std::string>& queues);
  // Performs the jobs of `first` (when given) and then of every queue an inline enqueue named.
  absl::StatusOr<std::vector<PerformedJob>> Run(const std::vector<std::string>* first);
  absl::Status DrainWith(const std::vector<std::string>& queues, int64_t* budget,
                         std::vector<PerformedJob>* done);
  void OnJobDone(const JobReport& report);
  int64_t Pending(const std::vector<std::string>& queues);
  void OnEnqueued(std::string_view queue);
  Hooks CombinedHooks();

  HarnessOptions options_;
  ManualClock clock_;
  std::unique_ptr<Backend> backend_;
  JobRegistry registry_;
  Hooks user_hooks_;
  Hooks combined_hooks_;
  Queue queue_;
  Mode mode_;
  std::optional<PerformedJob> last_;  // what the worker reported of the job it just performed
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // by their queue list

  bool running_ = false;            // a drain is under way: inline enqueues only queue up
  std::deque<std::string> inline_;  // queues that inline enqueues named, not yet drained
  bool in_enqueue_ = false;         // Enqueue() returns the inline error itself
  absl::Status inline_error_;
  std::vector<PerformedJob> performed_;
};

}  // namespace resque::testing_kit

#include "backends/testing/matchers.h"  // IWYU pragma: export

#endif  // RESQUE_BACKENDS_TESTING_TESTING_H_
