#include "backends/testing/testing.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backends/memory/memory_backend.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/scheduler.h"
#include "core/status_macros.h"
#include "gtest/gtest.h"

namespace resque::testing_kit {

namespace {

template <typename T>
T OrReport(absl::StatusOr<T> value, std::string_view what) {
  if (!value.ok()) {
    ADD_FAILURE() << "resque testing kit: " << what << ": " << value.status();
    return T{};
  }
  return *std::move(value);
}

void Describe(std::ostream* os, std::string_view queue, std::string_view class_name,
              std::string_view args, std::string_view id) {
  *os << (class_name.empty() ? "(undecodable payload)" : class_name) << args;
  if (!id.empty()) *os << " id " << id;
  *os << " on \"" << queue << "\"";
}

}  // namespace

namespace internal {

bool SameArgs(std::string_view actual_args, std::string_view expected, std::string* why) {
  absl::StatusOr<std::string> wanted = ArgsFromUserJson(expected);
  if (!wanted.ok()) {
    *why = absl::StrFormat("but the expected args are not usable: %s", wanted.status().message());
    return false;
  }
  absl::StatusOr<std::string> a = json::Canonicalize(actual_args);
  absl::StatusOr<std::string> b = json::Canonicalize(*wanted);
  if (a.ok() && b.ok() && *a == *b) return true;
  *why = absl::StrFormat("whose args are %s", actual_args);
  return false;
}

std::string FailedClass(const Failure& failure) {
  absl::StatusOr<Payload> payload = DecodePayload(failure.payload);
  return payload.ok() ? payload->class_name : "";
}

}  // namespace internal

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kComplete:
      return "complete";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kRetried:
      return "retried";
  }
  return "?";
}

void PrintTo(const EnqueuedJob& job, std::ostream* os) {
  Describe(os, job.queue, job.class_name, job.args, job.id);
  if (job.class_name.empty()) *os << ": " << job.payload;
}

void PrintTo(const PerformedJob& job, std::ostream* os) {
  Describe(os, job.queue, job.class_name, job.args, job.id);
  *os << ": " << OutcomeName(job.outcome);
  if (job.failure.has_value())
    *os << " (" << job.failure->exception << ": " << job.failure->error << ")";
  if (job.retry_at.has_value()) *os << ", due again at " << absl::FormatTime(*job.retry_at);
}

Harness::Harness(HarnessOptions options)
    : options_(std::move(options)),
      clock_(options_.start),
      backend_(memory::NewMemoryBackend({.clock = &clock_})),
      user_hooks_(std::move(options_.hooks)),
      combined_hooks_(CombinedHooks()),
      queue_(*backend_, &clock_, &combined_hooks_),
      mode_(options_.mode) {}

// The workers go first: each unregisters itself from the backend.
Harness::~Harness() { workers_.clear(); }

// The harness's own steps wrap the user's hooks, so that a user hook that fails cannot keep
// the harness from seeing a job enqueued, and so that hooks() can change at any time.
Hooks Harness::CombinedHooks() {
  Hooks h;
  h.before_enqueue.push_back(
      [this](const JobEvent& e) { return RunHooks(user_hooks_.before_enqueue, e); });
  h.after_enqueue.push_back([this](const JobEvent& e) {
    absl::Status s = RunHooks(user_hooks_.after_enqueue, e);
    OnEnqueued(e.queue);
    return s;
  });
  h.before_perform.push_back(
      [this](const JobEvent& e) { return RunHooks(user_hooks_.before_perform, e); });
  h.after_perform.push_back(
      [this](const JobEvent& e) { return RunHooks(user_hooks_.after_perform, e); });
  h.on_failure.push_back([this](const JobEvent& e, const absl::Status& error) {
    for (const Hooks::FailureHook& hook : user_hooks_.on_failure) hook(e, error);
  });
  return h;
}

absl::Status Harness::Register(std::string_view class_name, JobRegistry::Factory factory) {
  return registry_.Register(class_name, std::move(factory));
}

absl::StatusOr<std::string> Harness::Enqueue(std::string_view queue, std::string_view class_name,
                                             std::string_view args_json,
                                             const EnqueueOptions& options) {
  in_enqueue_ = true;
  inline_error_ = absl::OkStatus();
  absl::StatusOr<std::string> id = queue_.Enqueue(queue, class_name, args_json, options);
  in_enqueue_ = false;
  if (!inline_error_.ok()) return std::exchange(inline_error_, absl::OkStatus());
  return id;
}

absl::StatusOr<std::string> Harness::EnqueueAt(absl::Time at, std::string_view queue,
                                               std::string_view class_name,
                                               std::string_view args_json,
                                               const EnqueueOptions& options) {
  return queue_.EnqueueAt(at, queue, class_name, args_json, options);
}

absl::StatusOr<std::string> Harness::EnqueueIn(absl::Duration delay, std::string_view queue,
                                               std::string_view class_name,
                                               std::string_view args_json,
                                               const EnqueueOptions& options) {
  return queue_.EnqueueIn(delay, queue, class_name, args_json, options);
}

absl::StatusOr<int64_t> Harness::AdvanceClock(absl::Duration d) {
  clock_.Advance(d);
  Scheduler scheduler(*backend_, {.name = "testing-kit", .clock = &clock_});
  absl::StatusOr<SchedulerTurn> turn = scheduler.RunOnce();
  if (!turn.ok()) return turn.status();
  RESQUE_RETURN_IF_ERROR(backend_->ReleaseSchedulerLock(scheduler.name()));
  if (mode_ == Mode::kInline && turn->moved > 0) {
    absl::StatusOr<std::vector<PerformedJob>> done = Run(&options_.queues);
    if (!done.ok()) return done.status();
  }
  return turn->moved;
}

int64_t Harness::DelayedCount() { return backend_->DelayedCount().value_or(-1); }

void Harness::OnEnqueued(std::string_view queue) {
  if (mode_ != Mode::kInline) return;
  inline_.emplace_back(queue);
  if (running_) return;  // the drain under way performs it after the current job
  absl::StatusOr<std::vector<PerformedJob>> done = Run(nullptr);
  if (done.ok()) return;
  if (in_enqueue_) {
    inline_error_ = done.status();
  } else {
    ADD_FAILURE() << "resque testing kit: performing inline: " << done.status();
  }
}

absl::StatusOr<std::vector<PerformedJob>> Harness::Drain() { return Run(&options_.queues); }

absl::StatusOr<std::vector<PerformedJob>> Harness::DrainQueue(std::string_view queue) {
  if (queue.empty()) return absl::InvalidArgumentError("queue name is empty");
  const std::vector<std::string> queues = {std::string(queue)};
  return Run(&queues);
}

absl::Status Harness::RetryFailure(int64_t index) {
  FailureStore failures(*backend_, &clock_);
  absl::StatusOr<std::vector<Failure>> record = failures.List(index, 1);
  if (!record.ok()) return record.status();
  RESQUE_RETURN_IF_ERROR(failures.Retry(index));
  // The retry pushes to the backend directly, which runs no hooks: queue it for inline here.
  if (mode_ == Mode::kInline && !record->empty()) {
    inline_.push_back(record->front().queue);
    if (!running_) return Run(nullptr).status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PerformedJob>> Harness::Run(const std::vector<std::string>* first) {
  if (running_) {
    return absl::FailedPreconditionError(
        "a drain is under way: jobs cannot drain the harness that performs them");
  }
  running_ = true;
  // Merged at each run, not at construction, so that classes registered on the harness first
  // win over global ones of the same name.
  if (options_.global_jobs) registry_.Merge(JobRegistry::Global());
  std::vector<PerformedJob> done;
  int64_t budget = options_.max_jobs;
  absl::Status s;
  if (first != nullptr) s = DrainWith(*first, &budget, &done);
  while (s.ok() && !inline_.empty()) {
    const std::vector<std::string> queues = {inline_.front()};
    inline_.pop_front();
    s = DrainWith(queues, &budget, &done);
  }
  inline_.clear();
  running_ = false;
  if (!s.ok()) return s;
  return done;
}

absl::Status Harness::DrainWith(const std::vector<std::string>& queues, int64_t* budget,
                                std::vector<PerformedJob>* done) {
  Worker& worker = WorkerFor(queues);
  for (;;) {
    if (*budget <= 0) {
      const int64_t left = Pending(queues);
      if (left == 0) return absl::OkStatus();
      return absl::ResourceExhaustedError(absl::StrFormat(
          "performed %d jobs and %d more wait in %s: does a job enqueue jobs endlessly? (raise "
          "HarnessOptions::max_jobs if not; performed() lists what ran)",
          options_.max_jobs, left, absl::StrJoin(queues, ",")));
    }
    last_.reset();
    absl::StatusOr<bool> worked = worker.WorkOne(absl::ZeroDuration());
    if (!worked.ok()) return worked.status();
    if (!*worked) return absl::OkStatus();
    --*budget;
    if (!last_.has_value()) {
      return absl::InternalError("the worker performed a job but did not report its outcome");
    }
    done->push_back(*last_);
    performed_.push_back(*std::move(last_));
  }
}

// The worker says how the job ended and what it wrote: the failure record, as production writes
// it, is what the test sees.
void Harness::OnJobDone(const JobReport& report) {
  PerformedJob job;
  job.queue = report.job.queue;
  if (report.payload != nullptr) {
    job.class_name = report.payload->class_name;
    job.args = report.payload->args;
    job.id = report.payload->id;
  }
  switch (report.outcome.kind) {
    case JobOutcome::kComplete:
      job.outcome = Outcome::kComplete;
      break;
    case JobOutcome::kSkipped:
      job.outcome = Outcome::kSkipped;
      break;
    case JobOutcome::kFailed:
      if (report.finish.retry.has_value()) {
        job.outcome = Outcome::kRetried;
        job.failure.emplace();
        job.failure->exception = report.outcome.exception;
        job.failure->error = report.outcome.error;
        job.retry_at = absl::FromUnixSeconds(report.finish.retry->at);
        break;
      }
      job.outcome = Outcome::kFailed;
      job.failure = OrReport(DecodeFailure(report.finish.failure_json), "reading a failure");
      break;
  }
  last_ = std::move(job);
}

Worker& Harness::WorkerFor(const std::vector<std::string>& queues) {
  std::unique_ptr<Worker>& worker = workers_[absl::StrJoin(queues, ",")];
  if (worker == nullptr) {
    WorkerOptions options;
    options.queues = queues;
    options.interval = absl::ZeroDuration();
    options.clock = &clock_;
    options.hooks = &combined_hooks_;
    options.hostname = options_.hostname;
    options.log = options_.log;
    options.on_job_done = [this](const JobReport& report) { OnJobDone(report); };
    worker = std::make_unique<Worker>(*backend_, registry_, std::move(options));
  }
  return *worker;
}

int64_t Harness::Pending(const std::vector<std::string>& queues) {
  std::vector<std::string> names = queues;
  if (std::find(queues.begin(), queues.end(), "*") != queues.end()) {
    names = OrReport(backend_->Queues(), "listing queues");
  }
  int64_t total = 0;
  for (const std::string& q : names) total += Size(q);
  return total;
}

std::vector<EnqueuedJob> Harness::Jobs(std::string_view queue) {
  const int64_t size = Size(queue);
  std::vector<std::string> payloads =
      size == 0
          ? std::vector<std::string>()
          : OrReport(backend_->Peek(queue, 0, size), absl::StrFormat("reading \"%s\"", queue));
  std::vector<EnqueuedJob> jobs;
  jobs.reserve(payloads.size());
  for (std::string& raw : payloads) {
    EnqueuedJob job;
    job.queue = std::string(queue);
    if (absl::StatusOr<Payload> p = DecodePayload(raw); p.ok()) {
      job.class_name = std::move(p->class_name);
      job.args = std::move(p->args);
      job.id = std::move(p->id);
    }
    job.payload = std::move(raw);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<EnqueuedJob> Harness::AllJobs() {
  std::vector<EnqueuedJob> all;
  for (const std::string& q : OrReport(backend_->Queues(), "listing queues")) {
    std::vector<EnqueuedJob> jobs = Jobs(q);
    std::move(jobs.begin(), jobs.end(), std::back_inserter(all));
  }
  return all;
}

std::vector<EnqueuedJob> Harness::JobsOf(std::string_view class_name) {
  std::vector<EnqueuedJob> all = AllJobs();
  std::erase_if(all, [&](const EnqueuedJob& job) { return job.class_name != class_name; });
  return all;
}

int64_t Harness::Size(std::string_view queue) {
  return OrReport(backend_->Size(queue), absl::StrFormat("the size of \"%s\"", queue));
}

void Harness::ClearQueues() {
  for (const std::string& q : OrReport(backend_->Queues(), "listing queues")) {
    if (absl::Status s = backend_->RemoveQueue(q); !s.ok()) {
      ADD_FAILURE() << "resque testing kit: removing \"" << q << "\": " << s;
    }
  }
}

absl::StatusOr<JobStatus> Harness::Status(std::string_view id) {
  return StatusTracker(*backend_, &clock_).Get(id);
}

std::vector<Failure> Harness::Failures() {
  FailureStore failures(*backend_, &clock_);
  const int64_t count = OrReport(failures.Count(), "counting failures");
  if (count == 0) return {};
  return OrReport(failures.List(0, count), "reading failures");
}

int64_t Harness::Stat(std::string_view name) {
  return OrReport(backend_->GetStat(name), absl::StrFormat("stat \"%s\"", name));
}

}  // namespace resque::testing_kit
