// The conformance suite on the in-memory backend, with a ManualClock for TTLs.
#include <memory>

#include "absl/time/clock.h"
#include "backends/memory/memory_backend.h"
#include "core/clock.h"
#include "tests/conformance/backend_conformance.h"

namespace resque::testing {
namespace {

class MemoryUnderTest : public BackendUnderTest {
 public:
  Backend& backend() override { return *backend_; }
  void AdvanceTime(absl::Duration d) override { clock_.Advance(d); }

  bool AwaitWaitingReservers(int n, absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    while (memory::WaitingReserversForTesting(*backend_) < n) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

 private:
  ManualClock clock_;
  // Declared after the clock it holds a pointer to, so that it is destroyed first.
  std::unique_ptr<Backend> backend_ = memory::NewMemoryBackend({.clock = &clock_});
};

INSTANTIATE_TEST_SUITE_P(Memory, BackendConformance,
                         ::testing::Values(BackendFactory{
                             "Memory", [] { return std::make_unique<MemoryUnderTest>(); }}),
                         FactoryName);

}  // namespace
}  // namespace resque::testing
