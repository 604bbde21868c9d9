#include "backends/memory/queue_table.h"

#include <atomic>
#include <functional>
#include <memory>

namespace resque::memory {
namespace {

// Each table gets an id that is never reused, so that a thread's cached entry of a destroyed
// table is never mistaken for an entry of a new table at the same address.
uint64_t NextTableId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// The entry this thread found last, and in which table. A worker reserves from, and a producer
// pushes to, the same few names over and over; comparing the name with the cached entry's costs
// a fraction of hashing it and walking its bucket. Entries live as long as their table and their
// names never change, so the pointer is safe to follow whenever the table id matches (the caller
// is using that table, so it is alive).
struct LastLookup {
  uint64_t table_id = 0;
  QueueEntry* entry = nullptr;
};
thread_local LastLookup t_last_lookup;

}  // namespace

QueueTable::QueueTable(EpochDomain* epochs) : id_(NextTableId()), epochs_(epochs) {}

QueueTable::~QueueTable() {
  for (std::atomic<QueueEntry*>& bucket : buckets_) {
    for (QueueEntry* entry = bucket.load(); entry != nullptr;) {
      QueueEntry* next = entry->next_in_bucket;
      delete entry;
      entry = next;
    }
  }
}

size_t QueueTable::BucketOf(std::string_view name) {
  return std::hash<std::string_view>{}(name) % kBuckets;
}

QueueEntry* QueueTable::FindFrom(QueueEntry* entry, std::string_view name) {
  for (; entry != nullptr; entry = entry->next_in_bucket) {
    if (entry->name == name) return entry;
  }
  return nullptr;
}

QueueEntry* QueueTable::LastFound(std::string_view name) const {
  const LastLookup& last = t_last_lookup;
  if (last.table_id == id_ && last.entry->name == name) return last.entry;
  return nullptr;
}

QueueEntry* QueueTable::RememberFound(QueueEntry* entry) const {
  if (entry != nullptr) t_last_lookup = LastLookup{id_, entry};
  return entry;
}

QueueEntry* QueueTable::Find(std::string_view name) const {
  if (QueueEntry* last = LastFound(name)) return last;
  return RememberFound(FindFrom(buckets_[BucketOf(name)].load(), name));
}

QueueEntry* QueueTable::FindOrCreate(std::string_view name) {
  if (QueueEntry* last = LastFound(name)) return last;
  std::atomic<QueueEntry*>& bucket = buckets_[BucketOf(name)];
  QueueEntry* head = bucket.load();
  if (QueueEntry* found = FindFrom(head, name)) return RememberFound(found);
  auto fresh = std::make_unique<QueueEntry>(name, epochs_);
  for (;;) {
    fresh->next_in_bucket = head;
    if (bucket.compare_exchange_weak(head, fresh.get())) {
      return RememberFound(fresh.release());  // the table owns it
    }
    // Someone else inserted meanwhile, perhaps the same name: look again before retrying.
    if (QueueEntry* found = FindFrom(head, name)) return RememberFound(found);
  }
}

void QueueTable::ForEach(absl::FunctionRef<void(QueueEntry&)> visit) const {
  for (const std::atomic<QueueEntry*>& bucket : buckets_) {
    for (QueueEntry* entry = bucket.load(); entry != nullptr; entry = entry->next_in_bucket) {
      visit(*entry);
    }
  }
}

}  // namespace resque::memory
