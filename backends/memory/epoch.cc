#include "backends/memory/epoch.h"

namespace resque::memory {
namespace {

// Every this many retirements through one slot, a Retire or Recycle call hands the slot's batch
// to the domain, tries to advance the epoch and, if the epoch moved, frees or recycles the batches
// that became safe. A node is safe two epochs after its batch was handed over, so about twice this
// many nodes wait at a time per retiring thread, plus up to this many in each slot's batches.
// Since nodes are tagged and collected a batch at a time, a bigger batch only means fewer flushes.
constexpr int64_t kBatchSize = 32;

// Safe nodes holding at most about this much memory wait for Reuse; beyond, safe nodes are
// deleted. What a burst of pushes leaves behind is kept only up to this. Sized for what becomes
// safe at once when a thread preempted while pinned lets the epoch move again: with four threads
// on two busy cores, tens of thousands of nodes (a 4096-node cap had nearly every push allocate).
constexpr int64_t kMaxFreeBytes = int64_t{16} << 20;

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

EpochDomain::EpochDomain() : id_(NextDomainId()) {}

void EpochDomain::DeleteChain(Retirable* first) {
  for (Retirable* node = first; node != nullptr;) {
    Retirable* next = node->retired_next_;
    delete node;
    node = next;
  }
}

EpochDomain::~EpochDomain() {
  for (WaitingBatch* batch = waiting_.exchange(nullptr); batch != nullptr;) {
    WaitingBatch* next = batch->next;
    DeleteChain(batch->first);
    delete batch;
    batch = next;
  }
  DeleteChain(free_.exchange(nullptr));
  for (Participant* p = participants_.load(); p != nullptr;) {
    DeleteChain(p->to_delete.first);
    DeleteChain(p->to_reuse.first);
    DeleteChain(p->free);
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

void EpochDomain::PushWaiting(WaitingBatch* first, WaitingBatch* last) {
  WaitingBatch* head = waiting_.load();
  do {
    last->next = head;
  } while (!waiting_.compare_exchange_weak(head, first));
}

bool EpochDomain::Retire(const Guard& guard, Retirable* node) {
  Participant* const p = guard.participant_;
  return AddToBatch(p->to_delete, node, 0, /*reuse=*/false);
}

bool EpochDomain::Recycle(const Guard& guard, Retirable* node, size_t bytes) {
  Participant* const p = guard.participant_;
  return AddToBatch(p->to_reuse, node, bytes, /*reuse=*/true);
}

bool EpochDomain::AddToBatch(Batch& batch, Retirable* node, size_t bytes, bool reuse) {
  // Into the slot's private batch: no read-modify-write on a shared line per node.
  node->retired_next_ = batch.first;
  batch.first = node;
  if (batch.last == nullptr) batch.last = node;
  batch.bytes += static_cast<int64_t>(bytes);
  // Relaxed: only this pin writes the counter; PendingForTesting's read is racy by nature.
  const int64_t size = batch.size.load(std::memory_order_relaxed) + 1;
  batch.size.store(size, std::memory_order_relaxed);
  if (size < kBatchSize) return false;
  Flush(batch, reuse);
  return true;
}

void EpochDomain::Flush(Batch& batch, bool reuse) {
  const int64_t size = batch.size.load(std::memory_order_relaxed);
  // Owned by the domain from here on; freed by Collect or ~EpochDomain.
  auto* waiting = new WaitingBatch{
      .first = batch.first, .last = batch.last, .size = size, .bytes = batch.bytes, .reuse = reuse};
  // Read after every node of the batch was unlinked: a thread pinned in an epoch two steps later
  // pinned after the unlinks and cannot reach any of them. (Tagging the batch at its flush rather
  // than each node at its retirement only ever makes the tag later, which is safe.)
  waiting->epoch = epoch_.load();
  PushWaiting(waiting, waiting);
  retired_.fetch_add(size);
  batch.first = batch.last = nullptr;
  batch.bytes = 0;
  batch.size.store(0, std::memory_order_relaxed);
}

void EpochDomain::Reclaim() {
  TryAdvance();
  // Walking the waiting batches only pays when the epoch has moved since the last walk: while a
  // descheduled thread holds the epoch back, nothing more became safe.
  const uint64_t epoch = epoch_.load();
  if (collected_epoch_.load() != epoch && collected_epoch_.exchange(epoch) != epoch) Collect();
}

EpochDomain::Retirable* EpochDomain::Reuse(const Guard& guard) {
  Participant* const p = guard.participant_;
  if (p->free == nullptr) {
    // The plain load first: with nothing to take, no write to the shared line.
    if (free_.load() == nullptr) return nullptr;
    p->free = free_.exchange(nullptr);
    // Batches pushed after the exchange but counted before this store are left uncounted until
    // the next take, so the list may briefly hold more than kMaxFreeBytes; the count never stays
    // above what the list holds (Collect counts before it pushes).
    free_bytes_.store(0);
    if (p->free == nullptr) return nullptr;
  }
  Retirable* node = p->free;
  p->free = node->retired_next_;
  return node;
}

int64_t EpochDomain::PendingForTesting() const {
  int64_t pending = retired_.load() - released_.load();
  for (Participant* p = participants_.load(); p != nullptr; p = p->next) {
    pending += p->to_delete.size.load(std::memory_order_relaxed);
    pending += p->to_reuse.size.load(std::memory_order_relaxed);
  }
  return pending;
}

int64_t EpochDomain::RecycledForTesting() const { return recycled_.load(); }

void EpochDomain::Collect() {
  const uint64_t epoch = epoch_.load();
  const int64_t room = kMaxFreeBytes - free_bytes_.load();
  WaitingBatch* keep_first = nullptr;  // batches not safe yet
  WaitingBatch* keep_last = nullptr;
  Retirable* reuse_first = nullptr;  // safe nodes to recycle, through retired_next_
  Retirable* reuse_last = nullptr;
  int64_t reuse_size = 0;
  int64_t reuse_bytes = 0;
  int64_t released = 0;
  // Taking the whole stack at once leaves no batch that two collectors could both release.
  for (WaitingBatch* batch = waiting_.exchange(nullptr); batch != nullptr;) {
    WaitingBatch* const next = batch->next;
    if (batch->epoch + 2 > epoch) {
      batch->next = keep_first;
      keep_first = batch;
      if (keep_last == nullptr) keep_last = batch;
    } else {
      released += batch->size;
      if (batch->reuse && reuse_bytes + batch->bytes <= room) {
        // The batch's nodes are chained already: splice the chain whole, touching one node.
        batch->last->retired_next_ = reuse_first;
        if (reuse_last == nullptr) reuse_last = batch->last;
        reuse_first = batch->first;
        reuse_size += batch->size;
        reuse_bytes += batch->bytes;
      } else {
        DeleteChain(batch->first);
      }
      delete batch;
    }
    batch = next;
  }
  if (keep_first != nullptr) PushWaiting(keep_first, keep_last);
  if (reuse_first != nullptr) {
    // Counted before the push: a Reuse that takes the list and zeroes the count must not be able
    // to come between the push and the count, or the count would stay up with the list empty,
    // and every later batch would be freed for want of room.
    free_bytes_.fetch_add(reuse_bytes);
    Retirable* head = free_.load();
    do {
      reuse_last->retired_next_ = head;
    } while (!free_.compare_exchange_weak(head, reuse_first));
    recycled_.fetch_add(reuse_size);
  }
  released_.fetch_add(released);
}

}  // namespace resque::memory
