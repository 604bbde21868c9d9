// The in-memory backend: a Backend that lives in this process. It is the test double users put
// under their job code's unit tests (no Redis needed) and an in-process job queue. It behaves like
// the Redis backend in every observable way (the conformance suite checks it); pushes and pops are
// lock-free, and a Reserve with a wait parks the thread until a push wakes it.
//
//   resque::ManualClock clock;
//   std::unique_ptr<resque::Backend> backend = resque::memory::NewMemoryBackend({.clock = &clock});
#ifndef RESQUE_BACKENDS_MEMORY_MEMORY_BACKEND_H_
#define RESQUE_BACKENDS_MEMORY_MEMORY_BACKEND_H_

#include <memory>

#include "core/backend.h"
#include "core/clock.h"

namespace resque::memory {

struct MemoryOptions {
  // Decides when statuses with a TTL expire. Not owned; must outlive the backend.
  Clock* clock = RealClock();
};

std::unique_ptr<Backend> NewMemoryBackend(MemoryOptions options = {});

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_MEMORY_BACKEND_H_
