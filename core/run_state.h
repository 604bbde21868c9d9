// RunState: a worker's stop and pause, and the waits that a stop cuts short, timed on the
// worker's timer clock. Thread-safe; Stop, Pause and Resume come from a signal-handling thread.
//
//   resque::RunState state(*resque::RealClock());
//   while (state.AwaitRunnable([] {})) {  // parks while paused; false once stopped
//     if (!state.Sleep(absl::Seconds(5))) break;  // a stop ends the sleep at once
//   }
#ifndef RESQUE_CORE_RUN_STATE_H_
#define RESQUE_CORE_RUN_STATE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "absl/time/time.h"
#include "core/clock.h"

namespace resque {

class RunState {
 public:
  explicit RunState(Clock& timer) : timer_(timer) {}

  // Graceful: finish what runs; immediate: also cancel it (the caller cancels the jobs).
  void Stop(bool immediate);
  void Pause();
  void Resume();

  // Parks while paused, calling `on_park` once before it does; false once a stop is asked for.
  bool AwaitRunnable(const std::function<void()>& on_park);
  // Each slot thread of Worker::Run says so as it ends. AwaitStopOrSlotsEnded returns once a
  // stop is asked for (true) or `slots` of them have ended (false), whichever comes first.
  void SlotEnded();
  bool AwaitStopOrSlotsEnded(int slots);
  // When the first stop was asked for, on the timer; InfiniteFuture before.
  absl::Time stopped_at() const;
  // False when a stop cut the sleep short (or came before it).
  bool Sleep(absl::Duration d);
  // False when an immediate stop cut the sleep short (or came before it).
  bool SleepUnlessImmediate(absl::Duration d);

  // Lock-free reads, for the hot path.
  bool stopping() const { return stop_flag_.load(); }
  bool immediate() const { return immediate_flag_.load(); }
  bool paused() const { return pause_flag_.load(); }
  // How many slots AwaitRunnable holds parked right now.
  int paused_slots() const;

  // The fleet-wide pause flag (Backend::AllWorkersPaused) as the worker's slots last saw it.
  // True when this call changed it: of several slots that see the change, one logs it.
  bool NoteFleetPaused(bool paused) { return fleet_paused_.exchange(paused) != paused; }

 private:
  Clock& timer_;
  // std::mutex rather than absl::Mutex: the sanitizers see through it.
  mutable std::mutex mu_;
  std::condition_variable changed_;  // notified whenever a waiter's condition may have turned true
  bool stopping_ = false;            // guarded by mu_
  bool immediate_ = false;           // guarded by mu_
  bool paused_ = false;              // guarded by mu_
  int paused_slots_ = 0;             // guarded by mu_
  int ended_slots_ = 0;              // guarded by mu_
  absl::Time stopped_at_ = absl::InfiniteFuture();  // guarded by mu_
  // Mirrors of the three flags for reads that must not take mu_.
  std::atomic<bool> stop_flag_{false};
  std::atomic<bool> immediate_flag_{false};
  std::atomic<bool> pause_flag_{false};
  std::atomic<bool> fleet_paused_{false};
};

}  // namespace resque

#endif  // RESQUE_CORE_RUN_STATE_H_
