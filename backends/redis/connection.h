// Connections to one Redis server for the Redis backend: a small pool of hiredis contexts (a
// context is not thread-safe, so each call checks one out), lazy connection with AUTH and
// SELECT, reconnection with capped exponential backoff, and pipelined execution of argv-form
// commands (binary safe: no user data is ever formatted into a command string).
//
// Internal to backends/redis/: hiredis types do not leave this folder.
//
//   ConnectionPool pool(options, {kReserveScript});
//   absl::StatusOr<Replies> r = pool.Run({{"SADD", key, "mail"}, {"RPUSH", qkey, payload}});
#ifndef RESQUE_BACKENDS_REDIS_CONNECTION_H_
#define RESQUE_BACKENDS_REDIS_CONNECTION_H_

#include <hiredis/hiredis.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "backends/redis/redis_backend.h"
#include "backends/redis/reply.h"

namespace resque::redis {

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

// One command: its words, sent as they are.
using Command = std::vector<std::string>;

// A command's word for an integer (decimal).
std::string Int(int64_t v);

// A command's word for a TTL (SET ... PX, a script's ARGV): Redis wants whole milliseconds; a
// positive TTL under 1 ms still expires, as soon as it can.
std::string TtlMillis(absl::Duration ttl);

// Where the server is, for error messages: "host:port" or "unix:/path". Never the password.
std::string RedisAddress(const RedisOptions& options);

class ConnectionPool {
 public:
  // `scripts` are Lua sources loaded (SCRIPT LOAD) on every new connection, so that EVALSHA
  // of their digest normally finds them.
  ConnectionPool(RedisOptions options, std::vector<std::string> scripts);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Sends every command of `commands` then reads every reply: one round trip. Error replies
  // are returned as replies (see ReplyStatus); a failure to reach the server, or an I/O error
  // or timeout on the way, is Unavailable naming the address, and the connection is dropped.
  // `extra_timeout` extends the read timeout (a BLPOP's wait); InfiniteDuration waits forever.
  absl::StatusOr<Replies> Run(absl::Span<const Command> commands,
                              absl::Duration extra_timeout = absl::ZeroDuration());

  // Sends `commands` without waiting for their replies, on a connection then kept for the calling
  // thread: its next call on this pool uses that connection (so the server applies these commands
  // before anything that call sends) and reads the replies first. The replies are dropped, error
  // replies included; an I/O error is Unavailable, as in Run. Saves a round trip where nothing
  // depends on the outcome (a worker marking itself busy before it performs a job).
  absl::Status Send(absl::Span<const Command> commands);

  // Checks that the server can be reached now (connecting if no connection is idle).
  absl::Status Ping();

  // The SHA1 digest of `scripts[i]` as the server reported it; empty before the first
  // connection.
  std::string ScriptSha(size_t i);

  const std::string& address() const { return address_; }

 private:
  absl::StatusOr<Context> Acquire();
  // This thread's connection left by Send, once its replies are read; null if there is none or
  // the server closed it. Unavailable when reading the replies fails (the connection is dropped).
  absl::StatusOr<Context> TakeParked();
  void Release(Context context);
  absl::StatusOr<Context> Connect(absl::Duration timeout);

  const RedisOptions options_;
  const std::vector<std::string> scripts_;
  const std::string address_;

  // std::mutex, not absl::Mutex: Debian's Abseil is built without ThreadSanitizer annotations,
  // so TSan would not see absl::Mutex order the accesses. Guards everything below.
  std::mutex mu_;
  std::vector<Context> idle_;
  // Connections that Send left with replies to read, by the thread that sent.
  struct Parked {
    Context context;
    size_t pending = 0;
  };
  std::unordered_map<std::thread::id, Parked> parked_;
  std::vector<std::string> shas_;
  // Reconnection backoff: no connection attempt starts before next_attempt_.
  absl::Duration backoff_ = absl::ZeroDuration();
  absl::Time next_attempt_ = absl::InfinitePast();
  std::string last_error_;
};

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_CONNECTION_H_
