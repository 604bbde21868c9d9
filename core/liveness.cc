#include "core/liveness.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/backoff.h"
#include "core/failure.h"
#include "core/heartbeat.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/status.h"
#include "core/worker_id.h"

namespace resque {
namespace {

// Ruby resque's names (lib/resque/errors.rb, worker.rb#unregister_worker and
// #prune_dead_workers), so that resque-web and the operators' filters see what they know.
constexpr char kDirtyExit[] = "Resque::DirtyExit";
constexpr char kDirtyExitError[] = "Job still being processed";
constexpr char kPrunedDirtyExit[] = "Resque::PruneDeadWorkerDirtyExit";
// Ours: a job that took max_recoveries workers down with it.
constexpr char kPoisonJob[] = "resque::PoisonJob";

// A string field of a parsed object; empty when absent or not a string.
std::string StringField(const std::vector<json::Field>& fields, std::string_view key) {
  const json::Field* f = json::FindField(fields, key);
  if (f == nullptr || f->type != json::Type::kString) return "";
  absl::StatusOr<std::string> s = json::StringValue(f->raw);
  return s.ok() ? *s : "";
}

}  // namespace

absl::Status CheckLivenessOptions(const LivenessOptions& options) {
  if (options.dead_after <= absl::ZeroDuration() ||
      options.dead_after == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("dead-after must be a positive number of seconds, not %s",
                        absl::FormatDuration(options.dead_after)));
  }
  const absl::Duration floor =
      kMissedBeatsBeforeDead * options.heartbeat_interval + absl::Seconds(1);
  if (options.heartbeat_interval > absl::ZeroDuration() && options.dead_after < floor) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "dead-after %s is too short: it must be at least %s (%d heartbeat intervals of %s, "
        "plus the second a heartbeat is rounded to), or a live worker that misses a beat or "
        "two would be taken for dead and its jobs run twice",
        absl::FormatDuration(options.dead_after), absl::FormatDuration(floor),
        kMissedBeatsBeforeDead, absl::FormatDuration(options.heartbeat_interval)));
  }
  if (options.peer_dead_after < kPeerHeartbeatInterval ||
      options.peer_dead_after == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "peer-dead-after %s is too short: it must be at least %s, Ruby resque's heartbeat "
        "interval, or live Ruby workers would be unregistered between two of their beats "
        "(Ruby's own prune interval is 300 s)",
        absl::FormatDuration(options.peer_dead_after),
        absl::FormatDuration(kPeerHeartbeatInterval)));
  }
  return absl::OkStatus();
}

absl::Status Liveness::RegisterSlot(const std::string& id) {
  return backend_.RegisterWorker(
      id, FormatIsoTime(options_.clock->Now()),
      WorkerLiveness{.dead_after = options_.dead_after, .in_flight = reliable_.load()});
}

std::optional<DirtyExit> Liveness::DirtyExitOf(const std::string& worker_id, bool by_heartbeat) {
  absl::StatusOr<std::optional<std::string>> working = backend_.WorkerJob(worker_id);
  if (!working.ok() || !working->has_value()) return std::nullopt;
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(**working);
  if (!fields.ok()) {
    options_.log(LogLevel::kError,
                 absl::StrFormat("dead worker %s: its working-on record is not a JSON object (%s)",
                                 worker_id, fields.status().message()));
    return std::nullopt;
  }
  const json::Field* payload = json::FindField(*fields, "payload");
  const std::string payload_json = payload != nullptr ? payload->raw : "";
  absl::StatusOr<Payload> decoded = DecodePayload(payload_json);
  const absl::Time now = options_.clock->Now();
  Failure f;
  f.failed_at = FormatFailedAt(now);
  f.payload = payload_json;
  f.exception = by_heartbeat ? kPrunedDirtyExit : kDirtyExit;
  // Ruby: "Worker <id> did not gracefully exit while processing <class>".
  f.error = by_heartbeat
                ? absl::StrFormat("Worker %s did not gracefully exit while processing %s",
                                  worker_id, decoded.ok() ? decoded->class_name : "<Unknown Job>")
                : kDirtyExitError;
  f.worker = worker_id;
  f.queue = StringField(*fields, "queue");
  const std::string failure_json = EncodeFailure(f);
  f.exception = kPoisonJob;
  f.error = absl::StrFormat(
      "the worker died %d times while performing it (the last one: worker %s, %s); not run "
      "again",
      options_.max_recoveries, worker_id,
      by_heartbeat ? "its heartbeat stopped" : "its process was gone");
  return DirtyExit{.working_json = **std::move(working),
                   .failure_json = failure_json,
                   .queue = f.queue,
                   .job_id = decoded.ok() ? decoded->id : IdOfBadPayload(payload_json),
                   .status_json = StatusUpdateJson(JobState::kFailed, now),
                   .payload_json = payload_json,
                   .poison_failure_json = EncodeFailure(f)};
}

absl::StatusOr<int64_t> Liveness::Recover(RecoverRequest request, std::string_view why) {
  request.max_recoveries = options_.max_recoveries;
  request.waiting_status_json = StatusUpdateJson(JobState::kWaiting, options_.clock->Now());
  absl::StatusOr<std::optional<RecoverResult>> r = backend_.RecoverWorker(request);
  if (!r.ok()) {
    if (!absl::IsUnimplemented(r.status())) {
      options_.log(LogLevel::kError, absl::StrFormat("recovering dead worker %s: %s",
                                                     request.worker_id, r.status().message()));
    }
    return r.status();
  }
  // Someone else did it first, or the worker showed a sign of life or moved on meanwhile.
  if (!r->has_value()) return 0;
  const RecoverResult& done = **r;
  std::string what = absl::StrFormat("%d job(s) back on their queues", done.handed_back);
  if (done.dirty_exits > 0) {
    absl::StrAppend(&what, "; its running job recorded as failed (dirty exit)");
  }
  if (done.poisoned > 0) {
    absl::StrAppend(&what, absl::StrFormat("; it died running a job that %d workers died "
                                           "running: recorded as failed (%s), not run again",
                                           done.recoveries, kPoisonJob));
  } else if (done.recoveries > 0) {
    absl::StrAppend(&what, absl::StrFormat("; it died running one of them (%d of %d deaths "
                                           "before that job is failed as a poison job)",
                                           done.recoveries, options_.max_recoveries));
  }
  if (done.already_failed > 0) {
    absl::StrAppend(&what, absl::StrFormat("; %d job(s) a peer had recorded as failed left there",
                                           done.already_failed));
  }
  options_.log(LogLevel::kInfo,
               absl::StrFormat("worker %s: %s; unregistered it, %s", request.worker_id, why, what));
  return done.handed_back;
}

void Liveness::PruneDeadWorkers() {
  absl::StatusOr<std::vector<std::string>> workers = backend_.Workers();
  if (!workers.ok()) return;
  const pid_t self = getpid();
  for (const std::string& id : *workers) {
    absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
    if (!parts.ok() || parts->host != options_.hostname || parts->pid == self) continue;
    // EPERM: the process exists under another user; only ESRCH says it is gone.
    if (kill(parts->pid, 0) == 0 || errno != ESRCH) continue;
    // Its process is gone, so whatever it had in flight is recovered, heartbeat or not.
    absl::StatusOr<int64_t> done =
        Recover({.worker_id = id, .dirty_exit = DirtyExitOf(id, /*by_heartbeat=*/false)},
                absl::StrFormat("its process %d is gone", parts->pid));
    if (absl::IsUnimplemented(done.status()) && backend_.UnregisterWorker(id).ok()) {
      options_.log(LogLevel::kInfo, absl::StrFormat("pruned dead worker %s", id));
    }
  }
}

bool Liveness::IsDead(const WorkerBeat& beat, absl::Time now) const {
  absl::StatusOr<absl::Time> at = ParseHeartbeat(beat.beat);
  if (!at.ok()) return false;  // not a time: nothing to judge by
  if (beat.dead_after.has_value()) return now - *at > *beat.dead_after;
  // Ruby: (server_time - Time.parse(beat)).to_i > Resque.prune_interval, in whole seconds.
  return absl::Trunc(now - *at, absl::Seconds(1)) > options_.peer_dead_after;
}

int64_t Liveness::BeatAndRecover() {
  absl::StatusOr<LivenessView> view = backend_.ReadLiveness();
  if (!view.ok()) {
    // Unavailable during a Redis outage: the next beat will do. Not an error for a backend
    // that keeps no heartbeats.
    if (!absl::IsUnimplemented(view.status())) {
      options_.log(LogLevel::kError, absl::StrFormat("heartbeat: %s", view.status().message()));
    }
    return 0;
  }
  // Every host reads one clock when the backend has one: hosts' clocks drift.
  const absl::Time now = view->server_time.value_or(options_.clock->Now());
  if (absl::Status s = backend_.Heartbeat(ids_, FormatHeartbeat(now)); !s.ok()) {
    if (!absl::IsUnimplemented(s)) {
      options_.log(LogLevel::kError, absl::StrFormat("heartbeat: %s", s.message()));
    }
    return 0;
  }
  const auto ours = [this](const std::string& id) {
    return std::find(ids_.begin(), ids_.end(), id) != ids_.end();
  };
  int64_t recovered = 0;
  for (const WorkerBeat& beat : view->beats) {
    if (stopping_.load()) return recovered;
    if (ours(beat.worker_id) || !IsDead(beat, now)) continue;
    // Only if the heartbeat is still the one judged too old: of several workers that find the
    // same dead one, one recovers it.
    recovered += Recover({.worker_id = beat.worker_id,
                          .if_heartbeat = beat.beat,
                          .dirty_exit = DirtyExitOf(beat.worker_id, /*by_heartbeat=*/true)},
                         absl::StrFormat("no heartbeat since %s", beat.beat))
                     .value_or(0);
  }
  for (const std::string& id : view->orphans) {
    if (stopping_.load()) return recovered;
    if (ours(id)) continue;
    // Only if it is still neither registered nor beating when the backend looks again.
    // A peer that unregistered it recorded its running job (Resque::DirtyExit): nothing is
    // left to tell which job it was running, so nothing is counted.
    recovered += Recover({.worker_id = id, .if_orphaned = true},
                         "neither registered nor beating (a peer unregistered it)")
                     .value_or(0);
  }
  return recovered;
}
absl::Status Liveness::ReleaseOne(const std::string& id) {
  if (reliable_.load()) {
    // Not a death: nothing is counted; what goes back is waiting again.
    absl::StatusOr<std::optional<RecoverResult>> back = backend_.RecoverWorker(
        {.worker_id = id,
         .waiting_status_json = StatusUpdateJson(JobState::kWaiting, options_.clock->Now())});
    if (back.ok()) {
      if (back->has_value() && (*back)->handed_back > 0) {
        options_.log(LogLevel::kInfo,
                     absl::StrFormat("worker %s: %d unfinished job(s) back on their queues", id,
                                     (*back)->handed_back));
      }
      return absl::OkStatus();
    }
    if (absl::IsUnavailable(back.status()) || absl::IsDeadlineExceeded(back.status())) {
      return back.status();
    }
    if (absl::IsUnimplemented(back.status())) {
      reliable_.store(false);  // no in-flight lists: a plain unregister does
    } else {
      // Retrying would not help (a key of the wrong type); staying registered would make a
      // ghost that every other worker then fails to recover.
      options_.log(LogLevel::kError,
                   absl::StrFormat("worker %s: its in-flight jobs cannot go back to their queues "
                                   "(%s): unregistering it, they stay in flight until the key "
                                   "is repaired and a worker recovers them",
                                   id, back.status().message()));
    }
  }
  return backend_.UnregisterWorker(id);
}

absl::Status Liveness::ReleaseSlots(const std::vector<std::string>& ids, absl::Time deadline) {
  Clock& timer = *options_.timer;
  Backoff backoff(absl::Milliseconds(50), absl::Milliseconds(400), [&](absl::Duration d) {
    timer.SleepFor(std::min(d, deadline - timer.MonotonicNow()));
    return true;
  });
  std::vector<std::string> left = ids;
  absl::Status last;
  for (;;) {
    std::vector<std::string> still;
    for (const std::string& id : left) {
      // Once one failed, the others would too (Redis is away): each try may take a whole
      // capped wait, so they wait for the next round.
      absl::Status s = last.ok() || still.empty() ? ReleaseOne(id) : last;
      if (s.ok()) continue;
      last = s;
      still.push_back(id);
    }
    left = std::move(still);
    if (left.empty()) return absl::OkStatus();
    if (timer.MonotonicNow() + backoff.delay() >= deadline) break;
    backoff.Wait();
  }
  return absl::UnavailableError(absl::StrFormat(
      "could not unregister worker%s %s (%s): %s listed until another worker recovers %s, "
      "once %s heartbeat is %s old or at once when a worker starts on %s",
      left.size() == 1 ? "" : "s", absl::StrJoin(left, ", "), last.message(),
      left.size() == 1 ? "it stays" : "they stay", left.size() == 1 ? "it" : "them",
      left.size() == 1 ? "its" : "their", absl::FormatDuration(options_.dead_after),
      options_.hostname));
}

void Liveness::ReleaseSlot(const std::string& id) {
  absl::Status s = ReleaseSlots({id}, options_.timer->MonotonicNow() + absl::Seconds(1));
  if (!s.ok()) options_.log(LogLevel::kError, std::string(s.message()));
}

void Liveness::Start() {
  stopping_.store(false);
  if (options_.heartbeat_interval <= absl::ZeroDuration()) return;
  (void)BeatAndRecover();  // at once, so that no registered slot goes without a heartbeat
  beats_.Start();
}

void Liveness::Stop() {
  stopping_.store(true);
  beats_.Stop();
}

}  // namespace resque
