// LockFreeQueue: the payload list of one queue of the memory backend. Pushes, pops, peeks and
// removals from the middle run without locks: a Michael-Scott linked list whose nodes are
// claimed by compare-and-swap, with epoch-based reclamation (epoch.h). Internal to
// backends/memory; see docs/memory-backend.md for the design and its ordering guarantees.
//
//   EpochDomain epochs;
//   LockFreeQueue queue(&epochs);
//   queue.Push("a");
//   std::string payload;
//   queue.Pop(&payload);  // true; payload == "a"
#ifndef RESQUE_BACKENDS_MEMORY_LOCK_FREE_QUEUE_H_
#define RESQUE_BACKENDS_MEMORY_LOCK_FREE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "backends/memory/epoch.h"

namespace resque::memory {

// Every method is thread-safe and lock-free (memory allocation aside).
class LockFreeQueue {
 public:
  // `epochs` reclaims the nodes taken out of the list; it must outlive the queue.
  explicit LockFreeQueue(EpochDomain* epochs);
  // Frees the nodes still linked. No other thread may use the queue any more.
  ~LockFreeQueue();
  LockFreeQueue(const LockFreeQueue&) = delete;
  LockFreeQueue& operator=(const LockFreeQueue&) = delete;

  // Appends a copy of `payload` at the tail.
  void Push(std::string_view payload);
  // Appends every payload, in order and contiguously: a concurrent Peek sees all or none of them.
  void PushMany(absl::Span<const std::string> payloads);
  void PushMany(absl::Span<const std::string_view> payloads);

  // Puts every payload, in order, in front of the queue's head (the first of them becomes the
  // next to be taken), as one step: a recovered job goes back to where it was taken from.
  void PushFrontMany(absl::Span<const std::string> payloads);

  // Takes the payload at the head into `*out`; false, leaving `*out` alone, when the queue is
  // empty.
  bool Pop(std::string* out);

  // Up to `count` payloads from position `start` (0 = the head). Both must be >= 0.
  std::vector<std::string> Peek(int64_t start, int64_t count);

  // How many payloads the queue holds. Exact when nothing runs concurrently; otherwise a value
  // the size had during the call, or one a push in progress is about to make true.
  int64_t Size() const;

  // Takes out every payload, present when the call began, for which `matches` is true; keeps the
  // order of the rest. Returns how many it took.
  int64_t RemoveIf(absl::FunctionRef<bool(std::string_view)> matches);

 private:
  struct Node;

  // A node holding a copy of `payload`: one recycled through the epochs if there is one, else a
  // new one. `guard` is the caller's pin.
  Node* MakeNode(const EpochDomain::Guard& guard, std::string_view payload, bool claimed = false);
  void Link(const EpochDomain::Guard& guard, Node* first, Node* last, int64_t count);
  // Moves the head past the nodes claimed at the front and retires them through `guard`, the
  // caller's pin. True when the caller should call EpochDomain::Reclaim once unpinned.
  [[nodiscard]] bool AdvanceHead(const EpochDomain::Guard& guard);

  EpochDomain* const epochs_;
  // The head is a claimed node (at first a dummy) whose successors are the queue; the tail is the
  // last node or, while a push is half done, one a few steps before it. The head never passes the
  // tail. Nodes from the head on are owned by the queue; nodes the head left behind are retired.
  // The size is pushed_ - taken_: each count sits on the line its writers touch anyway, the head's
  // (pops and removals) and the tail's (pushes), so that producers and consumers do not pass one
  // line back and forth for it.
  alignas(64) std::atomic<Node*> head_;
  std::atomic<int64_t> taken_{0};
  alignas(64) std::atomic<Node*> tail_;
  std::atomic<int64_t> pushed_{0};
};

}  // namespace resque::memory

#endif  // RESQUE_BACKENDS_MEMORY_LOCK_FREE_QUEUE_H_
