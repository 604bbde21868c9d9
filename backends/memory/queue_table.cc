#include "backends/memory/queue_table.h"

#include <functional>
#include <memory>

namespace resque::memory {

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

QueueEntry* QueueTable::Find(std::string_view name) const {
  return FindFrom(buckets_[BucketOf(name)].load(), name);
}

QueueEntry* QueueTable::FindOrCreate(std::string_view name) {
  std::atomic<QueueEntry*>& bucket = buckets_[BucketOf(name)];
  QueueEntry* head = bucket.load();
  if (QueueEntry* found = FindFrom(head, name)) return found;
  auto fresh = std::make_unique<QueueEntry>(name, epochs_);
  for (;;) {
    fresh->next_in_bucket = head;
    if (bucket.compare_exchange_weak(head, fresh.get())) return fresh.release();  // table owns it
    // Someone else inserted meanwhile, perhaps the same name: look again before retrying.
    if (QueueEntry* found = FindFrom(head, name)) return found;
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
