// Periodic: calls a function every interval on a thread of its own, timed by a Clock (so that a
// ManualClock drives it in tests), until Stop(). The worker's heartbeat and watchdog run on it.
//
//   resque::Periodic beat(*clock, absl::Seconds(5), [&] { (void)liveness.BeatAndRecover(); });
//   beat.Start();
//   ...
//   beat.Stop();  // wakes the thread at once and joins it
#ifndef RESQUE_CORE_PERIODIC_H_
#define RESQUE_CORE_PERIODIC_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/time.h"
#include "core/clock.h"

namespace resque {

class Periodic {
 public:
  Periodic(Clock& timer, absl::Duration interval, std::function<void()> tick)
      : timer_(timer), interval_(interval), tick_(std::move(tick)) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // The first call comes one interval after Start. No-op when it runs already.
  void Start() {
    if (thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = false;
    }
    thread_ = std::thread([this] { Loop(); });
  }
  // No-op when it does not run.
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!timer_.WaitFor(lock, wake_, interval_, [this] { return stop_; })) {
      lock.unlock();
      tick_();
      lock.lock();
    }
  }

  Clock& timer_;
  const absl::Duration interval_;
  const std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace resque

#endif  // RESQUE_CORE_PERIODIC_H_
