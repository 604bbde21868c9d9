// Parking a thread on a 32-bit atomic word (Linux futex), with a timeout: what C++20's
// std::atomic::wait lacks. Internal to backends/memory.
#ifndef RESQUE_BACKENDS_MEMORY_FUTEX_H_
#define RESQUE_BACKENDS_MEMORY_FUTEX_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace resque::memory {

// Parks the calling thread while `*word == expected`, for at most `timeout`
// (InfiniteDuration: no limit). Returns at once when the value differs; may also return early
// (a wake, a signal): callers re-check their condition.
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, absl::Duration timeout);

// Wakes every thread parked on `word`. Only the address is used: `word` may already be freed.
void FutexWakeAll(std::atomic<uint32_t>* word);

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_FUTEX_H_
