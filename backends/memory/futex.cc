#include "backends/memory/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

namespace resque::memory {
namespace {

// The kernel reads the word as a plain int: the atomic must be exactly that, lock-free.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
static_assert(std::atomic<uint32_t>::is_always_lock_free);

uint32_t* Address(std::atomic<uint32_t>* word) { return reinterpret_cast<uint32_t*>(word); }

}  // namespace

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return;
  timespec relative{};
  timespec* relative_or_null = nullptr;
  if (timeout != absl::InfiniteDuration()) {
    // Capped at a day: a longer wait simply parks again after the caller re-checks.
    relative = absl::ToTimespec(std::min(timeout, absl::Hours(24)));
    relative_or_null = &relative;
  }
  // FUTEX_WAIT's timeout is relative and measured on CLOCK_MONOTONIC.
  syscall(SYS_futex, Address(word), FUTEX_WAIT_PRIVATE, expected, relative_or_null, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, Address(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace resque::memory
