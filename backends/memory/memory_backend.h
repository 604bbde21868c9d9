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

// A fresh, empty backend. Destroy it only once no other thread calls it any more; a Reserve still
// parked in it then is woken and returns Cancelled before the destructor completes.
std::unique_ptr<Backend> NewMemoryBackend(MemoryOptions options = {});

// For tests: how many Reserve calls of `backend` are waiting (parked, or about to park) so that a
// push to one of their queues now is certain to wake them. -1 when `backend` was not made by
// NewMemoryBackend.
int WaitingReserversForTesting(const Backend& backend);

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_MEMORY_BACKEND_H_
