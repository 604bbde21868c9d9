#include "core/liveness.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/backoff.h"
#include "core/heartbeat.h"
#include "core/worker_id.h"

namespace resque {

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
    absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, std::nullopt);
    if (back.ok()) {
      options_.log(LogLevel::kInfo,
                   absl::StrFormat("pruned dead worker %s; %d job(s) back on their queues", id,
                                   back->value_or(0)));
    } else if (absl::IsUnimplemented(back.status()) && backend_.UnregisterWorker(id).ok()) {
      options_.log(LogLevel::kInfo, absl::StrFormat("pruned dead worker %s", id));
    }
  }
}

int64_t Liveness::BeatAndRecover() {
  const absl::Time now = options_.clock->Now();
  if (absl::Status s = backend_.Heartbeat(ids_, FormatHeartbeat(now)); !s.ok()) {
    // Unavailable during a Redis outage: the next beat will do. Not an error for a backend
    // that keeps no heartbeats.
    if (!absl::IsUnimplemented(s)) {
      options_.log(LogLevel::kError, absl::StrFormat("heartbeat: %s", s.ToString()));
    }
    return 0;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> beats = backend_.Heartbeats();
  if (!beats.ok()) return 0;
  int64_t recovered = 0;
  for (const auto& [id, beat] : *beats) {
    if (std::find(ids_.begin(), ids_.end(), id) != ids_.end()) continue;
    absl::StatusOr<absl::Time> at = ParseHeartbeat(beat);
    if (!at.ok() || now - *at <= options_.dead_after) continue;
    // Only if the heartbeat is still the one judged too old: of several workers that find the
    // same dead one, one recovers it.
    absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, beat);
    if (!back.ok()) {
      options_.log(LogLevel::kError,
                   absl::StrFormat("recovering dead worker %s: %s", id, back.status().ToString()));
      continue;
    }
    if (!back->has_value()) continue;
    recovered += **back;
    options_.log(LogLevel::kInfo,
                 absl::StrFormat("worker %s: no heartbeat since %s; unregistered it, %d job(s) "
                                 "back on their queues",
                                 id, beat, **back));
  }
  return recovered;
}

void Liveness::ReleaseSlot(const std::string& id) {
  // A job left in flight would wait for a recovery by someone else. Five tries, 100 ms apart
  // and doubling; the stop has come already, so nothing cuts the sleeps short.
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(2), SleepOn(*options_.timer));
  int tries = 0;
  (void)RetryWithBackoff(
      backoff,
      [&]() -> absl::Status {
        if (reliable_.load()) {
          absl::StatusOr<std::optional<int64_t>> back = backend_.RecoverWorker(id, std::nullopt);
          if (back.ok() && back->value_or(0) > 0) {
            options_.log(LogLevel::kInfo,
                         absl::StrFormat("worker %s: %d unfinished job(s) back on their queues", id,
                                         **back));
          }
          if (!absl::IsUnimplemented(back.status())) return back.status();
          reliable_.store(false);  // no in-flight lists: a plain unregister does
        }
        return backend_.UnregisterWorker(id);
      },
      [&](const absl::Status&) { return ++tries < 5; });
}

void Liveness::Start() {
  if (options_.heartbeat_interval <= absl::ZeroDuration()) return;
  (void)BeatAndRecover();  // at once, so that no registered slot goes without a heartbeat
  beats_.Start();
}

void Liveness::Stop() { beats_.Stop(); }

}  // namespace resque
