// Clock: where time comes from when a TTL, an interval or a timeout is decided.
//
// Production code uses RealClock(); tests use ManualClock to move time forward without sleeping.
//
//   resque::ManualClock clock(absl::FromUnixSeconds(1700000000));
//   auto backend = resque::memory::NewMemoryBackend({.clock = &clock});
//   clock.Advance(absl::Hours(25));  // statuses written with a 24 h TTL are now gone
#ifndef RESQUE_CORE_CLOCK_H_
#define RESQUE_CORE_CLOCK_H_

#include <atomic>

#include "absl/time/time.h"

namespace resque {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system clock. Thread-safe; never destroyed.
Clock* RealClock();

// A clock that only moves when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_.fetch_add(absl::ToInt64Nanoseconds(d)); }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t)); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace resque

#endif  // RESQUE_CORE_CLOCK_H_
