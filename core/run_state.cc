#include "core/run_state.h"

namespace resque {

void RunState::Stop(bool immediate) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) stopped_at_ = timer_.MonotonicNow();
    stopping_ = true;
    stop_flag_.store(true);
    if (immediate) {
      immediate_ = true;
      immediate_flag_.store(true);
    }
  }
  changed_.notify_all();
}

void RunState::Pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
  pause_flag_.store(true);
}

void RunState::Resume() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
    pause_flag_.store(false);
  }
  changed_.notify_all();
}

bool RunState::AwaitRunnable(const std::function<void()>& on_park) {
  std::unique_lock lock(mu_);
  if (paused_ && !stopping_) {
    // Told outside the lock: `on_park` may log (a log sink may call back into the worker) or
    // hand a job back. Told whenever the slot is about to park, so that it parks holding none.
    lock.unlock();
    on_park();
    lock.lock();
    ++paused_slots_;
    changed_.wait(lock, [this] { return !paused_ || stopping_; });
    --paused_slots_;
  }
  return !stopping_;
}

bool RunState::Sleep(absl::Duration d) {
  std::unique_lock lock(mu_);
  return !timer_.WaitFor(lock, changed_, d, [this] { return stopping_; });
}

bool RunState::SleepUnlessImmediate(absl::Duration d) {
  std::unique_lock lock(mu_);
  return !timer_.WaitFor(lock, changed_, d, [this] { return immediate_; });
}

void RunState::SlotEnded() {
  {
    std::lock_guard lock(mu_);
    ++ended_slots_;
  }
  changed_.notify_all();
}

bool RunState::AwaitStopOrSlotsEnded(int slots) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return stopping_ || ended_slots_ >= slots; });
  return stopping_;
}

absl::Time RunState::stopped_at() const {
  std::lock_guard lock(mu_);
  return stopped_at_;
}

int RunState::paused_slots() const {
  std::lock_guard lock(mu_);
  return paused_slots_;
}

}  // namespace resque
