#include "core/worker.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <typeinfo>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/backend_args.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/json.h"
#include "core/status.h"

namespace resque {

// Why the worker cancelled a running job; the first reason wins.
enum class Worker::CancelReason : int { kNone = 0, kTimeout, kKilled, kStopped };

struct Worker::Slot {
  int index = 0;
  std::string id;
  // What JobContext::Cancelled() reads, without a lock.
  std::atomic<bool> cancelled{false};
  // The running job's cancel state. One lock for all three so that a timeout or a kill meant
  // for one job never lands on the next one, and a kill never reaches a reaped (recyclable) pid.
  mutable std::mutex mu;
  CancelReason reason = CancelReason::kNone;     // guarded by mu
  absl::Time deadline = absl::InfiniteFuture();  // guarded by mu; in-process timeout
  pid_t child = 0;                               // guarded by mu
  // The current job sits in the slot's in-flight list. Only the slot's thread touches it.
  bool in_flight = false;
  // How many jobs the next reserve asks for (WorkerOptions::batch). Only the slot's thread.
  int batch_size = 1;
  // A reserve failed on the way back (the connection dropped): Redis may have moved jobs into
  // the slot's in-flight list whose reply never came. They are handed back before the next
  // reserve, since a recovery would not take them from a slot that is alive. Only the slot's
  // thread.
  bool in_flight_unsure = false;
  // What "*" stood for at the last look, and when (the real clock). Only the slot's thread.
  std::vector<std::string> queues;
  absl::Time queues_at = absl::InfinitePast();
};

struct Worker::Outcome {
  enum Kind { kComplete, kFailed, kSkipped } kind = kComplete;
  std::string exception;
  std::string error;
};

struct Worker::Done {
  JobFinish finish;
  std::string what;  // "<class> <id>", for the log
  std::string queue;
  Outcome outcome;
};

namespace {

// How often a slot in fork mode checks that its child is still there while the child's report
// pipe stays open (a grandchild may hold it).
constexpr absl::Duration kChildCheckPeriod = absl::Milliseconds(100);
// How long a slot that keeps finding jobs reuses what "*" stood for (a slot that finds none
// looks again at once): one round trip less per job, a new queue seen within this.
constexpr absl::Duration kQueueListTtl = absl::Seconds(1);
// The longest a blocking reserve waits, so that a stop is seen in time.
constexpr absl::Duration kMaxReserveWait = absl::Seconds(1);
// A batch goes on while it has run for less than this; then its unstarted jobs go back.
constexpr absl::Duration kBatchBudget = absl::Milliseconds(10);
// Past this, each job of a batch updates the slot's working-on record as it starts, so that a
// batch that turns out slow shows what it is doing.
constexpr absl::Duration kBatchQuiet = absl::Milliseconds(1);
constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);

WorkerOptions Normalized(WorkerOptions options) {
  if (options.clock == nullptr) options.clock = RealClock();
  if (options.hostname.empty()) {
    char buf[256] = {};
    options.hostname = gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "localhost";
  }
  return options;
}

std::string Demangle(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || readable == nullptr) return name;
  std::string out(readable);
  std::free(readable);
  return out;
}

// The failure's payload must be JSON: a payload that does not decode is kept as a JSON string.
std::string PayloadForRecord(std::string_view raw) {
  return json::Validate(raw).ok() ? std::string(raw) : json::Quote(raw);
}

// A slot id is "<host>:<pid>:<queues>" or "<host>:<pid>-<slot>:<queues>"; returns host and pid.
bool ParseWorkerId(std::string_view id, std::string* host, pid_t* pid) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(id.data(), id.size()), absl::MaxSplits(':', 2));
  if (parts.size() < 3) return false;
  *host = std::string(parts[0]);
  absl::string_view pid_part = parts[1];
  pid_part = pid_part.substr(0, pid_part.find('-'));
  int value = 0;
  if (pid_part.empty() || !absl::SimpleAtoi(pid_part, &value) || value <= 0) return false;
  *pid = value;
  return true;
}

// An error that retrying may cure: the backend could not be reached, or not in time.
bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsAborted(s);
}

// Hooks are user code too: an exception from one is an error, never a dead slot thread.
absl::Status RunHooksCatching(const std::vector<Hooks::Hook>& hooks, const JobEvent& event) {
  try {
    return RunHooks(hooks, event);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrFormat("a hook threw %s: %s", Demangle(typeid(e).name()), e.what()));
  } catch (...) {
    return absl::InternalError("a hook threw something not a std::exception");
  }
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Appends what can be read from non-blocking `fd` now; false once it is at EOF (or broken).
bool ReadAvailable(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Whether child `pid` has ended; it is left unreaped, so its pid cannot be recycled yet.
bool ChildEnded(pid_t pid, bool block) {
  siginfo_t info{};
  const int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  while (waitid(P_PID, static_cast<id_t>(pid), &info, flags) != 0) {
    if (errno != EINTR) return true;  // ECHILD: someone reaped it (SIGCHLD ignored)
  }
  return info.si_pid == pid;
}

}  // namespace

Worker::Worker(Backend& backend, const JobRegistry& registry, WorkerOptions options)
    : backend_(backend),
      registry_(registry),
      options_(Normalized(std::move(options))),
      queue_api_(backend, options_.clock, options_.hooks) {
  reliable_.store(options_.reliable);
  const int n = std::max(options_.concurrency, 1);
  const std::string queues = absl::StrJoin(options_.queues, ",");
  const pid_t pid = getpid();
  for (int i = 0; i < n; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->id = n == 1 ? absl::StrFormat("%s:%d:%s", options_.hostname, pid, queues)
                      : absl::StrFormat("%s:%d-%d:%s", options_.hostname, pid, i, queues);
    worker_ids_.push_back(slot->id);
    slots_.push_back(std::move(slot));
  }
}

Worker::~Worker() {
  StopWatchdog();
  if (slot0_registered_) ReleaseSlot(slots_[0]->id);
}

void Worker::Log(LogLevel level, std::string_view message) const {
  if (options_.log) options_.log(level, message);
}

WorkerCounts Worker::counts() const { return {processed_.load(), failed_.load()}; }

absl::Status Worker::Run() {
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
  if (options_.batch < 1 || options_.batch > backend_args::kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrFormat("batch must be within 1..%d, not %d",
                                                      backend_args::kMaxBatch, options_.batch));
  }
  if (options_.batch > 1 && !options_.reliable) {
    // Without in-flight lists a batch's unstarted jobs could not go back: a crash would lose them.
    return absl::InvalidArgumentError("batches need reliable reserve");
  }
  PruneDeadWorkers();
  for (const auto& slot : slots_) {
    absl::Status s = backend_.RegisterWorker(slot->id, FormatIsoTime(options_.clock->Now()));
    if (!s.ok()) {
      for (const auto& done : slots_) (void)backend_.UnregisterWorker(done->id);
      return s;
    }
    Log(LogLevel::kInfo, absl::StrFormat("worker %s started", slot->id));
  }

  {
    std::lock_guard lock(beat_mu_);
    slots_done_ = false;
  }
  std::thread heartbeat;
  if (options_.heartbeat_interval > absl::ZeroDuration()) {
    (void)BeatAndRecover();  // at once, so that no registered slot goes without a heartbeat
    heartbeat = std::thread([this] { HeartbeatLoop(); });
  }

  StartWatchdog();
  std::vector<std::thread> threads;
  threads.reserve(slots_.size());
  for (const auto& slot : slots_) threads.emplace_back([this, &slot] { SlotLoop(*slot); });
  for (std::thread& t : threads) t.join();
  StopWatchdog();
  {
    std::lock_guard lock(beat_mu_);
    slots_done_ = true;
  }
  beat_cv_.notify_all();
  if (heartbeat.joinable()) heartbeat.join();

  for (const auto& slot : slots_) {
    ReleaseSlot(slot->id);
    Log(LogLevel::kInfo, absl::StrFormat("worker %s stopped", slot->id));
  }
  return absl::OkStatus();
}

void Worker::ReleaseSlot(const std::string& id) {
  // Retried briefly: a worker left registered shows up as a ghost, and a job left in flight
  // waits for a recovery by someone else.
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!reliable_.load()) {
      if (backend_.UnregisterWorker(id).ok()) return;
    } else {
      absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, std::nullopt);
      if (back.ok()) {
        if (back->value_or(0) > 0) {
          Log(LogLevel::kInfo,
              absl::StrFormat("worker %s: %d unfinished job(s) back on their queues", id, **back));
        }
        return;
      }
      if (absl::IsUnimplemented(back.status())) {
        reliable_.store(false);
        continue;
      }
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

void Worker::HeartbeatLoop() {
  for (;;) {
    {
      std::unique_lock lock(beat_mu_);
      if (beat_cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.heartbeat_interval),
                            [this] { return slots_done_; })) {
        return;
      }
    }
    (void)BeatAndRecover();
  }
}

int64_t Worker::BeatAndRecover() {
  const absl::Time now = options_.clock->Now();
  if (absl::Status s = backend_.Heartbeat(worker_ids_, FormatHeartbeat(now)); !s.ok()) {
    // Unavailable during a Redis outage: the next beat will do. Not an error for a backend
    // that keeps no heartbeats.
    if (!absl::IsUnimplemented(s)) {
      Log(LogLevel::kError, absl::StrFormat("heartbeat: %s", s.ToString()));
    }
    return 0;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> beats = backend_.Heartbeats();
  if (!beats.ok()) return 0;
  int64_t recovered = 0;
  for (const auto& [id, beat] : *beats) {
    if (std::find(worker_ids_.begin(), worker_ids_.end(), id) != worker_ids_.end()) continue;
    absl::StatusOr<absl::Time> at = ParseHeartbeat(beat);
    if (!at.ok() || now - *at <= options_.dead_after) continue;
    // Only if the heartbeat is still the one judged too old: of several workers that find the
    // same dead one, one recovers it.
    absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, beat);
    if (!back.ok()) {
      Log(LogLevel::kError,
          absl::StrFormat("recovering dead worker %s: %s", id, back.status().ToString()));
      continue;
    }
    if (!back->has_value()) continue;
    recovered += **back;
    Log(LogLevel::kInfo,
        absl::StrFormat("worker %s: no heartbeat since %s; unregistered it, %d job(s) back on "
                        "their queues",
                        id, beat, **back));
  }
  return recovered;
}

void Worker::SlotLoop(Slot& slot) {
  absl::Duration backoff = kMinBackoff;
  while (!stop_flag_.load()) {
    if (!AwaitRunnable()) break;
    if (!TakeTicket(/*wait=*/true)) break;
    absl::StatusOr<bool> worked = WorkOnce(slot, ReserveWait(), /*allow_batch=*/true);
    if (!worked.ok()) {
      Log(LogLevel::kError, absl::StrFormat("worker %s: %s", slot.id, worked.status().ToString()));
      if (!Sleep(backoff)) break;
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = kMinBackoff;
    if (*worked) continue;
    if (options_.burst) break;
    if (!options_.blocking && !Sleep(options_.interval)) break;
  }
}

bool Worker::AwaitRunnable() {
  std::unique_lock lock(mu_);
  if (paused_ && !stopping_) {
    ++paused_slots_;
    changed_.wait(lock, [this] { return !paused_ || stopping_; });
    --paused_slots_;
  }
  return !stopping_;
}

int Worker::paused_slots() const {
  std::lock_guard lock(mu_);
  return paused_slots_;
}

absl::Duration Worker::ReserveWait() const {
  // Burst asks whether the queues are empty now, not whether a job comes within the wait.
  if (!options_.blocking || options_.burst) return absl::ZeroDuration();
  // A zero interval would make a blocking worker spin; it means "block" as BLPOP's 0 does.
  if (options_.interval <= absl::ZeroDuration()) return kMaxReserveWait;
  return std::min(options_.interval, kMaxReserveWait);
}

bool Worker::TakeTicket(bool wait) {
  if (options_.max_jobs <= 0) return true;
  std::unique_lock lock(mu_);
  if (wait) {
    // Another slot may be holding the last ticket in a reserve that finds nothing: wait for it
    // to come back instead of stopping while a job may still be due.
    changed_.wait(lock, [this] { return stopping_ || tickets_taken_ < options_.max_jobs; });
    if (stopping_) return false;
  }
  if (tickets_taken_ >= options_.max_jobs) return false;
  ++tickets_taken_;
  return true;
}

void Worker::ReturnTicket() {
  if (options_.max_jobs <= 0) return;
  {
    std::lock_guard lock(mu_);
    --tickets_taken_;
  }
  changed_.notify_all();
}

int Worker::TakeMoreTickets(int n) {
  if (options_.max_jobs <= 0 || n <= 0) return std::max(n, 0);
  std::lock_guard lock(mu_);
  const int granted = static_cast<int>(
      std::min<int64_t>(n, std::max<int64_t>(options_.max_jobs - tickets_taken_, 0)));
  tickets_taken_ += granted;
  return granted;
}

void Worker::ReturnTickets(int n) {
  if (options_.max_jobs <= 0 || n <= 0) return;
  {
    std::lock_guard lock(mu_);
    tickets_taken_ -= n;
  }
  changed_.notify_all();
}

void Worker::CountJobDone() {
  if (options_.max_jobs <= 0) return;
  bool stop = false;
  {
    std::lock_guard lock(mu_);
    stop = ++jobs_done_ >= options_.max_jobs;
  }
  if (stop) {
    Log(LogLevel::kInfo, absl::StrFormat("%d jobs done: stopping", options_.max_jobs));
    RequestStop(StopMode::kGraceful);
  }
}

absl::StatusOr<bool> Worker::WorkOne(absl::Duration wait) {
  if (!slot0_registered_) {
    absl::Status s = backend_.RegisterWorker(slots_[0]->id, FormatIsoTime(options_.clock->Now()));
    if (!s.ok()) return s;
    slot0_registered_ = true;
  }
  StartWatchdog();
  if (!TakeTicket(/*wait=*/false)) return absl::ResourceExhaustedError("max jobs reached");
  return WorkOnce(*slots_[0], wait, /*allow_batch=*/false);
}

absl::StatusOr<bool> Worker::WorkOnce(Slot& slot, absl::Duration wait, bool allow_batch) {
  const bool listed_before = slot.queues_at != absl::InfinitePast();
  absl::StatusOr<bool> worked = WorkOnceWith(slot, wait, allow_batch);
  // Nothing on a list of "*" made earlier: a queue may have appeared since (a job that ran may
  // have pushed to it). Look once more, on a fresh list, before saying there is nothing.
  if (worked.ok() && !*worked && listed_before && TakeTicket(/*wait=*/false)) {
    return WorkOnceWith(slot, absl::ZeroDuration(), allow_batch);
  }
  return worked;
}

absl::StatusOr<bool> Worker::WorkOnceWith(Slot& slot, absl::Duration wait, bool allow_batch) {
  if (slot.in_flight_unsure) {
    if (absl::Status s = HandBackOrphans(slot); !s.ok()) {
      ReturnTicket();
      return s;
    }
  }
  if (absl::Status s = ResolveQueues(slot); !s.ok()) {
    ReturnTicket();
    return s;
  }
  const std::vector<std::string>& queues = slot.queues;
  if (queues.empty()) {
    ReturnTicket();
    slot.queues_at = absl::InfinitePast();
    // "*" with no queue yet: nothing to reserve from, so wait as the reserve would have.
    if (wait > absl::ZeroDuration()) Sleep(wait);
    return false;
  }
  slot.in_flight = reliable_.load();
  if (allow_batch && slot.in_flight && slot.batch_size > 1) {
    const int extra = TakeMoreTickets(slot.batch_size - 1);
    absl::StatusOr<std::vector<ReservedJob>> jobs =
        backend_.ReserveInFlightMany(queues, wait, slot.id, 1 + extra);
    const int got = jobs.ok() ? static_cast<int>(jobs->size()) : 0;
    ReturnTickets(extra + 1 - std::max(got, 1));
    if (jobs.ok() && got > 0) {
      ProcessBatch(slot, *jobs);
      return true;
    }
    if (!absl::IsFailedPrecondition(jobs.status()) || queues.size() == 1) {
      ReturnTicket();
      slot.queues_at = absl::InfinitePast();
      if (!jobs.ok()) {
        slot.in_flight_unsure = IsTransient(jobs.status());
        return jobs.status();
      }
      return false;
    }
    // A queue key of the wrong type among several: one job at a time, below, goes around it.
    slot.batch_size = 1;
  }
  absl::StatusOr<std::optional<ReservedJob>> job =
      slot.in_flight ? backend_.ReserveInFlight(queues, wait, slot.id)
                     : backend_.Reserve(queues, wait);
  if (slot.in_flight && absl::IsUnimplemented(job.status())) {
    Log(LogLevel::kError, "this backend has no in-flight lists: reserving unreliably");
    reliable_.store(false);
    slot.in_flight = false;
    job = backend_.Reserve(queues, wait);
  }
  if (absl::IsFailedPrecondition(job.status()) && queues.size() > 1) {
    job = ReserveAroundBrokenQueues(slot, queues, job.status());
  }
  if (!job.ok() || !job->has_value()) {
    ReturnTicket();
    slot.queues_at = absl::InfinitePast();
    if (!job.ok()) {
      slot.in_flight_unsure = slot.in_flight && IsTransient(job.status());
      return job.status();
    }
    return false;
  }
  Process(slot, **job);
  return true;
}

// One queue key of the wrong type (someone else's SET on it) fails a reserve over all the
// queues; the others must still be served. Tries them one by one, in priority order, without
// waiting; when none has a job the original error stands, so the slot backs off.
absl::StatusOr<std::optional<ReservedJob>> Worker::ReserveAroundBrokenQueues(
    Slot& slot, const std::vector<std::string>& queues, const absl::Status& error) {
  Log(LogLevel::kError,
      absl::StrFormat("worker %s: %s; trying the queues one by one", slot.id, error.ToString()));
  for (const std::string& queue : queues) {
    const std::vector<std::string> one = {queue};
    absl::StatusOr<std::optional<ReservedJob>> job =
        slot.in_flight ? backend_.ReserveInFlight(one, absl::ZeroDuration(), slot.id)
                       : backend_.Reserve(one, absl::ZeroDuration());
    if (absl::IsFailedPrecondition(job.status())) continue;
    if (!job.ok() || job->has_value()) return job;
  }
  return error;
}

absl::Status Worker::HandBackOrphans(Slot& slot) {
  absl::StatusOr<std::vector<ReservedJob>> held = backend_.InFlight(slot.id);
  if (!held.ok()) return held.status();
  if (!held->empty()) {
    absl::StatusOr<int64_t> back = backend_.Unreserve(slot.id, *held, {}, "");
    if (!back.ok()) return back.status();
    Log(LogLevel::kError,
        absl::StrFormat("worker %s: %d job(s) reserved while the connection dropped are back on "
                        "their queues",
                        slot.id, *back));
  }
  slot.in_flight_unsure = false;
  return absl::OkStatus();
}

absl::Status Worker::ResolveQueues(Slot& slot) {
  if (std::find(options_.queues.begin(), options_.queues.end(), "*") == options_.queues.end()) {
    if (slot.queues.empty()) slot.queues = options_.queues;
    return absl::OkStatus();
  }
  const absl::Time now = absl::Now();
  if (now - slot.queues_at < kQueueListTtl) return absl::OkStatus();
  // "*" stands for every known queue, sorted; named queues around it keep their place.
  absl::StatusOr<std::vector<std::string>> all = backend_.Queues();
  if (!all.ok()) return all.status();
  slot.queues.clear();
  for (const std::string& q : options_.queues) {
    if (q != "*") {
      slot.queues.push_back(q);
      continue;
    }
    for (const std::string& name : *all) {
      if (std::find(options_.queues.begin(), options_.queues.end(), name) ==
          options_.queues.end()) {
        slot.queues.push_back(name);
      }
    }
  }
  slot.queues_at = now;
  return absl::OkStatus();
}

void Worker::Process(Slot& slot, const ReservedJob& job) {
  const absl::Time start = absl::Now();
  const absl::StatusOr<Payload> payload = DecodePayload(job.payload);
  const Outcome outcome = RunOne(slot, job, payload, /*announce=*/true);
  Record(slot, job, payload.ok() ? &*payload : nullptr, outcome);
  // One job at a time until one is quick: then batches, if allowed, start to grow.
  if (options_.batch > 1 && absl::Now() - start <= kBatchBudget) slot.batch_size = 2;
}

Worker::Outcome Worker::RunOne(Slot& slot, const ReservedJob& job,
                               const absl::StatusOr<Payload>& payload, bool announce) {
  {
    // A cancel that reached the slot between jobs was not meant for this one.
    std::lock_guard lock(slot.mu);
    slot.reason = CancelReason::kNone;
    slot.cancelled.store(false);
  }
  if (!payload.ok()) {
    return {Outcome::kFailed, "resque::InvalidPayload",
            absl::StrFormat("queue \"%s\": %s", job.queue, payload.status().message())};
  }
  // Checked after the reset above: an immediate stop that came before it is seen here, one that
  // comes after it cancels the job.
  if (immediate_flag_.load()) {
    return {Outcome::kFailed, "resque::JobKilled",
            "the worker was stopping at once when it took the job: not performed"};
  }
  if (announce) Announce(slot, job, *payload, {});
  Log(LogLevel::kDebug, absl::StrFormat("worker %s: performing %s %s from %s", slot.id,
                                        payload->class_name, payload->id, job.queue));
  return Perform(slot, job, *payload);
}

void Worker::Announce(Slot& slot, const ReservedJob& job, const Payload& payload,
                      std::vector<std::string> others) {
  const absl::Time now = options_.clock->Now();
  // "worker" is what node-resque files the record under (allWorkingOn); php-resque and Ruby
  // read the other three.
  const std::string working = absl::StrFormat(
      "{\"queue\":%s,\"run_at\":%s,\"payload\":%s,\"worker\":%s}", json::Quote(job.queue),
      json::Quote(FormatIsoTime(now)), job.payload,
      json::Quote(std::string_view(slot.id).substr(0, slot.id.find(':', slot.id.find(':') + 1))));
  absl::Status started =
      backend_.StartJob({.worker_id = slot.id,
                         .working_json = working,
                         .job_id = payload.id,
                         .status_json = StatusUpdateJson(JobState::kRunning, now),
                         .other_job_ids = std::move(others)});
  if (!started.ok()) {
    // The job is taken already: performing it and recording the end is better than losing it.
    Log(LogLevel::kError, absl::StrFormat("worker %s: recording the start of job %s: %s", slot.id,
                                          payload.id, started.ToString()));
  }
}

void Worker::ProcessBatch(Slot& slot, const std::vector<ReservedJob>& jobs) {
  const absl::Time start = absl::Now();  // the real clock: the budget is about time spent
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
    Announce(slot, jobs[i], *payloads[i], std::move(others));
    break;
  }
  std::vector<Done> done;
  done.reserve(jobs.size());
  size_t next = 0;
  bool quick = true;
  for (; next < jobs.size(); ++next) {
    if (next > 0) {
      const absl::Duration elapsed = absl::Now() - start;
      if (elapsed > kBatchBudget) quick = false;
      if (!quick || stop_flag_.load() || pause_flag_.load()) break;
      if (elapsed > kBatchQuiet && payloads[next].ok()) {
        Announce(slot, jobs[next], *payloads[next], {});
      }
    }
    const Outcome outcome = RunOne(slot, jobs[next], payloads[next], /*announce=*/false);
    done.push_back(
        Finished(slot, jobs[next], payloads[next].ok() ? &*payloads[next] : nullptr, outcome));
  }
  if (next < jobs.size()) {
    HandBack(slot, absl::MakeConstSpan(jobs).subspan(next),
             absl::MakeConstSpan(payloads).subspan(next));
  }
  RecordAll(slot, done);
  quick = quick && absl::Now() - start <= kBatchBudget;
  slot.batch_size = quick ? std::min(slot.batch_size * 2, options_.batch) : 1;
}

void Worker::HandBack(Slot& slot, absl::Span<const ReservedJob> jobs,
                      absl::Span<const absl::StatusOr<Payload>> payloads) {
  // The batch marked them running; they wait again. The status goes in the same step as the
  // job, and only for a job still in this slot's list: once back in its queue another worker may
  // finish it at once, and a "waiting" written after its "complete" would stay.
  std::vector<std::string> ids;
  ids.reserve(payloads.size());
  for (const absl::StatusOr<Payload>& p : payloads) ids.push_back(p.ok() ? p->id : "");
  const std::string waiting = StatusUpdateJson(JobState::kWaiting, options_.clock->Now());
  absl::Duration backoff = kMinBackoff;
  absl::StatusOr<int64_t> back = backend_.Unreserve(slot.id, jobs, ids, waiting);
  // Retried while Redis is away, as a record is: left in flight they would wait for this worker
  // to stop (it keeps beating, so nobody else recovers them).
  while (!back.ok() && IsTransient(back.status()) && !immediate_flag_.load()) {
    Log(LogLevel::kError, absl::StrFormat("worker %s: handing %d unstarted job(s) back: %s; "
                                          "retrying",
                                          slot.id, jobs.size(), back.status().ToString()));
    SleepUnlessImmediate(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
    back = backend_.Unreserve(slot.id, jobs, ids, waiting);
  }
  ReturnTickets(static_cast<int>(jobs.size()));
  if (!back.ok()) {
    // They stay in flight: this slot hands them back when it stops, or a recovery does if it
    // dies.
    Log(LogLevel::kError, absl::StrFormat("worker %s: handing %d unstarted job(s) back: %s",
                                          slot.id, jobs.size(), back.status().ToString()));
    return;
  }
  Log(LogLevel::kDebug, absl::StrFormat("worker %s: %d unstarted job(s) of a slow batch back on "
                                        "their queue",
                                        slot.id, *back));
}

Worker::Outcome Worker::Perform(Slot& slot, const ReservedJob& job, const Payload& payload) {
  const JobEvent event{.queue = job.queue, .payload = payload, .worker_id = slot.id};
  const Hooks* hooks = options_.hooks;
  if (hooks != nullptr) {
    absl::Status s = RunHooksCatching(hooks->before_perform, event);
    if (IsSkipJob(s)) return {Outcome::kSkipped, "", std::string(s.message())};
    if (!s.ok()) return {Outcome::kFailed, "resque::HookError", s.ToString()};
  }
  Outcome outcome =
      options_.fork ? PerformForked(slot, job, payload) : PerformInProcess(slot, job, payload);
  if (hooks != nullptr && outcome.kind == Outcome::kComplete) {
    if (absl::Status s = RunHooksCatching(hooks->after_perform, event); !s.ok()) {
      Log(LogLevel::kError, absl::StrFormat("after_perform hook: %s", s.ToString()));
    }
  }
  if (hooks != nullptr && outcome.kind == Outcome::kFailed) {
    const absl::Status error = absl::UnknownError(outcome.exception + ": " + outcome.error);
    for (const Hooks::FailureHook& hook : hooks->on_failure) {
      try {
        hook(event, error);
      } catch (...) {
        Log(LogLevel::kError, "an on_failure hook threw; ignored");
      }
    }
  }
  return outcome;
}

Worker::Outcome Worker::RunJob(Job& job, const JobContext& ctx) {
  Outcome outcome;
  try {
    absl::Status s = job.SetUp(ctx);
    if (s.ok()) {
      try {
        s = job.Perform(ctx);
      } catch (...) {
        job.TearDown(ctx);  // TearDown runs whatever Perform did, a throw included
        throw;
      }
      job.TearDown(ctx);
    }
    if (IsSkipJob(s)) {
      outcome = {Outcome::kSkipped, "", std::string(s.message())};
    } else if (!s.ok()) {
      outcome = {Outcome::kFailed, "resque::JobError", s.ToString()};
    }
  } catch (const std::exception& e) {
    outcome = {Outcome::kFailed, Demangle(typeid(e).name()), e.what()};
  } catch (...) {
    outcome = {Outcome::kFailed, "unknown exception", "a job threw something not a std::exception"};
  }
  return outcome;
}

Worker::Outcome Worker::CancelledOutcome(const Slot& slot, bool forked) const {
  CancelReason reason;
  {
    std::lock_guard lock(slot.mu);
    reason = slot.reason;
  }
  const std::string how = forked ? "killed" : "told to stop";
  switch (reason) {
    case CancelReason::kTimeout:
      return {Outcome::kFailed, "resque::JobTimeout",
              absl::StrFormat("job ran longer than %s and was %s",
                              absl::FormatDuration(options_.job_timeout), how)};
    case CancelReason::kKilled:
      return {Outcome::kFailed, "resque::JobKilled",
              absl::StrFormat("job %s by the worker (USR1: kill running jobs)", how)};
    case CancelReason::kStopped:
    case CancelReason::kNone:
      break;
  }
  return {Outcome::kFailed, "resque::JobKilled",
          absl::StrFormat("job %s by the worker (TERM/INT: immediate shutdown)", how)};
}

Worker::Outcome Worker::PerformInProcess(Slot& slot, const ReservedJob& job,
                                         const Payload& payload) {
  absl::StatusOr<std::unique_ptr<Job>> instance = registry_.Create(payload.class_name);
  if (!instance.ok()) {
    return {Outcome::kFailed, "resque::UnknownJobClass", std::string(instance.status().message())};
  }
  if (options_.job_timeout > absl::ZeroDuration()) {
    std::lock_guard lock(slot.mu);
    slot.deadline = absl::Now() + options_.job_timeout;
  }
  const JobContext ctx(job.queue, payload, slot.id, &queue_api_, &slot.cancelled);
  Outcome outcome = RunJob(**instance, ctx);
  bool cancelled = false;
  {
    std::lock_guard lock(slot.mu);
    // A job that returns past its deadline timed out, whether or not the watchdog got to it.
    if (slot.reason == CancelReason::kNone && absl::Now() >= slot.deadline) {
      slot.reason = CancelReason::kTimeout;
    }
    slot.deadline = absl::InfiniteFuture();
    cancelled = slot.reason != CancelReason::kNone;
  }
  if (!cancelled) return outcome;
  // A job the worker cancelled did not run to its end, whatever it returned: a failure, as a
  // killed child is in fork mode, named after the worker's reason. What the job said of its
  // own end stays in the message.
  Outcome stopped = CancelledOutcome(slot, /*forked=*/false);
  if (outcome.kind == Outcome::kFailed) {
    absl::StrAppendFormat(&stopped.error, "; the job failed with %s: %s", outcome.exception,
                          outcome.error);
  }
  return stopped;
}

// The child reports on a pipe: "O" complete, "S<reason>" skipped, "F<exception>\n<error>"
// failed. A child that ends without a report failed by its signal or exit code.
Worker::Outcome Worker::PerformForked(Slot& slot, const ReservedJob& job, const Payload& payload) {
  // The job object is made before fork(): the registry takes a lock that another thread of this
  // process could hold at the moment of the fork.
  absl::StatusOr<std::unique_ptr<Job>> instance = registry_.Create(payload.class_name);
  if (!instance.ok()) {
    return {Outcome::kFailed, "resque::UnknownJobClass", std::string(instance.status().message())};
  }
  // Output still buffered in this process would be written twice: by the child too.
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  pid_t pid = -1;
  {
    std::lock_guard fork_lock(fork_mu_);
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return {Outcome::kFailed, "resque::ForkError",
              absl::StrFormat("pipe: %s", std::strerror(errno))};
    }
    pid = fork();
    if (pid == 0) {
      close(fds[0]);
      // Signals reach the job's process with their default effect: a handler of the parent
      // would run here against the parent's state, and a blocked mask would make them ignored.
      for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT}) {
        signal(sig, SIG_DFL);
      }
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
      // A job that calls exit() would run this program's atexit handlers and static destructors
      // in the child, against state the parent owns (servers it started, files it writes).
      // Registered last, this handler runs first and ends the child with the job's exit code.
      on_exit(
          [](int code, void*) {
            std::fflush(stdout);
            std::fflush(stderr);
            _exit(code);
          },
          nullptr);
      // Queue (ctx.queues()) is null: the backend's connections and locks belong to the parent.
      const JobContext ctx(job.queue, payload, slot.id, nullptr, nullptr);
      const Outcome outcome = RunJob(**instance, ctx);
      std::string report;
      if (outcome.kind == Outcome::kComplete) report = "O";
      if (outcome.kind == Outcome::kSkipped) report = "S" + outcome.error;
      if (outcome.kind == Outcome::kFailed) report = "F" + outcome.exception + "\n" + outcome.error;
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(WriteAll(fds[1], report) ? 0 : 1);
    }
    close(fds[1]);
  }
  if (pid < 0) {
    close(fds[0]);
    return {Outcome::kFailed, "resque::ForkError",
            absl::StrFormat("fork: %s", std::strerror(errno))};
  }
  {
    // A kill that came between the fork and here found no child: honour it now.
    std::lock_guard lock(slot.mu);
    slot.child = pid;
    if (slot.cancelled.load()) kill(pid, SIGKILL);
  }
  std::string report;
  const int wstatus = AwaitChild(slot, pid, fds[0], &report);
  close(fds[0]);

  // A child that reported and exited cleanly did its job, even if a kill came too late to stop it.
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && !report.empty()) {
    if (report[0] == 'O') return {};
    if (report[0] == 'S') return {Outcome::kSkipped, "", report.substr(1)};
    const size_t nl = report.find('\n');
    if (nl == std::string::npos) return {Outcome::kFailed, report.substr(1), ""};
    return {Outcome::kFailed, report.substr(1, nl - 1), report.substr(nl + 1)};
  }
  bool cancelled = false;
  {
    std::lock_guard lock(slot.mu);
    cancelled = slot.reason != CancelReason::kNone;
  }
  if (cancelled) return CancelledOutcome(slot, /*forked=*/true);
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    return {Outcome::kFailed, "resque::JobCrashed",
            absl::StrFormat("job process killed by signal %d (%s)", sig, strsignal(sig))};
  }
  return {Outcome::kFailed, "resque::JobExited",
          absl::StrFormat("job process exited with code %d before finishing",
                          WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)};
}

int Worker::AwaitChild(Slot& slot, pid_t pid, int report_fd, std::string* report) {
  fcntl(report_fd, F_SETFL, fcntl(report_fd, F_GETFL) | O_NONBLOCK);
  const absl::Time deadline = options_.job_timeout > absl::ZeroDuration()
                                  ? absl::Now() + options_.job_timeout
                                  : absl::InfiniteFuture();
  bool pipe_open = true;
  // Once the pipe is at EOF the child is in _exit: check on it at short, growing intervals.
  absl::Duration after_eof = absl::Microseconds(100);
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      Cancel(slot, CancelReason::kTimeout);
      ChildEnded(pid, /*block=*/true);
      break;
    }
    absl::Duration tick = std::min(left, kChildCheckPeriod);
    if (!pipe_open) {
      if (deadline == absl::InfiniteFuture()) {
        ChildEnded(pid, /*block=*/true);
        break;
      }
      tick = std::min(tick, after_eof);
      after_eof = std::min(after_eof * 2, kChildCheckPeriod);
    }
    pollfd p{report_fd, POLLIN, 0};
    const timespec ts = absl::ToTimespec(tick);
    if (ppoll(pipe_open ? &p : nullptr, pipe_open ? 1 : 0, &ts, nullptr) > 0) {
      pipe_open = ReadAvailable(report_fd, report);
    }
    if (ChildEnded(pid, /*block=*/false)) break;
  }
  if (pipe_open) ReadAvailable(report_fd, report);  // what the child wrote before it ended
  {
    std::lock_guard lock(slot.mu);
    slot.child = 0;
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return wstatus;
}

void Worker::Record(Slot& slot, const ReservedJob& job, const Payload* payload,
                    const Outcome& outcome) {
  std::vector<Done> done;
  done.push_back(Finished(slot, job, payload, outcome));
  RecordAll(slot, done);
}

Worker::Done Worker::Finished(Slot& slot, const ReservedJob& job, const Payload* payload,
                              const Outcome& outcome) const {
  const absl::Time now = options_.clock->Now();
  const bool failed = outcome.kind == Outcome::kFailed;
  Done d{.finish = {.worker_id = slot.id,
                    .job_id = payload != nullptr ? payload->id : IdOfBadPayload(job.payload),
                    .status_json =
                        StatusUpdateJson(failed ? JobState::kFailed : JobState::kComplete, now),
                    .status_ttl = kFinishedStatusTtl,
                    .failed = failed,
                    .failure_json = {},
                    .in_flight = slot.in_flight ? std::optional<ReservedJob>(job) : std::nullopt},
         .what = payload != nullptr ? payload->class_name + " " + payload->id : "payload",
         .queue = job.queue,
         .outcome = outcome};
  if (failed) {
    Failure f;
    f.failed_at = FormatFailedAt(now);
    f.payload = PayloadForRecord(job.payload);
    f.exception = outcome.exception;
    f.error = outcome.error;
    f.worker = slot.id;
    f.queue = job.queue;
    d.finish.failure_json = EncodeFailure(f);
  }
  return d;
}

void Worker::RecordAll(Slot& slot, std::vector<Done>& done) {
  if (done.empty()) return;
  std::vector<JobFinish> finishes;
  finishes.reserve(done.size());
  for (Done& d : done) finishes.push_back(std::move(d.finish));
  const std::string what =
      done.size() == 1 ? absl::StrFormat("%s from %s", done[0].what, done[0].queue)
                       : absl::StrFormat("a batch of %d jobs from %s", done.size(), done[0].queue);
  // A job that ran is recorded, even across a Redis restart: a server that cannot be reached is
  // retried until it takes the record or an immediate stop gives up on it. Other errors would
  // not go away by retrying.
  bool recorded = false;
  absl::Duration backoff = kMinBackoff;
  for (;;) {
    const absl::Status s =
        finishes.size() == 1 ? backend_.FinishJob(finishes[0]) : backend_.FinishJobs(finishes);
    if (s.ok()) {
      recorded = true;
      break;
    }
    if (!IsTransient(s) || immediate_flag_.load()) {
      Log(LogLevel::kError,
          absl::StrFormat("worker %s: %s was performed but could not be recorded: %s", slot.id,
                          what, s.ToString()));
      break;
    }
    Log(LogLevel::kError, absl::StrFormat("worker %s: recording the end of %s: %s; retrying",
                                          slot.id, what, s.ToString()));
    SleepUnlessImmediate(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  for (const Done& d : done) {
    if (recorded) {
      const bool failed = d.outcome.kind == Outcome::kFailed;
      processed_.fetch_add(1);
      if (failed) {
        failed_.fetch_add(1);
        Log(LogLevel::kInfo, absl::StrFormat("worker %s: %s failed: %s: %s", slot.id, d.what,
                                             d.outcome.exception, d.outcome.error));
      } else {
        Log(LogLevel::kDebug,
            absl::StrFormat("worker %s: %s %s", slot.id, d.what,
                            d.outcome.kind == Outcome::kSkipped ? "skipped" : "complete"));
      }
    }
    CountJobDone();
  }
}

void Worker::PruneDeadWorkers() {
  absl::StatusOr<std::vector<std::string>> workers = backend_.Workers();
  if (!workers.ok()) return;
  const pid_t self = getpid();
  for (const std::string& id : *workers) {
    std::string host;
    pid_t pid = 0;
    if (!ParseWorkerId(id, &host, &pid) || host != options_.hostname || pid == self) continue;
    // EPERM: the process exists under another user; only ESRCH says it is gone.
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    // Its process is gone, so whatever it had in flight is recovered, heartbeat or not.
    absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, std::nullopt);
    if (back.ok()) {
      Log(LogLevel::kInfo, absl::StrFormat("pruned dead worker %s; %d job(s) back on their queues",
                                           id, back->value_or(0)));
    } else if (absl::IsUnimplemented(back.status()) && backend_.UnregisterWorker(id).ok()) {
      Log(LogLevel::kInfo, absl::StrFormat("pruned dead worker %s", id));
    }
  }
}

bool Worker::Sleep(absl::Duration d) {
  std::unique_lock lock(mu_);
  return !changed_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return stopping_; });
}

bool Worker::SleepUnlessImmediate(absl::Duration d) {
  std::unique_lock lock(mu_);
  return !changed_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return immediate_; });
}

void Worker::RequestStop(StopMode mode) {
  const bool immediate = mode == StopMode::kImmediate;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (immediate) immediate_ = true;
  }
  changed_.notify_all();
  stop_flag_.store(true);
  if (!immediate) return;
  // Set before the slots are cancelled: a slot that starts a job after its cancel sees it.
  immediate_flag_.store(true);
  for (const auto& slot : slots_) Cancel(*slot, CancelReason::kStopped);
}

void Worker::Pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
  pause_flag_.store(true);
}

void Worker::Resume() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
    pause_flag_.store(false);
  }
  changed_.notify_all();
}

void Worker::KillRunningJobs() {
  for (const auto& slot : slots_) Cancel(*slot, CancelReason::kKilled);
}

void Worker::Cancel(Slot& slot, CancelReason reason) {
  std::lock_guard lock(slot.mu);
  if (slot.reason == CancelReason::kNone) slot.reason = reason;
  slot.cancelled.store(true);
  if (slot.child > 0) kill(slot.child, SIGKILL);
}

void Worker::StartWatchdog() {
  if (options_.fork || options_.job_timeout <= absl::ZeroDuration() || watchdog_.joinable()) {
    return;
  }
  {
    std::lock_guard lock(watchdog_mu_);
    watchdog_stop_ = false;
  }
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

void Worker::StopWatchdog() {
  if (!watchdog_.joinable()) return;
  {
    std::lock_guard lock(watchdog_mu_);
    watchdog_stop_ = true;
  }
  watchdog_wake_.notify_all();
  watchdog_.join();
}

void Worker::WatchdogLoop() {
  // A tenth of the timeout: a job is told to stop at most 10% late.
  const absl::Duration tick =
      std::clamp(options_.job_timeout / 10, absl::Milliseconds(1), absl::Milliseconds(100));
  std::unique_lock lock(watchdog_mu_);
  while (!watchdog_wake_.wait_for(lock, absl::ToChronoNanoseconds(tick),
                                  [this] { return watchdog_stop_; })) {
    const absl::Time now = absl::Now();
    for (const auto& slot : slots_) {
      // Checked and cancelled under one lock, so that the cancel cannot land on the next job.
      std::lock_guard slot_lock(slot->mu);
      if (now < slot->deadline) continue;
      if (slot->reason == CancelReason::kNone) slot->reason = CancelReason::kTimeout;
      slot->cancelled.store(true);
    }
  }
}

}  // namespace resque
