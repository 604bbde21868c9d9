#include "backends/memory/epoch.h"

namespace resque::memory {
namespace {

// Every this many retirements a Retire call tries to advance the epoch and free. A node is
// freed two epochs after its retirement, so about twice this many nodes wait at a time.
constexpr uint64_t kCollectEvery = 64;

// Each domain gets an id that is never reused, so that a thread's cached slot of a destroyed
// domain can never be mistaken for a slot of a new domain at the same address.
uint64_t NextDomainId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// The slot this thread used last, and for which domain: pinning usually takes it back with one
// compare-and-swap instead of walking the list of slots.
struct SlotCache {
  uint64_t domain_id = 0;
  void* participant = nullptr;
};
thread_local SlotCache t_slot_cache;

}  // namespace

// Memory orders: sequentially consistent, but for the unpin. The epoch argument needs the pin
// store to be ordered before the pinned thread's later loads (a store-load order that only
// seq_cst gives without fences), and ThreadSanitizer models seq_cst operations but not fences.

EpochDomain::Guard::~Guard() {
  if (participant_ != nullptr) {
    // Guards are only made by EpochDomain::Pin, whose domain outlives them. Release suffices
    // here: the reads made while pinned stay before the store, and TryAdvance's seq_cst load of
    // the state synchronizes with it.
    participant_->state.store(0, std::memory_order_release);
    participant_->owned.store(false, std::memory_order_release);
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
    Participant* next = p->next;
    delete p;
    p = next;
  }
}

EpochDomain::Participant* EpochDomain::Acquire() {
  SlotCache& cache = t_slot_cache;
  if (cache.domain_id == id_) {
    auto* cached = static_cast<Participant*>(cache.participant);
    bool expected = false;
    if (cached->owned.compare_exchange_strong(expected, true)) return cached;
  }
  Participant* found = nullptr;
  for (Participant* p = participants_.load(); p != nullptr && found == nullptr; p = p->next) {
    bool expected = false;
    if (!p->owned.load() && p->owned.compare_exchange_strong(expected, true)) found = p;
  }
  if (found == nullptr) {
    // Owned by the domain from here on; freed by ~EpochDomain.
    found = new Participant;
    found->owned.store(true);
    Participant* head = participants_.load();
    do {
      found->next = head;
    } while (!participants_.compare_exchange_weak(head, found));
  }
  cache = SlotCache{id_, found};
  return found;
}

EpochDomain::Guard EpochDomain::Pin() {
  Participant* p = Acquire();
  uint64_t epoch = epoch_.load();
  // Announce the epoch, then check that it is still the current one: an announcement of an epoch
  // that moved on meanwhile could let nodes retired before our first load be freed under us.
  for (;;) {
    p->state.store((epoch << 1) | 1);
    const uint64_t now = epoch_.load();
    if (now == epoch) break;
    epoch = now;
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

void EpochDomain::Retire(Retirable* node) {
  // Tagged with an epoch read after the unlink: a thread pinned in an epoch two steps later
  // pinned after the unlink and cannot reach the node.
  node->retired_epoch_ = epoch_.load();
  PushRetired(node, node);
  if (retired_.fetch_add(1) % kCollectEvery != kCollectEvery - 1) return;
  TryAdvance();
  // Walking the retired nodes only pays when the epoch has moved since the last walk: while a
  // descheduled thread holds the epoch back, walking every time would cost more with each node.
  const uint64_t epoch = epoch_.load();
  if (collected_epoch_.exchange(epoch) != epoch) Collect();
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
