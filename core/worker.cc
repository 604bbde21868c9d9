#include "core/worker.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <typeinfo>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/json.h"
#include "core/status.h"

namespace resque {

struct Worker::Slot {
  int index = 0;
  std::string id;
  std::atomic<bool> cancelled{false};
  std::atomic<pid_t> child{0};
  std::atomic<int64_t> deadline_nanos{0};  // in-process job timeout; 0 when idle
  bool in_flight = false;                  // the current job sits in the slot's in-flight list
};

struct Worker::Outcome {
  enum Kind { kComplete, kFailed, kSkipped } kind = kComplete;
  std::string exception;
  std::string error;
};

namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
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

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Worker::Worker(Backend& backend, const JobRegistry& registry, WorkerOptions options)
    : backend_(backend),
      registry_(registry),
      options_(std::move(options)),
      queue_api_(backend, options_.clock, options_.hooks) {
  if (options_.hostname.empty()) options_.hostname = HostName();
  if (options_.clock == nullptr) options_.clock = RealClock();
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
    std::lock_guard<std::mutex> lock(beat_mu_);
    slots_done_ = false;
  }
  std::thread heartbeat;
  if (options_.heartbeat_interval > absl::ZeroDuration()) {
    (void)BeatAndRecover();  // at once, so that no registered slot goes without a heartbeat
    heartbeat = std::thread([this] { HeartbeatLoop(); });
  }

  std::vector<std::thread> threads;
  for (const auto& slot : slots_) threads.emplace_back([this, &slot] { SlotLoop(*slot); });

  // In-process timeouts need someone other than the busy slot to notice them.
  const bool watch = options_.job_timeout > absl::ZeroDuration() && !options_.fork;
  std::thread watchdog;
  std::atomic<bool> slots_done{false};
  if (watch) {
    watchdog = std::thread([this, &slots_done] {
      while (!slots_done.load()) {
        const int64_t now = absl::ToUnixNanos(absl::Now());
        for (const auto& slot : slots_) {
          const int64_t deadline = slot->deadline_nanos.load();
          if (deadline != 0 && now >= deadline) slot->cancelled.store(true);
        }
        absl::SleepFor(std::min(options_.job_timeout / 10, absl::Milliseconds(100)));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  slots_done.store(true);
  if (watchdog.joinable()) watchdog.join();
  {
    std::lock_guard<std::mutex> lock(beat_mu_);
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
    absl::SleepFor(absl::Milliseconds(100 << attempt));
  }
}

void Worker::HeartbeatLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(beat_mu_);
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
  absl::Duration backoff = absl::Milliseconds(50);
  while (!stop_flag_.load()) {
    {
      absl::MutexLock lock(&mu_);
      auto awake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !paused_ || stopping_; };
      mu_.Await(absl::Condition(&awake));
      if (stopping_) break;
    }
    const absl::Duration wait =
        options_.blocking ? std::min(options_.interval, absl::Seconds(1)) : absl::ZeroDuration();
    absl::StatusOr<bool> worked = WorkOnce(slot, wait);
    if (!worked.ok()) {
      if (absl::IsResourceExhausted(worked.status())) break;  // max_jobs reached
      Log(LogLevel::kError, absl::StrFormat("worker %s: %s", slot.id, worked.status().ToString()));
      if (!Sleep(backoff)) break;
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (*worked) continue;
    if (options_.burst) break;
    if (!options_.blocking && !Sleep(options_.interval)) break;
  }
}

absl::StatusOr<bool> Worker::WorkOne(absl::Duration wait) {
  if (!slot0_registered_) {
    absl::Status s = backend_.RegisterWorker(slots_[0]->id, FormatIsoTime(options_.clock->Now()));
    if (!s.ok()) return s;
    slot0_registered_ = true;
  }
  return WorkOnce(*slots_[0], wait);
}

absl::StatusOr<bool> Worker::WorkOnce(Slot& slot, absl::Duration wait) {
  if (options_.max_jobs > 0 && tickets_.fetch_add(1) >= options_.max_jobs) {
    tickets_.fetch_sub(1);
    RequestStop(StopMode::kGraceful);
    return absl::ResourceExhaustedError("max jobs reached");
  }
  auto give_back_ticket = [this] {
    if (options_.max_jobs > 0) tickets_.fetch_sub(1);
  };
  absl::StatusOr<std::vector<std::string>> queues = ResolveQueues();
  if (!queues.ok() || queues->empty()) {
    give_back_ticket();
    if (!queues.ok()) return queues.status();
    // "*" with no queue yet: nothing to wait on, so wait like an empty poll.
    return false;
  }
  slot.in_flight = reliable_.load();
  absl::StatusOr<std::optional<ReservedJob>> job =
      slot.in_flight ? backend_.ReserveInFlight(*queues, wait, slot.id)
                     : backend_.Reserve(*queues, wait);
  if (slot.in_flight && absl::IsUnimplemented(job.status())) {
    Log(LogLevel::kError, "this backend has no in-flight lists: reserving unreliably");
    reliable_.store(false);
    slot.in_flight = false;
    job = backend_.Reserve(*queues, wait);
  }
  if (!job.ok() || !job->has_value()) {
    give_back_ticket();
    if (!job.ok()) return job.status();
    return false;
  }
  Process(slot, **job);
  return true;
}

absl::StatusOr<std::vector<std::string>> Worker::ResolveQueues() {
  if (std::find(options_.queues.begin(), options_.queues.end(), "*") == options_.queues.end()) {
    return options_.queues;
  }
  // "*" stands for every known queue, sorted; named queues around it keep their place.
  absl::StatusOr<std::vector<std::string>> all = backend_.Queues();
  if (!all.ok()) return all.status();
  std::vector<std::string> out;
  for (const std::string& q : options_.queues) {
    if (q != "*") {
      out.push_back(q);
      continue;
    }
    for (const std::string& name : *all) {
      if (std::find(options_.queues.begin(), options_.queues.end(), name) ==
          options_.queues.end()) {
        out.push_back(name);
      }
    }
  }
  return out;
}

void Worker::Process(Slot& slot, const ReservedJob& job) {
  absl::StatusOr<Payload> payload = DecodePayload(job.payload);
  if (!payload.ok()) {
    Outcome bad{Outcome::kFailed, "resque::InvalidPayload",
                absl::StrFormat("queue \"%s\": %s", job.queue, payload.status().message())};
    Record(slot, job, nullptr, bad);
    return;
  }
  const std::string working =
      absl::StrFormat("{\"queue\":%s,\"run_at\":%s,\"payload\":%s}", json::Quote(job.queue),
                      json::Quote(FormatIsoTime(options_.clock->Now())), job.payload);
  absl::Status started = backend_.StartJob(
      {.worker_id = slot.id,
       .working_json = working,
       .job_id = payload->id,
       .status_json = StatusUpdateJson(JobState::kRunning, options_.clock->Now())});
  if (!started.ok()) {
    // The job is taken already: performing it and recording the end is better than losing it.
    Log(LogLevel::kError, absl::StrFormat("worker %s: recording the start of job %s: %s", slot.id,
                                          payload->id, started.ToString()));
  }
  Log(LogLevel::kDebug, absl::StrFormat("worker %s: performing %s %s from %s", slot.id,
                                        payload->class_name, payload->id, job.queue));
  Outcome outcome = Perform(slot, job, *payload);
  Record(slot, job, &*payload, outcome);
}

Worker::Outcome Worker::Perform(Slot& slot, const ReservedJob& job, const Payload& payload) {
  const JobEvent event{.queue = job.queue, .payload = payload, .worker_id = slot.id};
  if (options_.hooks != nullptr) {
    absl::Status s = RunHooks(options_.hooks->before_perform, event);
    if (IsSkipJob(s)) return {Outcome::kSkipped, "", std::string(s.message())};
    if (!s.ok()) return {Outcome::kFailed, "resque::HookError", s.ToString()};
  }
  Outcome outcome =
      options_.fork ? PerformForked(slot, job, payload) : PerformInProcess(slot, job, payload);
  if (options_.hooks != nullptr && outcome.kind == Outcome::kComplete) {
    if (absl::Status s = RunHooks(options_.hooks->after_perform, event); !s.ok()) {
      Log(LogLevel::kError, absl::StrFormat("after_perform hook: %s", s.ToString()));
    }
  }
  if (options_.hooks != nullptr && outcome.kind == Outcome::kFailed) {
    const absl::Status error = absl::UnknownError(outcome.exception + ": " + outcome.error);
    for (const Hooks::FailureHook& hook : options_.hooks->on_failure) hook(event, error);
  }
  return outcome;
}

Worker::Outcome Worker::PerformInProcess(Slot& slot, const ReservedJob& job,
                                         const Payload& payload) {
  absl::StatusOr<std::unique_ptr<Job>> instance = registry_.Create(payload.class_name);
  if (!instance.ok()) {
    return {Outcome::kFailed, "resque::UnknownJobClass", std::string(instance.status().message())};
  }
  slot.cancelled.store(false);
  if (options_.job_timeout > absl::ZeroDuration()) {
    slot.deadline_nanos.store(absl::ToUnixNanos(absl::Now() + options_.job_timeout));
  }
  const JobContext ctx(job.queue, payload, slot.id, &queue_api_, &slot.cancelled);
  Outcome outcome;
  try {
    absl::Status s = (*instance)->SetUp(ctx);
    if (s.ok()) {
      try {
        s = (*instance)->Perform(ctx);
      } catch (...) {
        (*instance)->TearDown(ctx);
        throw;
      }
      (*instance)->TearDown(ctx);
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
  const bool late = slot.cancelled.load() && options_.job_timeout > absl::ZeroDuration() &&
                    slot.deadline_nanos.load() != 0 &&
                    absl::ToUnixNanos(absl::Now()) >= slot.deadline_nanos.load();
  slot.deadline_nanos.store(0);
  if (late && outcome.kind == Outcome::kComplete) {
    outcome = {
        Outcome::kFailed, "resque::JobTimeout",
        absl::StrFormat("job ran longer than %s", absl::FormatDuration(options_.job_timeout))};
  }
  return outcome;
}

// The child reports on a pipe: "O" complete, "S<reason>" skipped, "F<exception>\n<error>"
// failed. A child that dies without a report failed by its signal or exit code.
Worker::Outcome Worker::PerformForked(Slot& slot, const ReservedJob& job, const Payload& payload) {
  // The job object is made before fork(): the registry takes a lock that another thread of this
  // process could hold at the moment of the fork.
  absl::StatusOr<std::unique_ptr<Job>> instance = registry_.Create(payload.class_name);
  if (!instance.ok()) {
    return {Outcome::kFailed, "resque::UnknownJobClass", std::string(instance.status().message())};
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return {Outcome::kFailed, "resque::ForkError",
            absl::StrFormat("pipe: %s", std::strerror(errno))};
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return {Outcome::kFailed, "resque::ForkError",
            absl::StrFormat("fork: %s", std::strerror(errno))};
  }
  if (pid == 0) {
    close(fds[0]);
    // The parent's signal handling thread is gone in the child: default dispositions back.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
    std::atomic<bool> never{false};
    const JobContext ctx(job.queue, payload, slot.id, nullptr, &never);
    std::string report = "O";
    try {
      absl::Status s = (*instance)->SetUp(ctx);
      if (s.ok()) {
        s = (*instance)->Perform(ctx);
        (*instance)->TearDown(ctx);
      }
      if (IsSkipJob(s)) {
        report = "S" + std::string(s.message());
      } else if (!s.ok()) {
        report = "Fresque::JobError\n" + s.ToString();
      }
    } catch (const std::exception& e) {
      report = "F" + Demangle(typeid(e).name()) + "\n" + e.what();
    } catch (...) {
      report = "Funknown exception\na job threw something not a std::exception";
    }
    WriteAll(fds[1], report);
    _exit(0);
  }
  close(fds[1]);
  slot.child.store(pid);

  std::string report;
  const absl::Time deadline = options_.job_timeout > absl::ZeroDuration()
                                  ? absl::Now() + options_.job_timeout
                                  : absl::InfiniteFuture();
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ms =
        left == absl::InfiniteDuration()
            ? 1000
            : static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(&p, 1, ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone or done
    report.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  slot.child.store(0);

  if (timed_out) {
    return {Outcome::kFailed, "resque::JobTimeout",
            absl::StrFormat("job ran longer than %s and was killed",
                            absl::FormatDuration(options_.job_timeout))};
  }
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    return {Outcome::kFailed, "resque::JobCrashed",
            absl::StrFormat("job process killed by signal %d (%s)", sig, strsignal(sig))};
  }
  if (report.empty()) {
    return {Outcome::kFailed, "resque::JobExited",
            absl::StrFormat("job process exited with code %d before finishing",
                            WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)};
  }
  if (report[0] == 'O') return {};
  if (report[0] == 'S') return {Outcome::kSkipped, "", report.substr(1)};
  const size_t nl = report.find('\n');
  return {Outcome::kFailed, report.substr(1, nl == std::string::npos ? nl : nl - 1),
          nl == std::string::npos ? "" : report.substr(nl + 1)};
}

void Worker::Record(Slot& slot, const ReservedJob& job, const Payload* payload,
                    const Outcome& outcome) {
  const absl::Time now = options_.clock->Now();
  const bool failed = outcome.kind == Outcome::kFailed;
  JobFinish finish{
      .worker_id = slot.id,
      .job_id = payload != nullptr ? payload->id : "",
      .status_json = StatusUpdateJson(failed ? JobState::kFailed : JobState::kComplete, now),
      .status_ttl = kFinishedStatusTtl,
      .failed = failed,
      .failure_json = {},
      .in_flight = slot.in_flight ? std::optional<ReservedJob>(job) : std::nullopt};
  if (failed) {
    Failure f;
    f.failed_at = FormatFailedAt(now);
    f.payload = PayloadForRecord(job.payload);
    f.exception = outcome.exception;
    f.error = outcome.error;
    f.worker = slot.id;
    f.queue = job.queue;
    finish.failure_json = EncodeFailure(f);
  }
  // A job that ran is recorded, even across a Redis restart: retry until the backend takes it
  // or an immediate stop gives up on it (then the job stays unrecorded and is logged).
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    absl::Status s = backend_.FinishJob(finish);
    if (s.ok()) break;
    Log(LogLevel::kError, absl::StrFormat("worker %s: recording the end of a job from %s: %s",
                                          slot.id, job.queue, s.ToString()));
    if (slot.cancelled.load() && stop_flag_.load()) return;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  processed_.fetch_add(1);
  if (failed) failed_.fetch_add(1);
  const std::string what = payload != nullptr ? payload->class_name + " " + payload->id : "payload";
  if (failed) {
    Log(LogLevel::kInfo, absl::StrFormat("worker %s: %s failed: %s: %s", slot.id, what,
                                         outcome.exception, outcome.error));
  } else {
    Log(LogLevel::kDebug,
        absl::StrFormat("worker %s: %s %s", slot.id, what,
                        outcome.kind == Outcome::kSkipped ? "skipped" : "complete"));
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
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
}

void Worker::RequestStop(StopMode mode) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_flag_.store(true);
  if (mode == StopMode::kImmediate) KillRunningJobs();
}

void Worker::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void Worker::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

void Worker::KillRunningJobs() {
  for (const auto& slot : slots_) {
    slot->cancelled.store(true);
    if (const pid_t child = slot->child.load(); child > 0) kill(child, SIGKILL);
  }
}

}  // namespace resque
