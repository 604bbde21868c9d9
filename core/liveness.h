// Liveness: how a worker shows it is alive and deals with the workers that are not. Its slots
// register declaring the dead-after they want to be judged by; it beats (Backend::Heartbeat)
// for them every heartbeat interval on a thread of its own and recovers the workers whose
// heartbeat is too old by their own rule (ours: what they declared; a peer's: Ruby's prune
// interval), and our workers a peer unregistered with jobs still in flight; it prunes the dead
// workers of its own host at start, and releases its slots at the end. See docs/reliability.md.
//
//   resque::Liveness liveness(backend, worker_ids, options, reliable);
//   RESQUE_RETURN_IF_ERROR(resque::CheckLivenessOptions(options));
//   liveness.PruneDeadWorkers();
//   for (const std::string& id : worker_ids) RESQUE_RETURN_IF_ERROR(liveness.RegisterSlot(id));
//   liveness.Start();  // beats now, then every interval
//   ... work ...
//   liveness.Stop();
//   absl::Status released = liveness.ReleaseSlots(worker_ids, deadline);
#ifndef RESQUE_CORE_LIVENESS_H_
#define RESQUE_CORE_LIVENESS_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/periodic.h"

namespace resque {

// Ruby resque's Resque.prune_interval (5 x its 60 s heartbeat interval): how old a heartbeat
// written without a declared dead-after (a peer's) must be for its worker to count as dead.
inline constexpr absl::Duration kPeerDeadAfter = absl::Seconds(300);
// Ruby resque's default Resque.heartbeat_interval: a peer's beat is at most this old while it
// lives, so --peer-dead-after may not be below it.
inline constexpr absl::Duration kPeerHeartbeatInterval = absl::Seconds(60);
// How many heartbeat intervals a worker of ours may miss (a slow Redis, a stalled host, the
// whole second a beat is rounded down to) before it may be taken for dead: dead_after must be
// at least this many intervals plus one second.
inline constexpr int kMissedBeatsBeforeDead = 3;

struct LivenessOptions {
  std::string hostname = {};
  absl::Duration heartbeat_interval = absl::Seconds(5);  // zero: no heartbeat thread
  // What our slots declare as they register: how long without a heartbeat before others may
  // recover them (see CheckLivenessOptions for its floor).
  absl::Duration dead_after = absl::Seconds(60);
  // How a heartbeat with no declaration (a peer's) is judged: its worker is dead once the beat is
  // older than this, in whole seconds, as Ruby judges it.
  absl::Duration peer_dead_after = kPeerDeadAfter;
  // How many times a worker may die running one job (a crash, exit(), kill -9, a dead
  // heartbeat) before the recovery records it as failed (resque::PoisonJob) instead of handing
  // it back: a job that takes its worker down would otherwise take down the next one too.
  int64_t max_recoveries = 3;
  Clock* clock = RealClock();  // what heartbeats are written and judged by (wall time)
  Clock* timer = RealClock();  // what the interval and the release backoff wait on
  LogSink log = nullptr;       // must be callable
};

// InvalidArgument, saying why, for a dead_after not above kMissedBeatsBeforeDead heartbeat
// intervals plus a second (with a heartbeat), or a peer_dead_after below
// kPeerHeartbeatInterval: either would let a live worker's jobs be taken and run twice.
absl::Status CheckLivenessOptions(const LivenessOptions& options);

class Liveness {
 public:
  // `backend` is not owned. `reliable` is the worker's: cleared when the backend turns out to
  // have no in-flight lists.
  Liveness(Backend& backend, std::vector<std::string> worker_ids, LivenessOptions options,
           std::atomic<bool>& reliable)
      : backend_(backend),
        ids_(std::move(worker_ids)),
        options_(std::move(options)),
        reliable_(reliable),
        beats_(*options_.timer, options_.heartbeat_interval, [this] { (void)BeatAndRecover(); }) {}
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // Registers slot `id`, declaring dead_after (and, in reliable mode, that it keeps jobs in
  // flight), dated by the clock.
  absl::Status RegisterSlot(const std::string& id);
  // Recovers the registered workers of this host whose process is gone, heartbeat or not. A job
  // such a worker had running and not in flight (a peer's) is recorded as a Resque::DirtyExit
  // failure, as Ruby's pruning records it; one in flight is counted against max_recoveries.
  void PruneDeadWorkers();
  // Writes the heartbeats of this worker's slots (in the backend's time when it has a clock of
  // its own, as Ruby does), then recovers every other worker whose heartbeat is too old by its
  // rule (a running peer job is recorded as a Resque::PruneDeadWorkerDirtyExit failure), and
  // every orphaned worker of ours (LivenessView::orphans). Returns how many jobs went back.
  int64_t BeatAndRecover();
  // Unregisters slots at the end; in reliable mode also hands back the jobs they left in
  // flight. A slot whose jobs cannot go back (a queue key of the wrong type) is unregistered
  // all the same, its in-flight lists left for recovery (the error is logged). Retried while
  // the backend is unreachable, until `deadline` on the timer (at least one try; the slots
  // after one that failed wait for the next round): then Unavailable naming the slots left
  // registered, which other workers recover.
  absl::Status ReleaseSlots(const std::vector<std::string>& ids, absl::Time deadline);
  // ReleaseSlots of one slot, for up to a second; an error is logged.
  void ReleaseSlot(const std::string& id);

  // With a heartbeat interval: beats at once, then every interval on a thread, until Stop(),
  // which also ends a recovery round in progress after the worker it is at.
  void Start();
  void Stop();

 private:
  // Whether the worker of `beat` is dead at `now` by its own rule.
  bool IsDead(const WorkerBeat& beat, absl::Time now) const;
  // The failure to record for the job in `worker_id`'s working-on record, if it has one: as
  // Ruby's pruning names it, a PruneDeadWorkerDirtyExit when the worker was judged by its
  // heartbeat, else a DirtyExit; and the resque::PoisonJob failure for max_recoveries.
  std::optional<DirtyExit> DirtyExitOf(const std::string& worker_id, bool by_heartbeat);
  // Recovers `request.worker_id` (a dead worker's, its running job counted against
  // max_recoveries, with the waiting status for what goes back), logging what happened under
  // `why`; how many jobs went back. Unimplemented when the backend keeps no in-flight lists.
  absl::StatusOr<int64_t> Recover(RecoverRequest request, std::string_view why);
  // One slot's release: OK, or the error that kept it registered.
  absl::Status ReleaseOne(const std::string& id);

  Backend& backend_;
  const std::vector<std::string> ids_;
  const LivenessOptions options_;
  std::atomic<bool>& reliable_;
  std::atomic<bool> stopping_{false};
  Periodic beats_;
};

}  // namespace resque

#endif  // RESQUE_CORE_LIVENESS_H_
