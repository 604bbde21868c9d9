// Backoff: capped exponential delays between retries, slept through a function the caller gives
// (a Clock's, so that a ManualClock drives it in tests; one that a stop cuts short, in the worker).
//
//   resque::Backoff backoff(absl::Milliseconds(50), absl::Seconds(2),
//                           [&](absl::Duration d) { return SleepUnlessStopped(d); });
//   absl::Status s = resque::RetryWithBackoff(
//       backoff, [&] { return backend.Finish(finishes); },
//       [](const absl::Status& error) { return absl::IsUnavailable(error); });
#ifndef RESQUE_CORE_BACKOFF_H_
#define RESQUE_CORE_BACKOFF_H_

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"

namespace resque {

class Backoff {
 public:
  // Sleeps for the given time; false when something (a stop) cut the sleep short.
  using Sleep = std::function<bool(absl::Duration)>;

  Backoff(absl::Duration first, absl::Duration cap, Sleep sleep)
      : first_(first), cap_(cap), delay_(first), sleep_(std::move(sleep)) {}

  // Sleeps the current delay, then doubles it, up to the cap. False when the sleep was cut short.
  bool Wait() {
    const absl::Duration d = delay_;
    delay_ = std::min(delay_ * 2, cap_);
    return sleep_(d);
  }
  // Back to the first delay, after a success.
  void Reset() { delay_ = first_; }
  // What the next Wait() sleeps.
  absl::Duration delay() const { return delay_; }

 private:
  absl::Duration first_;
  absl::Duration cap_;
  absl::Duration delay_;
  Sleep sleep_;
};

// A Backoff::Sleep that sleeps on `clock` and is never cut short.
inline Backoff::Sleep SleepOn(Clock& clock) {
  return [&clock](absl::Duration d) {
    clock.SleepFor(d);
    return true;
  };
}

namespace backoff_internal {
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace backoff_internal

// Calls `attempt` (returning absl::Status or absl::StatusOr) until it succeeds or
// `retry(error)` says the error is not worth another try, with backoff.Wait() between tries.
// Returns the last result. `retry` is where a caller logs the error it retries, and counts tries.
template <typename Attempt, typename Retry>
auto RetryWithBackoff(Backoff& backoff, Attempt attempt, Retry retry) -> decltype(attempt()) {
  for (;;) {
    auto result = attempt();
    const absl::Status& s = backoff_internal::StatusOf(result);
    if (s.ok() || !retry(s)) return result;
    backoff.Wait();
  }
}

}  // namespace resque

#endif  // RESQUE_CORE_BACKOFF_H_
