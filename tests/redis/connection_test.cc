// ConnectionPool and its sessions against a real redis-server: a session's Send is applied before
// its next call, a session hands a clean connection back to the pool however it ends, it may move
// between threads, and a server that stops or hangs while replies are pending is Unavailable.
#include "backends/redis/connection.h"

#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace resque::redis {
namespace {

using ::resque::testing::RedisServer;
using ::testing::ElementsAre;

// The text of a string or status reply, an integer in decimal, an array's elements.
std::vector<std::string> Words(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_INTEGER) return {absl::StrFormat("%d", reply.integer)};
  if (reply.type != REDIS_REPLY_ARRAY) return {std::string(ReplyText(reply))};
  std::vector<std::string> out;
  for (size_t i = 0; i < reply.elements; ++i) out.emplace_back(ReplyText(*reply.element[i]));
  return out;
}

// The words of the one reply to `command`, or {"Status: ..."} when the call fails.
template <typename Runner>
std::vector<std::string> RunOne(Runner& runner, Command command) {
  absl::StatusOr<Replies> r = runner.Run({std::move(command)});
  if (!r.ok()) return {absl::StrFormat("Status: %s", r.status().ToString())};
  EXPECT_EQ(r->size(), 1u);
  return Words(*(*r)[0]);
}

template <typename Runner>
std::string ClientId(Runner& runner) {
  std::vector<std::string> id = RunOne(runner, {"CLIENT", "ID"});
  return id.empty() ? "" : id[0];
}

class ConnectionTest : public ::testing::Test {
 protected:
  // A write to a socket the server closed must be an error, not the end of the test binary.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override { ASSERT_TRUE(RedisServer::Shared().Flush().ok()); }

  ConnectionPool pool_{RedisServer::Shared().Options(), {}};
};

TEST_F(ConnectionTest, ASessionRunsAfterWhatItsSendLeftPending) {
  ConnectionPool::Session session = pool_.OpenSession();
  EXPECT_FALSE(session.connected());
  ASSERT_TRUE(session.Send({{"RPUSH", "l", "a"}, {"RPUSH", "l", "b"}, {"INCR", "l"}}).ok());
  EXPECT_EQ(session.pending(), 3u);  // the INCR's WRONGTYPE error among them, dropped
  absl::StatusOr<Replies> r = session.Run({{"LRANGE", "l", "0", "-1"}, {"ECHO", "mine"}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);  // its own replies only
  EXPECT_THAT(Words(*(*r)[0]), ElementsAre("a", "b"));
  EXPECT_THAT(Words(*(*r)[1]), ElementsAre("mine"));
  EXPECT_EQ(session.pending(), 0u);
}

TEST_F(ConnectionTest, ASendAfterASendKeepsTheOrderToo) {
  ConnectionPool::Session session = pool_.OpenSession();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(session.Send({{"RPUSH", "l", absl::StrFormat("%d", i)}}).ok());
  }
  EXPECT_EQ(RunOne(session, {"LINDEX", "l", "-1"}), std::vector<std::string>{"49"});
  EXPECT_EQ(RunOne(session, {"LLEN", "l"}), std::vector<std::string>{"50"});
}

TEST_F(ConnectionTest, ASessionKeepsOneConnectionFromItsFirstCallToItsEnd) {
  ConnectionPool::Session session = pool_.OpenSession();
  const std::string id = ClientId(session);
  ASSERT_TRUE(session.Send({{"SET", "k", "v"}}).ok());
  EXPECT_EQ(ClientId(session), id);
  // Meanwhile the pool serves others on another connection.
  EXPECT_NE(ClientId(pool_), id);
  EXPECT_TRUE(session.connected());
}

TEST_F(ConnectionTest, ASessionWhoseConnectionTheServerClosedReconnectsUnnoticed) {
  ConnectionPool::Session session = pool_.OpenSession();
  const std::string id = ClientId(session);
  ASSERT_TRUE(session.Send({{"SET", "k", "v"}}).ok());
  // The SET is applied (this GET waits for it on the server), then the connection killed.
  ASSERT_EQ(RunOne(session, {"GET", "k"}), std::vector<std::string>{"v"});
  ASSERT_EQ(RunOne(pool_, {"CLIENT", "KILL", "ID", id}), std::vector<std::string>{"1"});
  EXPECT_EQ(RunOne(session, {"GET", "k"}), std::vector<std::string>{"v"});
  EXPECT_NE(ClientId(session), id);
}

TEST_F(ConnectionTest, ASessionEndedWithRepliesPendingHandsBackAWorkingConnection) {
  std::string id;
  {
    ConnectionPool::Session session = pool_.OpenSession();
    id = ClientId(session);
    std::vector<Command> increments(200, Command{"INCR", "c"});
    ASSERT_TRUE(session.Send(increments).ok());
    ASSERT_EQ(session.pending(), 200u);
  }
  // The same connection, back in the pool, with no stale reply left to be read as another's.
  EXPECT_EQ(ClientId(pool_), id);
  EXPECT_EQ(RunOne(pool_, {"ECHO", "fresh"}), std::vector<std::string>{"fresh"});
  EXPECT_EQ(RunOne(pool_, {"GET", "c"}), std::vector<std::string>{"200"});
}

TEST_F(ConnectionTest, AMovedSessionCarriesItsPendingReplies) {
  ConnectionPool::Session first = pool_.OpenSession();
  const std::string id = ClientId(first);
  ASSERT_TRUE(first.Send({{"SET", "k", "v"}}).ok());
  ConnectionPool::Session second = std::move(first);
  EXPECT_EQ(second.pending(), 1u);
  EXPECT_EQ(RunOne(second, {"GET", "k"}), std::vector<std::string>{"v"});
  EXPECT_EQ(ClientId(second), id);
}

TEST_F(ConnectionTest, ASessionUsedFromTwoThreadsOneAfterTheOtherWorks) {
  ConnectionPool::Session session = pool_.OpenSession();
  std::string sent_on;
  std::thread sender([&] {
    sent_on = ClientId(session);
    ASSERT_TRUE(session.Send({{"SET", "k", "from the first thread"}}).ok());
  });
  sender.join();  // the thread is gone; what it sent is still the session's
  std::vector<std::string> got;
  std::string read_on;
  std::thread reader([&] {
    got = RunOne(session, {"GET", "k"});
    read_on = ClientId(session);
  });
  reader.join();
  EXPECT_EQ(got, std::vector<std::string>{"from the first thread"});
  EXPECT_EQ(read_on, sent_on);
  EXPECT_EQ(session.pending(), 0u);
}

// A server of its own, so that stopping it disturbs no other test.
class ConnectionFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  void TearDown() override { ASSERT_TRUE(server_.Resume().ok()); }

  RedisOptions Options() {
    RedisOptions options = server_.Options();
    options.connect_timeout = absl::Milliseconds(300);
    options.command_timeout = absl::Milliseconds(300);
    return options;
  }

  RedisServer server_;
};

TEST_F(ConnectionFaultTest, AServerStoppedAfterASendIsUnavailableThenServedAgain) {
  ConnectionPool pool(Options(), {});
  ConnectionPool::Session session = pool.OpenSession();
  ASSERT_EQ(RunOne(session, {"PING"}), std::vector<std::string>{"PONG"});
  ASSERT_TRUE(session.Send({{"SET", "k", "v"}}).ok());
  ASSERT_TRUE(server_.Stop().ok());

  absl::StatusOr<Replies> down = session.Run({{"GET", "k"}});
  EXPECT_TRUE(absl::IsUnavailable(down.status())) << down.status();
  EXPECT_TRUE(absl::IsUnavailable(session.Send({{"SET", "k", "w"}}))) << "while down";
  EXPECT_EQ(session.pending(), 0u);

  ASSERT_TRUE(server_.Start().ok());  // same port, empty
  EXPECT_EQ(RunOne(session, {"ECHO", "back"}), std::vector<std::string>{"back"});
}

TEST_F(ConnectionFaultTest, AServerThatHangsWithRepliesPendingIsUnavailableByTheCommandTimeout) {
  ConnectionPool pool(Options(), {});
  ConnectionPool::Session session = pool.OpenSession();
  ASSERT_EQ(RunOne(session, {"PING"}), std::vector<std::string>{"PONG"});
  ASSERT_TRUE(server_.Pause().ok());
  ASSERT_TRUE(session.Send({{"SET", "k", "v"}}).ok());  // written; never answered

  const absl::Time start = absl::Now();
  absl::StatusOr<Replies> hung = session.Run({{"GET", "k"}});
  EXPECT_TRUE(absl::IsUnavailable(hung.status())) << hung.status();
  EXPECT_THAT(std::string(hung.status().message()),
              ::testing::HasSubstr("reading the replies of commands sent earlier"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_FALSE(session.connected());  // dropped: what it sent may still be applied

  ASSERT_TRUE(server_.Resume().ok());
  EXPECT_EQ(RunOne(session, {"GET", "k"}), std::vector<std::string>{"v"});
}

// A stopping worker caps the waits: a reply awaited from a hanging server, or a blocking
// command that may be abandoned, ends at the cap, not at the command timeout; calls made
// under the cap wait no longer than it; lifting it restores the timeouts.
TEST_F(ConnectionFaultTest, CapWaitsCutsAReplyAwaitedFromAHangingServerShort) {
  RedisOptions options = Options();
  options.command_timeout = absl::Seconds(20);
  ConnectionPool pool(options, {});
  ConnectionPool::Session session = pool.OpenSession();
  ASSERT_EQ(RunOne(session, {"PING"}), std::vector<std::string>{"PONG"});
  ConnectionPool::Session blocked = pool.OpenSession();
  ASSERT_EQ(RunOne(blocked, {"PING"}), std::vector<std::string>{"PONG"});
  ASSERT_TRUE(server_.Pause().ok());

  const absl::Time start = absl::Now();
  absl::StatusOr<Replies> blpop;
  std::thread waiter([&] {
    blpop = blocked.Run({{"BLMOVE", "a", "b", "LEFT", "RIGHT", "10"}}, absl::Seconds(10),
                        ConnectionPool::Session::Abandon::kAllowed);
  });
  absl::StatusOr<Replies> hung;
  std::thread reader([&] { hung = session.Run({{"GET", "k"}}); });
  absl::SleepFor(absl::Milliseconds(200));
  pool.CapWaits(absl::Milliseconds(300));
  reader.join();
  waiter.join();
  EXPECT_TRUE(absl::IsUnavailable(hung.status())) << hung.status();
  EXPECT_THAT(std::string(hung.status().message()), ::testing::HasSubstr("stopping"));
  EXPECT_TRUE(absl::IsUnavailable(blpop.status())) << blpop.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  const absl::Time again = absl::Now();
  EXPECT_TRUE(absl::IsUnavailable(pool.Run({{"PING"}}).status()));
  EXPECT_LT(absl::Now() - again, absl::Seconds(1));

  pool.CapWaits(absl::InfiniteDuration());
  EXPECT_FALSE(pool.capped());
  ASSERT_TRUE(server_.Resume().ok());
  EXPECT_EQ(RunOne(session, {"PING"}), std::vector<std::string>{"PONG"});
}

}  // namespace
}  // namespace resque::redis
