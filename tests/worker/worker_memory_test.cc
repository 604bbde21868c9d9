// The worker tests on the in-memory backend, whose TTLs follow the test's ManualClock.
#include <memory>
#include <vector>

#include "backends/memory/memory_backend.h"
#include "tests/worker/worker_testing.h"

namespace resque::testing {
namespace {

class MemoryWorkerBackend : public WorkerBackend {
 public:
  Backend& backend() override { return *backend_; }
  void AdvanceTime(absl::Duration d) override { clock().Advance(d); }

 private:
  std::unique_ptr<Backend> backend_ = memory::NewMemoryBackend({.clock = &clock()});
};

}  // namespace

std::vector<WorkerBackendFactory> WorkerBackends() {
  return {{"Memory", [] { return std::make_unique<MemoryWorkerBackend>(); }}};
}

}  // namespace resque::testing
