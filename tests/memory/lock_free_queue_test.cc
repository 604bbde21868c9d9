#include "backends/memory/lock_free_queue.h"

#include <algorithm>
#include <atomic>
#include <functional>
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

std::optional<std::string> PopOne(LockFreeQueue& queue) {
  std::string payload;
  if (!queue.Pop(&payload)) return std::nullopt;
  return payload;
}

std::vector<std::string> PopAll(LockFreeQueue& queue) {
  std::vector<std::string> out;
  std::string payload;
  for (int i = 0; i < 100000 && queue.Pop(&payload); ++i) out.push_back(payload);
  return out;
}

// Pushes and pops one payload `times` times; false if a pop found the queue empty.
bool PushAndPop(LockFreeQueue& queue, int times) {
  std::string payload;
  for (int i = 0; i < times; ++i) {
    queue.Push("payload");
    if (!queue.Pop(&payload)) return false;
  }
  return true;
}

TEST(LockFreeQueue, PopsInPushOrder) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  EXPECT_EQ(PopOne(queue), std::nullopt);
  queue.Push("a");
  queue.PushMany(std::vector<std::string>{"b", "c"});
  queue.Push("d");
  EXPECT_EQ(queue.Size(), 4);
  EXPECT_THAT(PopAll(queue), ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(queue.Size(), 0);
  EXPECT_EQ(PopOne(queue), std::nullopt);
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
  EXPECT_EQ(PopOne(queue), std::nullopt);
  queue.Push("after");
  EXPECT_THAT(PopAll(queue), ElementsAre("after"));
}

TEST(EpochDomain, FreesRetiredNodesWhileTheQueueIsInUse) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  ASSERT_TRUE(PushAndPop(queue, 100000));
  // Without reclamation all 100000 popped nodes would still be waiting.
  EXPECT_LT(epochs.PendingForTesting(), 1000);
}

TEST(EpochDomain, KeepsNodesAPinnedThreadMayStillReadThenRecyclesThem) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  {
    EpochDomain::Guard pinned = epochs.Pin();
    ASSERT_TRUE(PushAndPop(queue, 1000));
    // This thread pinned before any of them was retired: none may be freed or reused yet.
    EXPECT_GE(epochs.PendingForTesting(), 1000);
    EXPECT_EQ(epochs.RecycledForTesting(), 0);
  }
  ASSERT_TRUE(PushAndPop(queue, 100000));
  EXPECT_LT(epochs.PendingForTesting(), 1000);
  // Nearly every popped node came back for reuse rather than being freed.
  EXPECT_GT(epochs.RecycledForTesting(), 90000);
}

TEST(LockFreeQueue, RecycledNodesCarryPayloadsOfAnySizeWhole) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  // Sizes that grow, shrink and jump across the node size steps and past the recycled maximum,
  // each pushed and popped many times so that nodes are reused for other sizes.
  const std::vector<size_t> sizes = {0, 1, 63, 64, 65, 200, 17, 5000, 130, 4096, 1, 9000};
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> pushed;
    for (size_t i = 0; i < sizes.size(); ++i) {
      pushed.push_back(std::string(sizes[(i + round) % sizes.size()], static_cast<char>('a' + i)));
      queue.Push(pushed.back());
    }
    ASSERT_EQ(PopAll(queue), pushed) << "round " << round;
  }
}

TEST(LockFreeQueue, PushFrontManyPutsPayloadsBeforeTheHeadInTheirOrder) {
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  queue.PushFrontMany(std::vector<std::string>{"b"});  // onto an empty queue
  queue.Push("c");
  queue.PushFrontMany(std::vector<std::string>{"x", "a"});
  EXPECT_EQ(queue.Size(), 4);
  EXPECT_THAT(queue.Peek(0, 10), ElementsAre("x", "a", "b", "c"));
  EXPECT_EQ(PopOne(queue), "x");
  queue.PushFrontMany(std::vector<std::string>{"y"});
  queue.Push("d");
  EXPECT_THAT(PopAll(queue), ElementsAre("y", "a", "b", "c", "d"));
}

// Runs each of `pushers` on a thread of its own against two popping threads, until `total`
// payloads were taken or far more tries than needed were made. Returns what each popper took, in
// its order, then what was left in the queue.
std::vector<std::vector<std::string>> RaceWithTwoPoppers(
    LockFreeQueue& queue, int total, const std::vector<std::function<void()>>& pushers) {
  std::atomic<int> popped{0};
  std::vector<std::vector<std::string>> taken(3);
  std::vector<std::thread> threads;
  for (const std::function<void()>& push : pushers) threads.emplace_back(push);
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::string payload;
      for (int tries = 0; popped.load() < total && tries < 100 * total; ++tries) {
        if (queue.Pop(&payload)) {
          taken[t].push_back(payload);
          popped.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  taken[2] = PopAll(queue);
  return taken;
}

// Checks that `taken` holds `total` payloads, none twice.
void ExpectEachTakenOnce(const std::vector<std::vector<std::string>>& taken, size_t total) {
  std::vector<std::string> all;
  for (const std::vector<std::string>& some : taken)
    all.insert(all.end(), some.begin(), some.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all.size(), total);
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

TEST(LockFreeQueue, PushFrontRacingWithPushesAndPopsLosesAndDuplicatesNothing) {
  constexpr int kEach = 2000;
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  const std::vector<std::vector<std::string>> taken = RaceWithTwoPoppers(
      queue, 2 * kEach,
      {[&] {
         for (int i = 0; i < kEach; ++i) queue.Push("b" + std::to_string(i));
       },
       [&] {
         for (int i = 0; i < kEach; ++i) {
           queue.PushFrontMany(std::vector<std::string>{"f" + std::to_string(i)});
         }
       }});
  ExpectEachTakenOnce(taken, 2 * kEach);
  EXPECT_EQ(queue.Size(), 0);
}

TEST(LockFreeQueue, PushManyRacingWithPopsKeepsEachPushersOrder) {
  // Batches of 1 to 5 from two pushers, so that the head often stops inside a batch that is still
  // being linked: the tail may lag behind it then, and the head must not pass the tail.
  constexpr int kEach = 3000;
  EpochDomain epochs;
  LockFreeQueue queue(&epochs);
  auto pusher = [&queue](char name) {
    return [&queue, name] {
      for (int i = 0; i < kEach;) {
        std::vector<std::string> batch;
        for (int n = 1 + i % 5; n > 0 && i < kEach; --n, ++i) {
          batch.push_back(std::string(1, name) + std::to_string(100000 + i));
        }
        queue.PushMany(batch);
      }
    };
  };
  const std::vector<std::vector<std::string>> taken =
      RaceWithTwoPoppers(queue, 2 * kEach, {pusher('a'), pusher('b')});
  ExpectEachTakenOnce(taken, 2 * kEach);
  // Each popper, and what was left, sees each pusher's payloads in the order they were pushed
  // (the numbers have the same width, so text order is number order).
  for (const std::vector<std::string>& some : taken) {
    std::string last[2];
    for (const std::string& payload : some) {
      std::string& previous = last[payload[0] - 'a'];
      EXPECT_LT(previous, payload);
      previous = payload;
    }
  }
  EXPECT_EQ(queue.Size(), 0);
}

}  // namespace
}  // namespace resque::memory
