#include "backends/memory/lock_free_queue.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/memory/epoch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque::memory {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> PopAll(LockFreeQueue& queue) {
  std::vector<std::string> out;
  for (int i = 0; i < 100000; ++i) {
    std::optional<std::string> p = queue.Pop();
    if (!p.has_value()) break;
    out.push_back(*p);
  }
  return out;
}

TEST(LockFreeQueue, PopsInPushOrder) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  EXPECT_EQ(queue.Pop(), std::nullopt);
  queue.Push("a");
  queue.PushMany(std::vector<std::string>{"b", "c"});
  queue.Push("d");
  EXPECT_EQ(queue.Size(), 4);
  EXPECT_THAT(PopAll(queue), ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(queue.Size(), 0);
  EXPECT_EQ(queue.Pop(), std::nullopt);
}

TEST(LockFreeQueue, PeekSkipsWhatWasRemovedFromTheMiddle) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  for (const char* p : {"k1", "x1", "k2", "x2", "x3", "k3"}) queue.Push(p);
  EXPECT_EQ(queue.RemoveIf([](std::string_view p) { return p[0] == 'x'; }), 3);
  EXPECT_EQ(queue.Size(), 3);
  EXPECT_THAT(queue.Peek(0, 10), ElementsAre("k1", "k2", "k3"));
  EXPECT_THAT(queue.Peek(1, 1), ElementsAre("k2"));
  EXPECT_THAT(queue.Peek(3, 1), IsEmpty());
  EXPECT_EQ(queue.RemoveIf([](std::string_view p) { return p[0] == 'x'; }), 0);
  queue.Push("k4");
  EXPECT_THAT(PopAll(queue), ElementsAre("k1", "k2", "k3", "k4"));
}

TEST(LockFreeQueue, RemovingEverythingLeavesAQueueThatStillWorks) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  for (int i = 0; i < 10; ++i) queue.Push("p");
  EXPECT_EQ(queue.RemoveIf([](std::string_view) { return true; }), 10);
  EXPECT_EQ(queue.Size(), 0);
  EXPECT_EQ(queue.Pop(), std::nullopt);
  queue.Push("after");
  EXPECT_THAT(PopAll(queue), ElementsAre("after"));
}

TEST(EpochDomain, FreesRetiredNodesWhileTheQueueIsInUse) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  for (int i = 0; i < 100000; ++i) {
    queue.Push("payload");
    ASSERT_TRUE(queue.Pop().has_value());
  }
  // Without reclamation all 100000 popped nodes would still be waiting.
  EXPECT_LT(epochs.PendingForTesting(), 1000);
}

TEST(EpochDomain, KeepsNodesAPinnedThreadMayStillRead) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  {
    EpochDomain::Guard pinned = epochs.Pin();
    for (int i = 0; i < 1000; ++i) {
      queue.Push("payload");
      ASSERT_TRUE(queue.Pop().has_value());
    }
    // This thread pinned before any of them was retired: none may be freed yet.
    EXPECT_GE(epochs.PendingForTesting(), 1000);
  }
  for (int i = 0; i < 1000; ++i) {
    queue.Push("payload");
    ASSERT_TRUE(queue.Pop().has_value());
  }
  EXPECT_LT(epochs.PendingForTesting(), 1000);
}

}  // namespace
}  // namespace resque::memory
