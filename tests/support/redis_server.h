// RedisServer: a real redis-server child process for tests, on a free loopback port (never
// 6379), with no persistence. One per test process is enough: take Shared(), and Flush() it in
// each test's SetUp. Fault tests Stop() it and Start() it again on the same port.
//
//   resque::testing::RedisServer& redis = resque::testing::RedisServer::Shared();
//   ASSERT_TRUE(redis.Flush().ok());
//   auto backend = resque::redis::NewRedisBackend(redis.Options());
#ifndef RESQUE_TESTS_SUPPORT_REDIS_SERVER_H_
#define RESQUE_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/redis/redis_backend.h"
#include "core/child_process.h"

namespace resque::testing {

class RedisServer {
 public:
  // `password` empty: no AUTH. Does not start the server: call Start().
  explicit RedisServer(std::string password = "");
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  // Stops the server if it runs.
  ~RedisServer();

  // The process-wide server, started on first use (the test aborts if it cannot start) and
  // stopped when the process exits.
  static RedisServer& Shared();

  // Starts redis-server from PATH and waits (10 s at most) until it answers PING. The first
  // start picks a free port (another one if that one is taken meanwhile); later starts reuse it,
  // so clients can reconnect to the same address.
  absl::Status Start();

  // SIGTERM, then SIGKILL if it has not exited within 5 s; reaps the process. OK if not running.
  absl::Status Stop();

  // SIGSTOP / SIGCONT: the server stays up (the kernel still accepts connections) but answers
  // nothing until resumed. For timeout tests.
  absl::Status Pause();
  absl::Status Resume();

  // Persist every write to an append-only file (`--appendonly yes`) in the server's directory,
  // which stays across Stop() and Start(): a restarted server comes back with its data, as a
  // production one does. Call before Start().
  void set_appendonly(bool on) { appendonly_ = on; }

  // More redis-server arguments (`--tls-port 0 ...`, `--replicaof ...`), for every later Start().
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }

  // SIGKILL, as a crash: no shutdown, nothing saved; reaps the process. OK if not running.
  absl::Status Kill();

  // The directory the server runs in (its log is redis.log there).
  const std::string& dir() const { return dir_; }

  bool running() const { return server_ != nullptr; }
  int port() const { return port_; }
  // The server also listens on this Unix socket (valid once started).
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  const std::string& password() const { return password_; }

  // Options for the Redis backend that point at this server (with its password).
  resque::redis::RedisOptions Options() const;

  // Removes every key of every database (FLUSHALL).
  absl::Status Flush();

  // Emulates `d` passing for keys with a TTL: lowers each key's PTTL by `d`, deleting the keys
  // whose time runs out. Keys without a TTL are untouched.
  absl::Status AdvanceTime(absl::Duration d);

  // Runs one command (argv form) and returns the reply rendered as text: a string as is,
  // an integer in decimal, nil as "(nil)", an error as "ERR: <message>", an array as its
  // elements rendered and joined by '\n'. For tests that read what the backend wrote.
  absl::StatusOr<std::string> Command(const std::vector<std::string>& argv) const;

 private:
  absl::Status StartOnce(int port);

  std::string password_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
  std::string dir_;
  bool appendonly_ = false;
  std::vector<std::string> extra_args_;
};

// A port the kernel considers free on 127.0.0.1 right now, never 6379. Someone may take it
// before it is used.
absl::StatusOr<int> FreeLoopbackPort();

}  // namespace resque::testing

#endif  // RESQUE_TESTS_SUPPORT_REDIS_SERVER_H_
