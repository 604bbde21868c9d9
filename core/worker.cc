#include "core/worker.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/backoff.h"
#include "core/failure.h"
#include "core/fork_runner.h"
#include "core/job_cancel.h"
#include "core/job_runner.h"
#include "core/liveness.h"
#include "core/process_title.h"
#include "core/recorder.h"
#include "core/reserver.h"
#include "core/run_state.h"
#include "core/status_macros.h"
#include "core/tickets.h"
#include "core/worker_id.h"

namespace resque {

struct Worker::Slot {
  Slot(std::string slot_id, Backend& backend, ReserverOptions options, Tickets& tickets,
       RunState& state, std::atomic<bool>& reliable)
      : id(slot_id),
        session(backend.OpenSession()),
        reserver(*session, std::move(slot_id), std::move(options), tickets, state, reliable) {}
  const std::string id;
  JobCancel cancel;  // the running job's
  // The slot's own way to the backend, which its reserves, starts and records take in turn: a
  // start that a backend applies after returning (Redis does not await its reply) is then
  // always before the same slot's next call.
  const std::unique_ptr<Backend> session;
  Reserver reserver;  // only the slot's thread touches it
  // Run's slots fold each next reserve into the record of the job before (WorkOne does not: it
  // performs one job and holds none after).
  bool fold = false;
  // What the last record's folded reserve took: performed next, or handed back when the slot
  // pauses or stops first.
  std::optional<Reservation> next;
};

namespace {

// The longest a blocking reserve waits, so that a stop is seen in time.
constexpr absl::Duration kMaxReserveWait = absl::Seconds(1);
// The longest sleep between two reads of the fleet-wide pause flag while it is set.
constexpr absl::Duration kMaxPausePoll = absl::Seconds(5);
// Past this, each job of a batch updates the slot's working-on record as it starts, so that a
// batch that turns out slow shows what it is doing.
constexpr absl::Duration kBatchQuiet = absl::Milliseconds(1);
// A slot whose reserve fails waits this long before the next, doubling up to kMaxBackoff.
constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// Once stopping, no wait on the backend's server lasts longer than this (Backend::CapWaits),
// and unregistering goes on until kStopBudget after the stop (at least one capped try): a
// stop with the server gone or hanging takes about a second, and never more than two.
constexpr absl::Duration kStopWaitCap = absl::Milliseconds(500);
constexpr absl::Duration kStopBudget = absl::Seconds(1);

// "<class> <id>" of a job, for the log.
std::string JobName(const Payload* payload) {
  return payload != nullptr ? absl::StrFormat("%s %s", payload->class_name, payload->id)
                            : "a payload that does not decode";
}

// "<class> (<id>)" of a job, or "<class>" for one without an id (Ruby's).
std::string JobTitle(const Payload* payload) {
  if (payload == nullptr) return "a payload that does not decode";
  if (payload->id.empty()) return payload->class_name;
  return absl::StrFormat("%s (%s)", payload->class_name, payload->id);
}

// The fields of a line about one job.
LogFields JobFields(std::string_view worker, const ReservedJob& job, const Payload* payload) {
  return {.worker = worker,
          .class_name = payload != nullptr ? std::string_view(payload->class_name) : "",
          .id = payload != nullptr ? std::string_view(payload->id) : "",
          .queue = job.queue};
}

// An error without absl's code in front ("UNKNOWN: "), which a job's Status brings in its
// record's text (docs/wire-format.md) but says nothing to whoever reads the log.
std::string_view WithoutStatusCode(std::string_view error) {
  for (int c = 1; c <= static_cast<int>(absl::StatusCode::kUnauthenticated); ++c) {
    const std::string prefix = absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) + ": ";
    if (error.substr(0, prefix.size()) == prefix) return error.substr(prefix.size());
  }
  return error;
}

double Milliseconds(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

const char* OutcomeName(const JobOutcome& outcome) {
  switch (outcome.kind) {
    case JobOutcome::kComplete:
      return "complete";
    case JobOutcome::kSkipped:
      return "skipped";
    case JobOutcome::kFailed:
      break;
  }
  return "failed";
}

WorkerOptions Normalized(WorkerOptions options) {
  if (options.clock == nullptr) options.clock = RealClock();
  if (options.timer == nullptr) options.timer = RealClock();
  if (!options.log) options.log = [](LogLevel, std::string_view) {};
  // Polling without a pause would hammer the backend: zero means what INTERVAL=0 means to peers.
  if (!options.blocking && options.interval == absl::ZeroDuration()) options.burst = true;
  if (options.hostname.empty()) {
    char buf[256] = {};
    options.hostname = gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "localhost";
  }
  return options;
}

// Where a class's retry policy comes from: the worker's option for it, its registration's, the
// worker's "*". Empty when the backend cannot retry.
std::function<std::optional<RetryPolicy>(std::string_view)> RetryPolicies(
    const Backend& backend, const JobRegistry& registry,
    const absl::flat_hash_map<std::string, RetryPolicy>& by_class) {
  if (!backend.SupportsRetry()) return nullptr;
  return [&registry, &by_class](std::string_view class_name) -> std::optional<RetryPolicy> {
    if (auto it = by_class.find(std::string(class_name)); it != by_class.end()) return it->second;
    if (std::optional<RetryPolicy> own = registry.RetryPolicyOf(class_name)) return own;
    if (auto it = by_class.find("*"); it != by_class.end()) return it->second;
    return std::nullopt;
  };
}

}  // namespace

Worker::Worker(Backend& backend, const JobRegistry& registry, WorkerOptions options)
    : backend_(backend),
      options_(Normalized(std::move(options))),
      queue_api_(backend, options_.clock, options_.hooks),
      reliable_(options_.reliable),
      state_(std::make_unique<RunState>(*options_.timer)),
      tickets_(std::make_unique<Tickets>(options_.max_jobs)),
      recorder_(std::make_unique<Recorder>(
          *state_,
          RecorderOptions{.clock = options_.clock,
                          .log = options_.log,
                          .on_job_done = options_.on_job_done,
                          .retry_policy = RetryPolicies(backend, registry, options_.retry)})),
      forks_(options_.fork ? std::make_unique<ForkRunner>(options_.job_timeout, *options_.timer)
                           : nullptr),
      runner_(std::make_unique<JobRunner>(registry,
                                          JobRunnerOptions{.hooks = options_.hooks,
                                                           .job_timeout = options_.job_timeout,
                                                           .timer = options_.timer,
                                                           .fork = forks_.get(),
                                                           .queue_api = &queue_api_,
                                                           .log = options_.log})) {
  const int n = std::max(options_.concurrency, 1);
  const std::string queues = absl::StrJoin(options_.queues, ",");
  star_ = std::make_unique<StarCache>();
  std::vector<JobCancel*> cancels;
  for (int i = 0; i < n; ++i) {
    std::string id = FormatWorkerId({.host = options_.hostname,
                                     .pid = getpid(),
                                     .slot = n == 1 ? std::nullopt : std::optional<int>(i),
                                     .queues = queues});
    worker_ids_.push_back(id);
    slots_.push_back(std::make_unique<Slot>(std::move(id), backend,
                                            ReserverOptions{.queues = options_.queues,
                                                            .max_batch = options_.batch,
                                                            .clock = options_.clock,
                                                            .timer = options_.timer,
                                                            .log = options_.log,
                                                            .star = star_.get()},
                                            *tickets_, *state_, reliable_));
    cancels.push_back(&slots_.back()->cancel);
  }
  liveness_ =
      std::make_unique<Liveness>(backend, worker_ids_,
                                 LivenessOptions{.hostname = options_.hostname,
                                                 .heartbeat_interval = options_.heartbeat_interval,
                                                 .dead_after = options_.dead_after,
                                                 .peer_dead_after = options_.peer_dead_after,
                                                 .max_recoveries = options_.max_recoveries,
                                                 .clock = options_.clock,
                                                 .timer = options_.timer,
                                                 .log = options_.log},
                                 reliable_);
  watchdog_ = std::make_unique<Watchdog>(*options_.timer, options_.job_timeout, std::move(cancels));
}

Worker::~Worker() {
  StopSummary();
  EndShutdownWait();
  StopWatchdog();
  if (slot0_registered_) liveness_->ReleaseSlot(slots_[0]->id);
}

WorkerCounts Worker::counts() const { return {recorder_->processed(), recorder_->failed()}; }

int Worker::paused_slots() const { return state_->paused_slots(); }

absl::Status Worker::CheckOptions() const {
  if (options_.queues.empty()) return absl::InvalidArgumentError("no queues to work on");
  for (const std::string& q : options_.queues) {
    if (q.empty()) return absl::InvalidArgumentError("a queue name is empty");
  }
  if (options_.concurrency < 1) return absl::InvalidArgumentError("concurrency must be >= 1");
  if (options_.interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("interval must not be negative");
  }
  if (options_.job_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("job timeout must not be negative");
  }
  if (options_.max_jobs < 0) return absl::InvalidArgumentError("max jobs must not be negative");
  if (options_.batch < 1 || options_.batch > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrFormat("batch must be within 1..%d, not %d", kMaxBatch, options_.batch));
  }
  RESQUE_RETURN_IF_ERROR(CheckLivenessOptions({.heartbeat_interval = options_.heartbeat_interval,
                                               .dead_after = options_.dead_after,
                                               .peer_dead_after = options_.peer_dead_after}));
  if (options_.batch > 1 && !options_.reliable) {
    // Without in-flight lists a batch's unstarted jobs could not go back: a crash would lose them.
    return absl::InvalidArgumentError("batches need reliable reserve");
  }
  for (const auto& [class_name, policy] : options_.retry) {
    if (class_name.empty()) return absl::InvalidArgumentError("retry: an empty job class name");
    if (policy.retries < 0 || policy.retries > kMaxRetries) {
      return absl::InvalidArgumentError(
          absl::StrFormat("retry: job class \"%s\": retries must be 0 to %d, not %d", class_name,
                          kMaxRetries, policy.retries));
    }
  }
  if (options_.shutdown_timeout.has_value()) {
    if (*options_.shutdown_timeout < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("shutdown timeout must not be negative");
    }
    // Without in-flight lists a stopped job could only be pushed again, and a worker killed
    // between its stop and the push would lose it: what the option promises, no loss, fails.
    if (!options_.reliable) {
      return absl::InvalidArgumentError("a shutdown timeout needs reliable reserve");
    }
  }
  return absl::OkStatus();
}

absl::Status Worker::Run() {
  RESQUE_RETURN_IF_ERROR(CheckOptions());
  BeginStart();
  liveness_->PruneDeadWorkers();
  for (const auto& slot : slots_) {
    absl::Status s = liveness_->RegisterSlot(slot->id);
    if (!s.ok()) {
      for (const auto& done : slots_) (void)backend_.UnregisterWorker(done->id);
      const bool stopped = state_->stopping();
      EndStart();
      backend_.CapWaits(absl::InfiniteDuration());
      // Cut short by a stop: nothing was worked, and nothing is left registered to recover.
      if (stopped) return absl::OkStatus();
      return s;
    }
    Log(LogLevel::kInfo, absl::StrFormat("worker %s started", slot->id));
  }
  EndStart();
  liveness_->Start();
  StartWatchdog();
  StartSummary();
  std::vector<std::thread> threads;
  threads.reserve(slots_.size());
  for (const auto& slot : slots_) {
    threads.emplace_back([this, &slot] {
      SlotLoop(*slot);
      state_->SlotEnded();
    });
  }
  // A stop, or the slots' own end (burst): from then on nothing waits long on a server that is
  // gone or hangs, neither the slots' last calls nor a heartbeat round nor unregistering.
  (void)state_->AwaitStopOrSlotsEnded(static_cast<int>(slots_.size()));
  backend_.CapWaits(kStopWaitCap);
  for (std::thread& t : threads) t.join();
  StopSummary();
  EndShutdownWait();
  StopWatchdog();
  liveness_->Stop();
  const absl::Time now = options_.timer->MonotonicNow();
  const absl::Time stopped = std::min(state_->stopped_at(), now);
  const absl::Status released =
      liveness_->ReleaseSlots(worker_ids_, std::max(stopped + kStopBudget, now + kStopWaitCap));
  for (const auto& slot : slots_) {
    Log(LogLevel::kInfo, absl::StrFormat("worker %s stopped", slot->id));
  }
  backend_.CapWaits(absl::InfiniteDuration());
  return RunOutcome(released);
}

absl::Status Worker::RunOutcome(const absl::Status& released) const {
  std::vector<std::string> problems;
  absl::StatusCode code = absl::StatusCode::kOk;
  const auto add = [&](absl::StatusCode c, std::string what) {
    if (code == absl::StatusCode::kOk) code = c;
    problems.push_back(std::move(what));
  };
  if (const int64_t n = recorder_->unrecorded(); n > 0) {
    add(absl::StatusCode::kDataLoss,
        absl::StrFormat("%d job(s) were performed but their end could not be recorded (%s); %s", n,
                        recorder_->first_unrecorded_error().message(),
                        !reliable_.load() ? "nothing kept them (--unreliable)"
                        : released.ok()   ? "they are back on their queues"
                                          : "they stay in flight until a worker recovers them"));
  }
  if (options_.burst) {
    // Each queue once, as the first slot that skipped it saw it.
    std::vector<std::pair<std::string, std::string>> unusable;
    for (const auto& slot : slots_) {
      for (auto& q : slot->reserver.UnusableQueues()) {
        const bool seen = std::any_of(unusable.begin(), unusable.end(),
                                      [&](const auto& u) { return u.first == q.first; });
        if (!seen) unusable.push_back(std::move(q));
      }
    }
    if (!unusable.empty()) {
      std::vector<std::string> named;
      for (const auto& [queue, error] : unusable) {
        named.push_back(absl::StrFormat("queue \"%s\" (%s)", queue, error));
      }
      const bool none = unusable.size() == slots_[0]->reserver.queue_count();
      add(absl::StatusCode::kFailedPrecondition,
          absl::StrFormat("burst: %s: %s",
                          none ? "no queue it listens to is usable"
                               : "the other queues are done, but it skipped",
                          absl::StrJoin(named, ", ")));
    }
  }
  if (!released.ok()) add(released.code(), std::string(released.message()));
  if (problems.empty()) return absl::OkStatus();
  return absl::Status(code, absl::StrJoin(problems, "; "));
}

int64_t Worker::BeatAndRecover() { return liveness_->BeatAndRecover(); }

void Worker::SlotLoop(Slot& slot) {
  Backoff backoff(kMinBackoff, kMaxBackoff, [this](absl::Duration d) { return state_->Sleep(d); });
  bool parked = false;
  const auto on_park = [&] {
    Log(LogLevel::kInfo, absl::StrFormat("worker %s: paused, taking no new jobs", slot.id));
    parked = true;
    MarkPaused(slot, true);
  };
  slot.fold = true;
  while (!state_->stopping()) {
    const bool runnable = state_->AwaitRunnable([&] {
      if (slot.next.has_value()) HandBackNext(slot);
      on_park();
    });
    // Unregistering clears the mark of a slot that stops while paused.
    if (parked && runnable) {
      Log(LogLevel::kInfo, absl::StrFormat("worker %s: resumed, taking jobs again", slot.id));
      MarkPaused(slot, false);
    }
    parked = false;
    if (!runnable) break;
    // The folded reserve took its ticket.
    if (!slot.next.has_value() && !tickets_->Take(/*wait=*/true)) break;
    absl::StatusOr<bool> worked = WorkOnce(slot, ReserveWait(), /*allow_batch=*/true);
    if (!worked.ok()) {
      // A reserve cut short by the stop (Backend::CapWaits) is no news.
      if (state_->stopping()) break;
      Log(LogLevel::kError, absl::StrFormat("worker %s: %s", slot.id, worked.status().message()));
      if (!backoff.Wait()) break;
      continue;
    }
    backoff.Reset();
    if (*worked) continue;
    if (slot.reserver.paused()) {
      if (!WaitOutFleetPause(slot)) break;
      continue;
    }
    if (options_.burst) break;
    if (!options_.blocking && !state_->Sleep(options_.interval)) break;
  }
  if (slot.next.has_value()) HandBackNext(slot);
}

void Worker::HandBackNext(Slot& slot) {
  const Reservation r = *std::move(slot.next);
  slot.next.reset();
  std::vector<absl::StatusOr<Payload>> payloads;
  payloads.reserve(r.jobs.size());
  for (const ReservedJob& job : r.jobs) payloads.push_back(DecodePayload(job.payload));
  // Nothing was recorded of it: it waits again, first in line, as if never taken.
  (void)slot.reserver.HandBack(r.jobs, payloads, "job(s) taken as the slot paused or stopped");
}

void Worker::MarkPaused(Slot& slot, bool paused) {
  const absl::Status s = slot.session->SetWorkerPaused(slot.id, paused);
  if (!s.ok() && !absl::IsUnimplemented(s)) {
    Log(LogLevel::kWarning, absl::StrFormat("worker %s: marking it %s for dashboards: %s", slot.id,
                                            paused ? "paused" : "no longer paused", s.message()));
  }
}

bool Worker::WaitOutFleetPause(Slot& slot) {
  if (state_->NoteFleetPaused(true)) {
    Log(LogLevel::kInfo, "all workers paused (pause-all-workers is set): taking no new jobs");
    SetProcessTitle("Paused");  // as Ruby's procline says; a no-op unless main() set it up
  }
  // Within one poll (or one blocking wait) of its clearing, and one read of the flag per poll.
  const absl::Duration poll = options_.interval > absl::ZeroDuration()
                                  ? std::min(options_.interval, kMaxPausePoll)
                                  : kMaxReserveWait;
  for (;;) {
    // A burst waits for the pause to end only while there is something to do after it.
    if (options_.burst) {
      absl::StatusOr<bool> queued = slot.reserver.AnyQueued();
      if (queued.ok() && !*queued) return false;
    }
    if (!state_->Sleep(poll)) return false;
    absl::StatusOr<bool> still = slot.reserver.FleetPaused();
    if (!still.ok()) {
      Log(LogLevel::kError, absl::StrFormat("worker %s: reading pause-all-workers: %s", slot.id,
                                            still.status().message()));
      continue;
    }
    if (!*still) break;
  }
  if (state_->NoteFleetPaused(false)) {
    Log(LogLevel::kInfo, "pause-all-workers cleared: taking jobs again");
    SetProcessTitle("Waiting for " + absl::StrJoin(options_.queues, ","));
  }
  return true;
}

absl::Duration Worker::ReserveWait() const {
  // Burst asks whether the queues are empty now, not whether a job comes within the wait.
  if (!options_.blocking || options_.burst) return absl::ZeroDuration();
  // A zero interval would make a blocking worker spin; it means "block" as BLPOP's 0 does.
  if (options_.interval <= absl::ZeroDuration()) return kMaxReserveWait;
  return std::min(options_.interval, kMaxReserveWait);
}

absl::StatusOr<bool> Worker::WorkOne(absl::Duration wait) {
  if (!slot0_registered_) {
    RESQUE_RETURN_IF_ERROR(liveness_->RegisterSlot(slots_[0]->id));
    slot0_registered_ = true;
  }
  StartWatchdog();
  if (!tickets_->Take(/*wait=*/false)) return absl::ResourceExhaustedError("max jobs reached");
  return WorkOnce(*slots_[0], wait, /*allow_batch=*/false);
}

absl::StatusOr<bool> Worker::WorkOnce(Slot& slot, absl::Duration wait, bool allow_batch) {
  const bool listed_before = slot.reserver.listed_before();
  absl::StatusOr<bool> worked = WorkOnceWith(slot, wait, allow_batch);
  // Nothing on a list of "*" made earlier: a queue may have appeared since (a job that ran may
  // have pushed to it). Look once more, on a fresh list, before saying there is nothing.
  if (worked.ok() && !*worked && listed_before && tickets_->Take(/*wait=*/false)) {
    return WorkOnceWith(slot, absl::ZeroDuration(), allow_batch);
  }
  return worked;
}

absl::StatusOr<bool> Worker::WorkOnceWith(Slot& slot, absl::Duration wait, bool allow_batch) {
  Reservation r;
  if (slot.next.has_value()) {
    r = *std::move(slot.next);
    slot.next.reset();
  } else {
    RESQUE_ASSIGN_OR_RETURN(r, slot.reserver.Reserve(wait, allow_batch));
  }
  if (r.no_queues || r.no_usable) {
    // "*" with no queue yet, or none usable: nothing to reserve from, so wait as the reserve
    // would have.
    if (wait > absl::ZeroDuration()) state_->Sleep(wait);
    return false;
  }
  if (r.jobs.empty()) return false;
  busy_.fetch_add(1);
  if (r.batch) {
    ProcessBatch(slot, r.jobs);
  } else {
    Process(slot, r.jobs.front(), r.started);
  }
  busy_.fetch_sub(1);
  return true;
}

void Worker::Process(Slot& slot, const ReservedJob& job, bool started) {
  const absl::Time start = options_.timer->MonotonicNow();
  const absl::StatusOr<Payload> payload = DecodePayload(job.payload);
  const std::optional<JobOutcome> outcome = RunOne(slot, job, payload, /*announce=*/!started);
  if (!outcome.has_value()) {
    HandBack(slot, absl::MakeConstSpan(&job, 1), absl::MakeConstSpan(&payload, 1));
    return;
  }
  const std::vector<absl::Duration> took = {options_.timer->MonotonicNow() - start};
  std::vector<FinishedJob> done;
  done.push_back(recorder_->Finished(slot.id, job, payload.ok() ? &*payload : nullptr, *outcome,
                                     slot.reserver.in_flight()));
  // Before the record: whether batches start decides whether the next reserve is folded in.
  slot.reserver.OneJobTook(took[0]);
  Record(slot, done, took, slot.fold);
}

std::optional<JobOutcome> Worker::RunOne(Slot& slot, const ReservedJob& job,
                                         const absl::StatusOr<Payload>& payload, bool announce) {
  slot.cancel.Reset();
  if (!payload.ok()) {
    return JobOutcome{JobOutcome::kFailed, "resque::InvalidPayload",
                      absl::StrFormat("queue \"%s\": %s", job.queue, payload.status().message())};
  }
  // Checked after the reset above: a stop that came before it is seen here, one that comes after
  // it cancels the job. A job out of the in-flight list (a backend without one) cannot go back,
  // and is failed as without a shutdown timeout.
  const bool can_go_back = slot.reserver.in_flight();
  if (handing_back_.load() && can_go_back) return std::nullopt;  // taken as the TERM came
  if (state_->immediate()) {
    return JobOutcome{JobOutcome::kFailed, "resque::JobKilled",
                      "the worker was stopping at once when it took the job: not performed"};
  }
  if (announce) recorder_->Start(*slot.session, slot.id, job, *payload, {});
  Log(LogLevel::kInfo, absl::StrFormat("start %s from %s", JobTitle(&*payload), job.queue),
      JobFields(slot.id, job, &*payload));
  std::optional<JobOutcome> outcome = runner_->Perform(slot.id, job, *payload, slot.cancel);
  if (outcome.has_value() || can_go_back) return outcome;
  return runner_->CancelledOutcome(CancelReason::kStopped, options_.fork);
}

void Worker::ProcessBatch(Slot& slot, const std::vector<ReservedJob>& jobs) {
  const absl::Time start = options_.timer->MonotonicNow();
  std::vector<absl::StatusOr<Payload>> payloads;
  payloads.reserve(jobs.size());
  for (const ReservedJob& job : jobs) payloads.push_back(DecodePayload(job.payload));
  // One announcement for the batch: the slot works on the first job, every tracked one runs.
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!payloads[i].ok()) continue;
    std::vector<std::string> others;
    for (size_t j = i + 1; j < jobs.size(); ++j) {
      if (payloads[j].ok() && !payloads[j]->id.empty()) others.push_back(payloads[j]->id);
    }
    recorder_->Start(*slot.session, slot.id, jobs[i], *payloads[i], std::move(others));
    break;
  }
  std::vector<FinishedJob> done;
  std::vector<absl::Duration> took;
  done.reserve(jobs.size());
  size_t next = 0;
  absl::Time job_start = start;
  for (; next < jobs.size(); ++next) {
    if (next > 0) {
      job_start = options_.timer->MonotonicNow();
      const absl::Duration elapsed = job_start - start;
      if (elapsed > Reserver::kBatchBudget || state_->stopping() || state_->paused()) break;
      if (elapsed > kBatchQuiet && payloads[next].ok()) {
        recorder_->Start(*slot.session, slot.id, jobs[next], *payloads[next], {});
      }
    }
    const std::optional<JobOutcome> outcome =
        RunOne(slot, jobs[next], payloads[next], /*announce=*/false);
    if (!outcome.has_value()) break;  // stopped for the shutdown: it goes back with the rest
    took.push_back(options_.timer->MonotonicNow() - job_start);
    done.push_back(recorder_->Finished(slot.id, jobs[next],
                                       payloads[next].ok() ? &*payloads[next] : nullptr, *outcome,
                                       slot.reserver.in_flight()));
  }
  if (next < jobs.size()) {
    HandBack(slot, absl::MakeConstSpan(jobs).subspan(next),
             absl::MakeConstSpan(payloads).subspan(next));
  }
  Record(slot, done, took);
  slot.reserver.BatchTook(options_.timer->MonotonicNow() - start);
}

void Worker::Record(Slot& slot, std::vector<FinishedJob>& done,
                    absl::Span<const absl::Duration> took, bool fold) {
  ReserveRequest next;
  bool recorded = false;
  // The next job comes in the same step, unless the slot is about to take none.
  if (fold && !state_->stopping() && !state_->paused() && !handing_back_.load() &&
      slot.reserver.PrepareFolded(next)) {
    // The next job's start goes in the same step too (one round trip per job), unless a batch
    // follows, which announces itself.
    FoldedStart start = recorder_->StartToFold(slot.id);
    next.start = &start;
    absl::StatusOr<ReservedJobs> reserved(absl::in_place);
    recorded = recorder_->Record(*slot.session, slot.id, done, next, reserved);
    Reservation r = slot.reserver.FoldedResult(std::move(reserved));
    r.started = start.started;
    if (!r.jobs.empty()) slot.next = std::move(r);
  } else {
    recorded = recorder_->Record(*slot.session, slot.id, done);
  }
  // What could not be recorded, the recorder said.
  if (recorded) {
    for (size_t i = 0; i < done.size(); ++i) LogEnd(slot, done[i], took[i]);
  }
  if (handing_back_.load()) {
    for (const FinishedJob& d : done) {
      Log(LogLevel::kInfo,
          absl::StrFormat("worker %s: shutdown: %s from %s finished in time (%s)%s", slot.id,
                          JobName(d.payload), d.job->queue, OutcomeName(d.outcome),
                          recorded ? "" : ", but its record was not written"));
    }
  }
  for (size_t i = 0; i < done.size(); ++i) {
    if (!tickets_->Done()) continue;
    Log(LogLevel::kInfo, absl::StrFormat("%d jobs done: stopping", options_.max_jobs));
    RequestStop(StopMode::kGraceful);
  }
}

void Worker::LogEnd(const Slot& slot, const FinishedJob& d, absl::Duration took) const {
  LogFields fields = JobFields(slot.id, *d.job, d.payload);
  fields.duration_ms = Milliseconds(took);
  const std::string job = absl::StrFormat("%s from %s", JobTitle(d.payload), d.job->queue);
  const JobOutcome& o = d.outcome;
  switch (o.kind) {
    case JobOutcome::kComplete:
      Log(LogLevel::kInfo, absl::StrFormat("done %s in %.1f ms", job, *fields.duration_ms), fields);
      return;
    case JobOutcome::kSkipped:
      Log(LogLevel::kInfo,
          absl::StrFormat("skipped %s in %.1f ms%s%s", job, *fields.duration_ms,
                          o.error.empty() ? "" : ": ", o.error),
          fields);
      return;
    case JobOutcome::kFailed:
      break;
  }
  if (o.exception == "resque::UnknownJobClass") {
    Log(LogLevel::kWarning,
        absl::StrFormat("unknown job class %s from %s: no job of this worker has that name; "
                        "recorded as failed (resque::UnknownJobClass)",
                        JobTitle(d.payload), d.job->queue),
        fields);
    return;
  }
  if (d.finish.retry.has_value()) {
    Log(LogLevel::kWarning,
        absl::StrFormat("failed %s in %.1f ms: %s: %s; retry %d at %s", job, *fields.duration_ms,
                        o.exception, WithoutStatusCode(o.error),
                        d.payload != nullptr ? RetryCountOf(*d.payload) + 1 : 1,
                        FormatIsoTime(absl::FromUnixSeconds(d.finish.retry->at))),
        fields);
    return;
  }
  Log(LogLevel::kWarning,
      absl::StrFormat("failed %s in %.1f ms: %s: %s", job, *fields.duration_ms, o.exception,
                      WithoutStatusCode(o.error)),
      fields);
}

void Worker::HandBack(Slot& slot, absl::Span<const ReservedJob> jobs,
                      absl::Span<const absl::StatusOr<Payload>> payloads) {
  const bool shutdown = handing_back_.load();
  const absl::StatusOr<int64_t> back = slot.reserver.HandBack(
      jobs, payloads,
      shutdown ? "job(s) stopped or not started at shutdown" : "unstarted job(s) of a slow batch");
  if (!shutdown) return;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string name = JobName(payloads[i].ok() ? &*payloads[i] : nullptr);
    if (back.ok()) {
      Log(LogLevel::kInfo,
          absl::StrFormat("worker %s: shutdown: %s handed back to the head of queue %s", slot.id,
                          name, jobs[i].queue));
    } else {
      Log(LogLevel::kError,
          absl::StrFormat("worker %s: shutdown: %s from %s could not be handed back (%s): it "
                          "stays in flight, for the slot's unregistering or a recovery",
                          slot.id, name, jobs[i].queue, back.status().message()));
    }
  }
}

void Worker::BeginStart() {
  std::lock_guard lock(start_mu_);
  starting_ = true;
  if (state_->stopping()) backend_.CapWaits(kStopWaitCap);
}

void Worker::CapStartWaits() {
  std::lock_guard lock(start_mu_);
  if (starting_) backend_.CapWaits(kStopWaitCap);
}

void Worker::EndStart() {
  std::lock_guard lock(start_mu_);
  starting_ = false;
}

void Worker::RequestStop(StopMode mode) {
  if (mode == StopMode::kImmediate && options_.shutdown_timeout.has_value()) {
    StartShutdownWait();
  } else if (mode == StopMode::kImmediate) {
    StopRunningJobs(CancelReason::kStopped);
  } else {
    state_->Stop(/*immediate=*/false);
    tickets_->Stop();
  }
  // After the stop flag is set: a start cut short by the cap sees the stop.
  CapStartWaits();
}

void Worker::StopRunningJobs(CancelReason reason) {
  // Set before the slots are cancelled: a slot that starts a job after its cancel sees it.
  state_->Stop(/*immediate=*/true);
  tickets_->Stop();
  for (const auto& slot : slots_) slot->cancel.Cancel(reason);
}

void Worker::StartShutdownWait() {
  // Set before the stop: a slot that took a job as the stop came hands it back unstarted.
  if (handing_back_.exchange(true)) {  // a second one: now
    {
      std::lock_guard lock(shutdown_mu_);
      shutdown_now_ = true;
    }
    shutdown_changed_.notify_all();
    return;
  }
  // Outside shutdown_mu_: a log sink may call back into the worker.
  state_->Stop(/*immediate=*/false);
  tickets_->Stop();
  Log(LogLevel::kInfo,
      absl::StrFormat("shutdown: taking no new jobs, waiting up to %s for the running ones (a "
                      "second TERM stops them now)",
                      absl::FormatDuration(*options_.shutdown_timeout)));
  std::lock_guard lock(shutdown_mu_);
  if (shutdown_over_) return;  // Run() is over: nothing runs
  shutdown_timer_ = std::thread([this] { ShutdownWait(); });
}

void Worker::ShutdownWait() {
  std::unique_lock lock(shutdown_mu_);
  const bool cut_short =
      options_.timer->WaitFor(lock, shutdown_changed_, *options_.shutdown_timeout,
                              [this] { return shutdown_now_ || shutdown_over_; });
  if (shutdown_over_) return;
  lock.unlock();
  Log(LogLevel::kInfo, cut_short ? "shutdown: a second TERM: stopping the running jobs now, to "
                                   "hand them back to their queues"
                                 : "shutdown: the wait is over: stopping the running jobs, to "
                                   "hand them back to their queues");
  StopRunningJobs(CancelReason::kShutdown);
}

void Worker::EndShutdownWait() {
  std::thread timer;
  {
    std::lock_guard lock(shutdown_mu_);
    shutdown_over_ = true;
    timer = std::move(shutdown_timer_);
  }
  shutdown_changed_.notify_all();
  if (timer.joinable()) timer.join();
}

// Each slot logs its pause as it parks (after its running job) and its resume as it wakes.
void Worker::Pause() { state_->Pause(); }

void Worker::Resume() { state_->Resume(); }

void Worker::KillRunningJobs() {
  for (const auto& slot : slots_) slot->cancel.Cancel(CancelReason::kKilled);
}

void Worker::StartSummary() {
  if (options_.summary_interval <= absl::ZeroDuration()) return;
  std::lock_guard lock(summary_mu_);
  summary_over_ = false;
  summary_thread_ = std::thread([this] { SummaryLoop(); });
}

void Worker::SummaryLoop() {
  int64_t processed = recorder_->processed();
  int64_t failed = recorder_->failed();
  absl::Time since = options_.timer->MonotonicNow();
  std::unique_lock lock(summary_mu_);
  while (!options_.timer->WaitFor(lock, summary_changed_, options_.summary_interval,
                                  [this] { return summary_over_; })) {
    lock.unlock();
    const absl::Time now = options_.timer->MonotonicNow();
    const int64_t processed_now = recorder_->processed();
    const int64_t failed_now = recorder_->failed();
    const int busy = busy_.load();
    const int64_t jobs = processed_now - processed;
    // Nothing ran: an idle worker's log stays quiet.
    if (jobs > 0 || busy > 0) {
      const double seconds = std::max(absl::ToDoubleSeconds(now - since), 1e-3);
      const double per_second = static_cast<double>(jobs) / seconds;
      const int slots = static_cast<int>(slots_.size());
      const LogNumber numbers[] = {{"jobs", static_cast<double>(jobs)},
                                   {"failed", static_cast<double>(failed_now - failed)},
                                   {"period_s", seconds},
                                   {"jobs_per_s", per_second},
                                   {"busy", static_cast<double>(busy)},
                                   {"concurrency", static_cast<double>(slots)}};
      Log(LogLevel::kInfo,
          absl::StrFormat("summary: %d jobs in %.1f s (%.1f/s), %d failed, %d of %d slots busy",
                          jobs, seconds, per_second, failed_now - failed, busy, slots),
          {.numbers = numbers});
    }
    processed = processed_now;
    failed = failed_now;
    since = now;
    lock.lock();
  }
}

void Worker::StopSummary() {
  std::thread summary;
  {
    std::lock_guard lock(summary_mu_);
    summary_over_ = true;
    summary = std::move(summary_thread_);
  }
  summary_changed_.notify_all();
  if (summary.joinable()) summary.join();
}

void Worker::StartWatchdog() {
  if (options_.fork || options_.job_timeout <= absl::ZeroDuration()) return;
  watchdog_->Start();
}

void Worker::StopWatchdog() { watchdog_->Stop(); }

}  // namespace resque
