#include "backends/memory/lock_free_queue.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "absl/container/inlined_vector.h"

namespace resque::memory {

// Memory orders: sequentially consistent throughout, but for the stores to a node that no other
// thread can see yet (made or recycled, not yet linked), which the linking compare-and-swap
// publishes. Besides keeping the argument simple, the
// backend's parking protocol (memory_backend.cc) relies on a seq_cst store-then-load order
// between a push's link and its read of the waiter count, and a waiter's count increment and its
// reads of the list.

namespace {

// A node's bytes come in steps of this many; a recycled node is reused for a payload that fits
// and would not waste more than half of it.
constexpr size_t kCapacityStep = 64;
// A node with room for more bytes than this is deleted once safe rather than recycled, so that the
// nodes kept for reuse (epoch.cc caps how many) do not hold large blocks.
constexpr size_t kMaxRecycledCapacity = 4096;

size_t CapacityFor(size_t size) {
  return std::max(kCapacityStep, (size + kCapacityStep - 1) / kCapacityStep * kCapacityStep);
}

bool Fits(size_t capacity, size_t size) {
  return size <= capacity && capacity <= 2 * CapacityFor(size);
}

}  // namespace

// A node and its payload's bytes are one allocation: the bytes follow the node. Nodes are
// recycled through the epochs: a node is handed out again only once no pinned thread can hold
// it, so no thread can mistake a recycled node for the one it read before (no ABA), and a push
// of a payload that fits a recycled node allocates nothing.
struct LockFreeQueue::Node : EpochDomain::Retirable {
  static Node* Make(size_t capacity) {
    void* block = ::operator new(sizeof(Node) + capacity);
    return new (block) Node(capacity);
  }
  // Matches Make's ::operator new; reached through Retirable's virtual destructor. Declared
  // unsized so that `delete` never passes sizeof(Node), which is not the block's size.
  static void operator delete(void* block) { ::operator delete(block); }

  // Written only while the node is private (made or recycled, not yet linked), so a pinned reader
  // may copy it while another thread claims the node.
  std::string_view Payload() const { return std::string_view(Bytes(), size); }
  void SetPayload(std::string_view payload) {
    if (!payload.empty()) std::memcpy(Bytes(), payload.data(), payload.size());
    size = payload.size();
  }

  std::atomic<Node*> next{nullptr};
  // Set once, by the one pop or removal that takes the node; a claimed node is not in the queue
  // any more, whether or not it is still linked.
  std::atomic<bool> claimed{false};
  // Whether the node is the last of the nodes linked together by one push (see AdvanceHead).
  // Written only while the node is private.
  bool chain_end = true;
  size_t size = 0;
  const size_t capacity;  // how many bytes follow the node

 private:
  explicit Node(size_t bytes) : capacity(bytes) {}
  char* Bytes() { return reinterpret_cast<char*>(this + 1); }
  const char* Bytes() const { return reinterpret_cast<const char*>(this + 1); }
};

LockFreeQueue::LockFreeQueue(EpochDomain* epochs) : epochs_(epochs) {
  Node* dummy = Node::Make(0);  // owned by the list
  dummy->claimed.store(true);
  head_.store(dummy);
  tail_.store(dummy);
}

LockFreeQueue::~LockFreeQueue() {
  for (Node* node = head_.load(); node != nullptr;) {
    Node* next = node->next.load();
    delete node;
    node = next;
  }
}

LockFreeQueue::Node* LockFreeQueue::MakeNode(const EpochDomain::Guard& guard,
                                             std::string_view payload, bool claimed) {
  // Every node recycled through the domain is a Node: only LockFreeQueue recycles into it.
  Node* node = static_cast<Node*>(epochs_->Reuse(guard));
  if (node != nullptr && !Fits(node->capacity, payload.size())) {
    delete node;  // ours since Reuse, and of the wrong size
    node = nullptr;
  }
  if (node == nullptr) node = Node::Make(CapacityFor(payload.size()));  // the list's once linked
  // Relaxed: the node is private until a compare-and-swap links it, which publishes these.
  node->next.store(nullptr, std::memory_order_relaxed);
  node->claimed.store(claimed, std::memory_order_relaxed);
  node->chain_end = true;
  node->SetPayload(payload);
  return node;
}

void LockFreeQueue::Push(std::string_view payload) {
  EpochDomain::Guard guard = epochs_->Pin();
  Node* node = MakeNode(guard, payload);
  Link(guard, node, node, 1);
}

void LockFreeQueue::PushMany(absl::Span<const std::string> payloads) {
  absl::InlinedVector<std::string_view, 16> views(payloads.begin(), payloads.end());
  PushMany(absl::MakeConstSpan(views));
}

void LockFreeQueue::PushMany(absl::Span<const std::string_view> payloads) {
  if (payloads.empty()) return;
  EpochDomain::Guard guard = epochs_->Pin();
  // Chained privately first, then linked with one compare-and-swap.
  Node* first = MakeNode(guard, payloads[0]);
  Node* last = first;
  for (size_t i = 1; i < payloads.size(); ++i) {
    Node* node = MakeNode(guard, payloads[i]);
    last->next.store(node, std::memory_order_relaxed);  // private until linked
    last->chain_end = false;
    last = node;
  }
  Link(guard, first, last, static_cast<int64_t>(payloads.size()));
}

void LockFreeQueue::Link(const EpochDomain::Guard& /*guard*/, Node* first, Node* last,
                         int64_t count) {
  // Counted before the link so that the size never goes below zero when a pop claims the new
  // node at once.
  pushed_.fetch_add(count);
  for (;;) {
    Node* tail = tail_.load();
    Node* next = tail->next.load();
    if (next != nullptr) {
      // A push is half done: help it move the tail, then retry.
      tail_.compare_exchange_strong(tail, next);
      continue;
    }
    if (tail->next.compare_exchange_strong(next, first)) {
      // If this fails another thread moved the tail on already; the next push finishes the job.
      tail_.compare_exchange_strong(tail, last);
      return;
    }
  }
}

void LockFreeQueue::PushFrontMany(absl::Span<const std::string> payloads) {
  if (payloads.empty()) return;
  // A new claimed head (the new dummy) and the payloads are chained privately, then the head
  // swings to them by one compare-and-swap, the old head staying linked behind them as a claimed
  // node. The head is never retired while it is the head (only the thread whose CAS moves it
  // away retires it), and this thread is pinned, so the old head cannot be freed under the
  // chain; a failed CAS means the head moved, and the chain is relinked to the new one. Every node
  // of it stays a chain end (MakeNode's default): they all come before the old head, hence before
  // the tail, which is all AdvanceHead needs to know.
  EpochDomain::Guard guard = epochs_->Pin();
  Node* const dummy = MakeNode(guard, "", /*claimed=*/true);
  Node* last = dummy;
  for (const std::string& payload : payloads) {
    Node* node = MakeNode(guard, payload);
    last->next.store(node, std::memory_order_relaxed);  // private until linked
    last = node;
  }
  pushed_.fetch_add(static_cast<int64_t>(payloads.size()));
  Node* head = head_.load();
  for (;;) {
    last->next.store(head);
    if (head_.compare_exchange_strong(head, dummy)) return;
  }
}

bool LockFreeQueue::Pop(std::string* out) {
  bool taken = false;
  bool reclaim = false;
  {
    EpochDomain::Guard guard = epochs_->Pin();
    for (Node* node = head_.load()->next.load(); node != nullptr; node = node->next.load()) {
      // The plain load first spares a contended cache line a write when the node is taken.
      if (node->claimed.load() || node->claimed.exchange(true)) continue;
      taken_.fetch_add(1);
      // A copy: a Peek or RemoveJobs that saw the node unclaimed may still be reading it.
      out->assign(node->Payload());
      reclaim = AdvanceHead(guard);
      taken = true;
      break;
    }
  }
  if (reclaim) epochs_->Reclaim();  // unpinned
  return taken;
}

bool LockFreeQueue::AdvanceHead(const EpochDomain::Guard& guard) {
  Node* const head = head_.load();
  Node* new_head = head;
  for (;;) {
    Node* next = new_head->next.load();
    if (next == nullptr || !next->claimed.load()) break;
    new_head = next;
  }
  if (new_head == head) return false;
  // The head must not pass the tail. The tail lags behind the last node by at most the chain
  // linked last (one node, or a PushMany's nodes): a link is made at the node the tail points to,
  // and the tail only moves on. So when the new head ends a chain and has a successor, the chain
  // linked last begins after it and the tail is at the new head or beyond: no need to read the
  // tail, a line every push writes. Otherwise the walk is bounded by the tail, read after the
  // head, so it is at or after the head in the list.
  if (!new_head->chain_end || new_head->next.load() == nullptr) {
    Node* const tail = tail_.load();
    Node* bounded = head;
    while (bounded != new_head && bounded != tail) bounded = bounded->next.load();
    new_head = bounded;
    if (new_head == head) return false;
  }
  Node* expected = head;
  // The one thread whose compare-and-swap moves the head retires what it moved past.
  if (!head_.compare_exchange_strong(expected, new_head)) return false;
  bool reclaim = false;
  for (Node* node = head; node != new_head;) {
    Node* next = node->next.load();
    // Still readable: this thread is pinned.
    if (node->capacity > kMaxRecycledCapacity) {
      reclaim |= epochs_->Retire(guard, node);
    } else {
      reclaim |= epochs_->Recycle(guard, node, sizeof(Node) + node->capacity);
    }
    node = next;
  }
  return reclaim;
}

std::vector<std::string> LockFreeQueue::Peek(int64_t start, int64_t count) {
  std::vector<std::string> out;
  if (count <= 0) return out;
  EpochDomain::Guard guard = epochs_->Pin();
  int64_t skip = start;
  for (Node* node = head_.load()->next.load();
       node != nullptr && static_cast<int64_t>(out.size()) < count; node = node->next.load()) {
    if (node->claimed.load()) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    out.emplace_back(node->Payload());
  }
  return out;
}

int64_t LockFreeQueue::Size() const {
  // Taken first: every take counted there is of a push counted before it, so that the difference
  // is not negative.
  const int64_t taken = taken_.load();
  return std::max<int64_t>(0, pushed_.load() - taken);
}

int64_t LockFreeQueue::RemoveIf(absl::FunctionRef<bool(std::string_view)> matches) {
  int64_t removed = 0;
  bool reclaim = false;
  {
    EpochDomain::Guard guard = epochs_->Pin();
    // The head is read before the tail, which is at or after it, so the walk from one reaches the
    // other.
    Node* node = head_.load();
    // The last node now linked bounds the walk, so that pushes that keep coming cannot keep the
    // call going. The tail may lag behind it, hence the walk to the real end.
    Node* last = tail_.load();
    for (Node* next = last->next.load(); next != nullptr; next = next->next.load()) last = next;
    while (node != last) {
      node = node->next.load();
      if (node->claimed.load() || !matches(node->Payload())) continue;
      if (!node->claimed.exchange(true)) ++removed;
    }
    if (removed > 0) {
      taken_.fetch_add(removed);
      reclaim = AdvanceHead(guard);
    }
  }
  if (reclaim) epochs_->Reclaim();  // unpinned
  return removed;
}

}  // namespace resque::memory
