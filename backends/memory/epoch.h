// EpochDomain: epoch-based memory reclamation for the memory backend's lock-free queues. A
// thread pins the domain while it may hold pointers into a lock-free structure; a node taken out
// of the structure is retired, and freed, or handed back for reuse, only once every thread that
// could still hold it has unpinned. Internal to backends/memory; see docs/memory-backend.md.
//
//   EpochDomain::Guard guard = domain.Pin();
//   Node* old = head.load();    // safe to read until `guard` goes away
//   ...unlink `old`...
//   domain.Recycle(guard, old); // handed out again by a later Reuse, once no pin can hold it
#ifndef RESQUE_BACKENDS_MEMORY_EPOCH_H_
#define RESQUE_BACKENDS_MEMORY_EPOCH_H_

#include <atomic>
#include <cstdint>

namespace resque::memory {

class EpochDomain {
 public:
  // What can be retired: a type derives from it and is then deleted through its virtual
  // destructor, or handed back by Reuse, when no pinned thread can see it any more.
  class Retirable {
   public:
    virtual ~Retirable() = default;

   private:
    friend class EpochDomain;
    // The next node of its batch, then of the free list. The only field: the node stays small.
    Retirable* retired_next_ = nullptr;
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
    // Unpins. Inline: every push and pop ends here. Release suffices: the reads made while pinned
    // and the writes to the slot's batches stay before the store; TryAdvance's seq_cst load and
    // the next holder's compare-and-swap synchronize with it.
    ~Guard() {
      if (participant_ != nullptr) participant_->state.store(0, std::memory_order_release);
    }

   private:
    friend class EpochDomain;
    explicit Guard(Participant* participant) : participant_(participant) {}
    Participant* participant_;
  };

  EpochDomain();
  // Frees everything still retired or waiting for reuse. No thread may be pinned.
  ~EpochDomain();
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;

  Guard Pin();

  // Takes ownership of `node`, which must already be unreachable for threads that pin from now
  // on, and deletes it once no pinned thread can hold it. `guard` is the caller's pin (it is
  // pinned, having just unlinked the node). True when the caller should call Reclaim once it has
  // unpinned.
  [[nodiscard]] bool Retire(const Guard& guard, Retirable* node);
  // As Retire, but once safe the node is kept for Reuse rather than deleted (unless enough memory
  // waits for reuse already); `bytes` is how much memory the node holds. Every node recycled
  // through one domain must be of one type: Reuse hands them out as that type.
  [[nodiscard]] bool Recycle(const Guard& guard, Retirable* node, size_t bytes);
  // Advances the epoch if it can and frees or recycles what became safe. Called unpinned, after a
  // Retire or Recycle asked for it: the work takes a while, and a thread preempted while pinned
  // holds every other thread's reclamation back.
  void Reclaim();
  // A recycled node that no pinned thread can hold any more, owned by the caller from now on;
  // nullptr when there is none. `guard` is the caller's pin.
  Retirable* Reuse(const Guard& guard);

  // How many retired nodes wait for their epoch to pass, batched ones included (for tests and
  // docs; racy by nature).
  int64_t PendingForTesting() const;
  // How many retired nodes were ever kept for reuse once safe.
  int64_t RecycledForTesting() const;

 private:
  // Nodes retired through one slot and not yet handed to the domain: a chain through
  // retired_next_.
  struct Batch {
    Retirable* first = nullptr;
    Retirable* last = nullptr;
    // Written only by the slot's holder; atomic so that PendingForTesting may read it.
    std::atomic<int64_t> size{0};
    int64_t bytes = 0;  // the memory the nodes hold, for recycled ones
  };

  // A batch handed to the domain, waiting for its epoch to pass: one small allocation per
  // kBatchSize nodes, so that the nodes themselves carry nothing but their link.
  struct WaitingBatch {
    Retirable* first = nullptr;  // the nodes, chained through retired_next_
    Retirable* last = nullptr;
    int64_t size = 0;
    int64_t bytes = 0;
    uint64_t epoch = 0;  // read after every node of the batch was unlinked
    bool reuse = false;  // recycled, rather than deleted, once safe
    WaitingBatch* next = nullptr;
  };

  // One per thread that is or was pinned; reused, never freed before the domain. `state` is
  // (epoch << 1) | 1 while the slot is taken by a pin and 0 while it is free: taking a free slot
  // and announcing the epoch in it are one compare-and-swap. A cache line of its own: every pin
  // and unpin writes `state`, and slots of different threads must not share a line.
  struct alignas(64) Participant {
    std::atomic<uint64_t> state{0};
    // Only the pin that holds the slot touches the batches and the free list; the next holder
    // sees them through `state` (release on unpin, acquire by its compare-and-swap).
    Batch to_delete;
    Batch to_reuse;
    Retirable* free = nullptr;    // nodes this slot took for reuse, safe to hand out
    Participant* next = nullptr;  // immutable once published
  };

  // Takes a slot for this thread, announcing `epoch` in it: the one it used last if free, else
  // any free one, else a new one.
  Participant* Acquire(uint64_t epoch);
  // Returns true when it handed the batch to the domain.
  bool AddToBatch(Batch& batch, Retirable* node, size_t bytes, bool reuse);
  // Hands `batch` to the domain, tagged with the current epoch.
  void Flush(Batch& batch, bool reuse);
  // Moves the global epoch one step when every pinned thread has seen the current one.
  void TryAdvance();
  // Frees or recycles the batches no pinned thread can hold; puts the others back.
  void Collect();
  void PushWaiting(WaitingBatch* first, WaitingBatch* last);
  static void DeleteChain(Retirable* first);

  const uint64_t id_;  // tells this domain's slot apart in a thread's cache
  // Read by every pin, written once per advance: a line of its own, away from the counters that
  // each flush writes.
  alignas(64) std::atomic<uint64_t> epoch_{1};
  std::atomic<Participant*> participants_{nullptr};
  // Batches whose epoch has not passed yet: a stack, pushed by CAS and taken whole by Collect.
  alignas(64) std::atomic<WaitingBatch*> waiting_{nullptr};
  // Safe nodes kept for reuse: a stack through retired_next_, pushed by CAS and taken whole by a
  // Reuse whose slot has none left.
  std::atomic<Retirable*> free_{nullptr};
  // About how much memory the nodes on `free_` hold: caps what is kept for reuse. Raised before a
  // push and zeroed after a take, so it may briefly count a batch not pushed yet, or miss one
  // pushed during a take until the next take; it never stays above what the list holds.
  std::atomic<int64_t> free_bytes_{0};
  std::atomic<int64_t> retired_{0};           // ever handed to `waiting_`
  std::atomic<int64_t> released_{0};          // ever taken out of `waiting_` as safe
  std::atomic<int64_t> recycled_{0};          // ever moved to `free_`
  std::atomic<uint64_t> collected_epoch_{0};  // the epoch of the last Collect
};

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_EPOCH_H_
