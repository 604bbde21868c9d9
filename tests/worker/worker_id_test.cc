// Worker ids: what FormatWorkerId writes ParseWorkerId reads back, peers' ids and our older
// "<pid>-<slot>" ids parse, and ids with no usable pid are refused.
#include "core/worker_id.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

TEST(WorkerIdTest, AOneSlotIdReadsBackAsItWasWritten) {
  const std::string id = FormatWorkerId({.host = "web1", .pid = 4242, .queues = "high,low"});
  EXPECT_EQ(id, "web1:4242:high,low");
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->host, "web1");
  EXPECT_EQ(parts->pid, 4242);
  EXPECT_EQ(parts->slot, std::nullopt);
  EXPECT_EQ(parts->queues, "high,low");
}

TEST(WorkerIdTest, ASlotIdReadsBackWithItsSlot) {
  const std::string id = FormatWorkerId({.host = "web1", .pid = 7, .slot = 3, .queues = "*"});
  EXPECT_EQ(id, "web1:7:*:3");
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->pid, 7);
  EXPECT_EQ(parts->slot, 3);
  EXPECT_EQ(parts->queues, "*");
}

// What Ruby's prune_dead_workers and php-resque's pruneDeadWorkers read of a slot's id: the pid
// field is the process's pid, and (Ruby) the third ':' field is the queue list itself.
TEST(WorkerIdTest, PeersSplittingASlotIdAtColonsFindThePidAndTheQueues) {
  const std::string id =
      FormatWorkerId({.host = "web1", .pid = 4242, .slot = 0, .queues = "high,low"});
  std::vector<std::string> fields = absl::StrSplit(id, ':');
  ASSERT_GE(fields.size(), 3u) << id;
  EXPECT_EQ(fields[1], "4242");
  EXPECT_EQ(fields[2], "high,low");
}

TEST(WorkerIdTest, OlderSlotIdsStillParseSoTheyCanBePruned) {
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId("web1:7-3:app:mail,low");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->pid, 7);
  EXPECT_EQ(parts->slot, 3);
  EXPECT_EQ(parts->queues, "app:mail,low");
}

TEST(WorkerIdTest, ASlotIdWithColonsInQueueNamesKeepsTheQueues) {
  const std::string id =
      FormatWorkerId({.host = "h", .pid = 9, .slot = 12, .queues = "app:mail,app:sms"});
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->slot, 12);
  EXPECT_EQ(parts->queues, "app:mail,app:sms");
}

TEST(WorkerIdTest, QueueNamesMayHoldColons) {
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId("host:12:app:mail,app:sms");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->host, "host");
  EXPECT_EQ(parts->queues, "app:mail,app:sms");
}

TEST(WorkerIdTest, ALastFieldThatIsNoSmallNumberIsPartOfTheQueues) {
  for (const char* id : {"host:12:app:mail", "host:12:app:12345", "host:12:app:-1", "host:12:q:"}) {
    absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
    ASSERT_TRUE(parts.ok()) << parts.status();
    EXPECT_EQ(parts->slot, std::nullopt) << id;
    EXPECT_EQ(parts->queues, std::string_view(id).substr(8)) << id;
  }
}

TEST(WorkerIdTest, OnlyThePidDecidesWhenWhatFollowsTheDashIsNotASlot) {
  absl::StatusOr<WorkerIdParts> parts = ParseWorkerId("host:12-x:q");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->pid, 12);
  EXPECT_EQ(parts->slot, std::nullopt);
}

TEST(WorkerIdTest, IdsWithoutAPositivePidOrAQueuePartAreRefused) {
  for (const char* id : {"host:0:q", "host:-1:q", "host::q", "host:abc:q", "host:12", "host"}) {
    absl::StatusOr<WorkerIdParts> parts = ParseWorkerId(id);
    EXPECT_TRUE(absl::IsInvalidArgument(parts.status())) << id;
  }
  EXPECT_NE(ParseWorkerId("h:x:q").status().message().find("\"h:x:q\""), std::string::npos);
}

// node-resque's Queue.workers() names an id by its first two ':' fields.
TEST(WorkerIdTest, WithoutQueuesIsTheNameNodeResqueGivesTheId) {
  EXPECT_EQ(WorkerIdWithoutQueues("web1:42:high,low"), "web1:42");
  EXPECT_EQ(WorkerIdWithoutQueues(
                FormatWorkerId({.host = "web1", .pid = 42, .slot = 3, .queues = "a:b"})),
            "web1:42");
  EXPECT_EQ(WorkerIdWithoutQueues("web1:42-3:a:b"), "web1:42-3");
}

}  // namespace
}  // namespace resque
