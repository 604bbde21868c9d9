#include "backends/memory/epoch.h"

namespace resque::memory {
namespace {

// Every this many retirements through one slot, a Retire call moves the slot's batch to the
// shared list, tries to advance the epoch and frees. A node is freed two epochs after its
// retirement, so about twice this many nodes wait at a time on the shared list, plus up to this
// many in each slot's batch. Small, because glibc's per-thread cache keeps only 7 free blocks of
// a size: freeing a few dozen nodes at once sends most of them, and the mallocs that follow,
// through the slower bins. At 16 the flush's half-dozen shared atomics still cost well under
// one per job.
constexpr uint64_t kCollectEvery = 16;

// Each domain gets an id that is never reused, so that a thread's cached slot of a destroyed
// domain can never be mistaken for a slot of a new domain at the same address.
uint64_t NextDomainId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// The slot this thread used last, and for which domain: pinning usually takes it back, and
// announces the epoch in it, with one compare-and-swap instead of walking the list of slots.
struct SlotCache {
  uint64_t domain_id = 0;
  void* participant = nullptr;
};
thread_local SlotCache t_slot_cache;

}  // namespace

// Memory orders: sequentially consistent, but for the unpin and the batch counter. The epoch
// argument needs the pin's announcement to be ordered before the pinned thread's later loads (a
// store-load order that only seq_cst gives without fences), and ThreadSanitizer models seq_cst
// operations but not fences.

namespace {
uint64_t Pinned(uint64_t epoch) { return (epoch << 1) | 1; }
}  // namespace

EpochDomain::Guard::~Guard() {
  if (participant_ != nullptr) {
    // Guards are only made by EpochDomain::Pin, whose domain outlives them. Release suffices
    // here: the reads made while pinned and the writes to the slot's batch stay before the
    // store; TryAdvance's seq_cst load and the next holder's compare-and-swap synchronize with
    // it.
    participant_->state.store(0, std::memory_order_release);
  }
}

EpochDomain::EpochDomain() : id_(NextDomainId()) {}

EpochDomain::~EpochDomain() {
  for (Retirable* node = retired_head_.exchange(nullptr); node != nullptr;) {
    Retirable* next = node->retired_next_;
    delete node;
    node = next;
  }
  for (Participant* p = participants_.load(); p != nullptr;) {
    for (Retirable* node = p->batch_first; node != nullptr;) {
      Retirable* next = node->retired_next_;
      delete node;
      node = next;
    }
    Participant* next = p->next;
    delete p;
    p = next;
  }
}

EpochDomain::Participant* EpochDomain::Acquire(uint64_t epoch) {
  SlotCache& cache = t_slot_cache;
  if (cache.domain_id == id_) {
    auto* cached = static_cast<Participant*>(cache.participant);
    uint64_t expected = 0;
    if (cached->state.compare_exchange_strong(expected, Pinned(epoch))) return cached;
  }
  Participant* found = nullptr;
  for (Participant* p = participants_.load(); p != nullptr && found == nullptr; p = p->next) {
    uint64_t expected = 0;
    if (p->state.load() == 0 && p->state.compare_exchange_strong(expected, Pinned(epoch))) {
      found = p;
    }
  }
  if (found == nullptr) {
    // Owned by the domain from here on; freed by ~EpochDomain.
    found = new Participant;
    found->state.store(Pinned(epoch));
    Participant* head = participants_.load();
    do {
      found->next = head;
    } while (!participants_.compare_exchange_weak(head, found));
  }
  cache = SlotCache{id_, found};
  return found;
}

EpochDomain::Guard EpochDomain::Pin() {
  uint64_t epoch = epoch_.load();
  Participant* p = Acquire(epoch);
  // Check that the announced epoch is still the current one: an announcement of an epoch that
  // moved on meanwhile could let nodes retired before our first load be freed under us.
  for (;;) {
    const uint64_t now = epoch_.load();
    if (now == epoch) break;
    epoch = now;
    p->state.store(Pinned(epoch));
  }
  return Guard(p);
}

void EpochDomain::TryAdvance() {
  uint64_t epoch = epoch_.load();
  for (Participant* p = participants_.load(); p != nullptr; p = p->next) {
    const uint64_t state = p->state.load();
    if ((state & 1) != 0 && (state >> 1) != epoch) return;
  }
  epoch_.compare_exchange_strong(epoch, epoch + 1);
}

void EpochDomain::PushRetired(Retirable* first, Retirable* last) {
  Retirable* head = retired_head_.load();
  do {
    last->retired_next_ = head;
  } while (!retired_head_.compare_exchange_weak(head, first));
}

void EpochDomain::Retire(const Guard& guard, Retirable* node) {
  Participant* const p = guard.participant_;
  // Tagged with an epoch read after the unlink: a thread pinned in an epoch two steps later
  // pinned after the unlink and cannot reach the node.
  node->retired_epoch_ = epoch_.load();
  // Into the slot's private batch: no read-modify-write on a shared line per node.
  node->retired_next_ = p->batch_first;
  p->batch_first = node;
  if (p->batch_last == nullptr) p->batch_last = node;
  // Relaxed: only this pin writes the counter; PendingForTesting's read is racy by nature.
  const int64_t batched = p->batch_size.load(std::memory_order_relaxed) + 1;
  if (batched < static_cast<int64_t>(kCollectEvery)) {
    p->batch_size.store(batched, std::memory_order_relaxed);
    return;
  }
  PushRetired(p->batch_first, p->batch_last);
  retired_.fetch_add(batched);
  p->batch_first = p->batch_last = nullptr;
  p->batch_size.store(0, std::memory_order_relaxed);
  TryAdvance();
  // Walking the retired nodes only pays when the epoch has moved since the last walk: while a
  // descheduled thread holds the epoch back, walking every time would cost more with each node.
  const uint64_t epoch = epoch_.load();
  if (collected_epoch_.exchange(epoch) != epoch) Collect();
}

int64_t EpochDomain::PendingForTesting() const {
  int64_t pending = retired_.load() - freed_.load();
  for (Participant* p = participants_.load(); p != nullptr; p = p->next) {
    pending += p->batch_size.load(std::memory_order_relaxed);
  }
  return pending;
}

void EpochDomain::Collect() {
  const uint64_t epoch = epoch_.load();
  Retirable* keep_first = nullptr;
  Retirable* keep_last = nullptr;
  int64_t freed = 0;
  // Taking the whole stack at once leaves no node that two collectors could both free.
  for (Retirable* node = retired_head_.exchange(nullptr); node != nullptr;) {
    Retirable* next = node->retired_next_;
    if (node->retired_epoch_ + 2 <= epoch) {
      delete node;
      ++freed;
    } else {
      node->retired_next_ = keep_first;
      keep_first = node;
      if (keep_last == nullptr) keep_last = node;
    }
    node = next;
  }
  if (keep_first != nullptr) PushRetired(keep_first, keep_last);
  freed_.fetch_add(freed);
}

}  // namespace resque::memory
