// EpochDomain: epoch-based memory reclamation for the memory backend's lock-free queues. A
// thread pins the domain while it may hold pointers into a lock-free structure; a node taken out
// of the structure is retired, and freed only once every thread that could still hold it has
// unpinned. Internal to backends/memory; see docs/memory-backend.md.
//
//   EpochDomain::Guard guard = domain.Pin();
//   Node* old = head.load();   // safe to read until `guard` goes away
//   ...unlink `old`...
//   domain.Retire(guard, old); // freed by a later Retire, or by ~EpochDomain
#ifndef RESQUE_BACKENDS_MEMORY_EPOCH_H_
#define RESQUE_BACKENDS_MEMORY_EPOCH_H_

#include <atomic>
#include <cstdint>

namespace resque::memory {

class EpochDomain {
 public:
  // What can be retired: a type derives from it and is then deleted through its virtual
  // destructor when no pinned thread can see it any more.
  class Retirable {
   public:
    virtual ~Retirable() = default;

   private:
    friend class EpochDomain;
    Retirable* retired_next_ = nullptr;
    uint64_t retired_epoch_ = 0;
  };

 private:
  struct Participant;

 public:
  // A pin, released when the guard is destroyed. A thread may hold several at once.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : participant_(other.participant_) {
      other.participant_ = nullptr;
    }
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard();

   private:
    friend class EpochDomain;
    explicit Guard(Participant* participant) : participant_(participant) {}
    Participant* participant_;
  };

  EpochDomain();
  // Frees everything still retired. No thread may be pinned.
  ~EpochDomain();
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;

  Guard Pin();

  // Takes ownership of `node`, which must already be unreachable for threads that pin from now
  // on. `guard` is the caller's pin (it is pinned, having just unlinked the node). The node joins
  // the pin's slot's private batch; every kCollectEvery of them, this also moves the batch to the
  // shared list, advances the epoch and frees what has become safe to free.
  void Retire(const Guard& guard, Retirable* node);

  // How many retired nodes wait to be freed, batched ones included (for tests and docs; racy by
  // nature).
  int64_t PendingForTesting() const;

 private:
  // One per thread that is or was pinned; reused, never freed before the domain. `state` is
  // (epoch << 1) | 1 while the slot is taken by a pin and 0 while it is free: taking a free slot
  // and announcing the epoch in it are one compare-and-swap. A cache line of its own: every pin
  // and unpin writes `state`, and slots of different threads must not share a line.
  struct alignas(64) Participant {
    std::atomic<uint64_t> state{0};
    // Nodes retired through this slot and not yet moved to the shared list. Only the pin that
    // holds the slot touches them; the next holder sees them through `state` (release on unpin,
    // acquire by its compare-and-swap).
    Retirable* batch_first = nullptr;
    Retirable* batch_last = nullptr;
    // Written only by the holder; atomic so that PendingForTesting may read it.
    std::atomic<int64_t> batch_size{0};
    Participant* next = nullptr;  // immutable once published
  };

  // Takes a slot for this thread, announcing `epoch` in it: the one it used last if free, else
  // any free one, else a new one.
  Participant* Acquire(uint64_t epoch);
  // Moves the global epoch one step when every pinned thread has seen the current one.
  void TryAdvance();
  // Frees the retired nodes no pinned thread can hold; puts the others back.
  void Collect();
  void PushRetired(Retirable* first, Retirable* last);

  const uint64_t id_;  // tells this domain's slot apart in a thread's cache
  // Read by every pin, written once per advance: a line of its own, away from the counters that
  // each flush writes.
  alignas(64) std::atomic<uint64_t> epoch_{1};
  std::atomic<Participant*> participants_{nullptr};
  // Retired nodes not freed yet: a stack, pushed by CAS and taken whole by Collect.
  alignas(64) std::atomic<Retirable*> retired_head_{nullptr};
  std::atomic<int64_t> retired_{0};           // ever retired
  std::atomic<int64_t> freed_{0};             // ever freed by Collect
  std::atomic<uint64_t> collected_epoch_{0};  // the epoch of the last Collect
};

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_EPOCH_H_
