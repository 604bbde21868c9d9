// QueueTable: the memory backend's queues by name, found without a lock. Entries are inserted by
// compare-and-swap and never removed before the table dies (a removed queue is emptied and
// unlisted instead), so a pointer to an entry stays valid for the table's lifetime.
// Internal to backends/memory.
#ifndef RESQUE_BACKENDS_MEMORY_QUEUE_TABLE_H_
#define RESQUE_BACKENDS_MEMORY_QUEUE_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "backends/memory/epoch.h"
#include "backends/memory/lock_free_queue.h"

namespace resque::memory {

struct QueueEntry {
  QueueEntry(std::string_view queue_name, EpochDomain* epochs) : name(queue_name), queue(epochs) {}

  // The fields every push and lookup reads, and seldom written, come first, away from the
  // queue's head and tail lines (LockFreeQueue aligns those).
  const std::string name;
  // Whether Queues() names it: set by a push, cleared by RemoveQueue.
  std::atomic<bool> listed{false};
  // How many Reserve calls are parked on this queue: a push only makes a wake-up call when there
  // is someone to wake.
  std::atomic<int32_t> waiters{0};
  QueueEntry* next_in_bucket = nullptr;  // immutable once published
  LockFreeQueue queue;
};

class QueueTable {
 public:
  // `epochs` must outlive the table.
  explicit QueueTable(EpochDomain* epochs);
  // No other thread may use the table or its entries any more.
  ~QueueTable();
  QueueTable(const QueueTable&) = delete;
  QueueTable& operator=(const QueueTable&) = delete;

  // The entry named `name`; nullptr when there is none.
  QueueEntry* Find(std::string_view name) const;
  // The entry named `name`, made (unlisted and empty) when there is none.
  QueueEntry* FindOrCreate(std::string_view name);
  // Calls `visit` on every entry, listed or not.
  void ForEach(absl::FunctionRef<void(QueueEntry&)> visit) const;

 private:
  // A fixed number of buckets: the table holds a handful of queues, and a fixed array needs no
  // lock-free resizing.
  static constexpr size_t kBuckets = 256;

  static size_t BucketOf(std::string_view name);
  static QueueEntry* FindFrom(QueueEntry* entry, std::string_view name);
  // The entry this thread found last in this table, if it is named `name`; else nullptr.
  QueueEntry* LastFound(std::string_view name) const;
  QueueEntry* RememberFound(QueueEntry* entry) const;

  const uint64_t id_;  // tells this table apart in a thread's cache of its last lookup
  EpochDomain* const epochs_;
  std::array<std::atomic<QueueEntry*>, kBuckets> buckets_{};
};

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_QUEUE_TABLE_H_
