#include "core/clock.h"

#include "absl/time/clock.h"

namespace resque {
namespace {

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock* RealClock() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

}  // namespace resque
