// Liveness: how a worker shows it is alive and deals with the workers that are not. It beats
// (Backend::Heartbeat) for its slots every heartbeat interval on a thread of its own, recovers
// the workers whose heartbeat is too old (their in-flight jobs go back to their queues), prunes
// the dead workers of its own host at start, and releases its slots at the end.
//
//   resque::Liveness liveness(backend, worker_ids, options, reliable);
//   liveness.PruneDeadWorkers();
//   liveness.Start();  // beats now, then every interval
//   ... work ...
//   liveness.Stop();
//   for (const std::string& id : worker_ids) liveness.ReleaseSlot(id);
#ifndef RESQUE_CORE_LIVENESS_H_
#define RESQUE_CORE_LIVENESS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/periodic.h"

namespace resque {

struct LivenessOptions {
  std::string hostname = {};
  absl::Duration heartbeat_interval = absl::Seconds(5);  // zero: no heartbeat thread
  absl::Duration dead_after = absl::Seconds(60);
  Clock* clock = RealClock();  // what heartbeats are written and judged by (wall time)
  Clock* timer = RealClock();  // what the interval and the release backoff wait on
  LogSink log = nullptr;       // must be callable
};

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

  // Recovers the registered workers of this host whose process is gone, heartbeat or not.
  void PruneDeadWorkers();
  // Writes the heartbeats of this worker's slots, then recovers every other worker whose
  // heartbeat is older than dead_after. Returns how many jobs went back.
  int64_t BeatAndRecover();
  // Unregisters a slot at the end; in reliable mode also hands back a job left in flight.
  // Retried briefly: a worker left registered shows up as a ghost.
  void ReleaseSlot(const std::string& id);

  // With a heartbeat interval: beats at once, then every interval on a thread, until Stop().
  void Start();
  void Stop();

 private:
  Backend& backend_;
  const std::vector<std::string> ids_;
  const LivenessOptions options_;
  std::atomic<bool>& reliable_;
  Periodic beats_;
};

}  // namespace resque

#endif  // RESQUE_CORE_LIVENESS_H_
