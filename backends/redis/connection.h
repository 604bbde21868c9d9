// Connections to one Redis server for the Redis backend: a small pool of hiredis contexts (a
// context is not thread-safe, so each call checks one out), lazy connection with AUTH and
// SELECT, reconnection with capped exponential backoff, and pipelined execution of argv-form
// commands (binary safe: no user data is ever formatted into a command string). Every wait on
// the server is a poll() that CapWaits can cut short, so that a stopping worker is never held
// by a server that hangs or is gone.
//
// Internal to backends/redis/: hiredis types do not leave this folder.
//
//   ConnectionPool pool(options, ScriptSources());
//   absl::StatusOr<Replies> r = pool.Run({{"SADD", key, "mail"}, {"RPUSH", qkey, payload}});
//
// A caller whose commands must reach the server in order across calls, some not awaited (a
// worker slot), holds a ConnectionPool::Session.
#ifndef RESQUE_BACKENDS_REDIS_CONNECTION_H_
#define RESQUE_BACKENDS_REDIS_CONNECTION_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "backends/redis/redis_backend.h"
#include "backends/redis/reply.h"
#include "backends/redis/transport.h"

namespace resque::redis {

using Context = std::unique_ptr<Link>;

// One command: its words, sent as they are.
using Command = std::vector<std::string>;

// A command's word for an integer (decimal).
std::string Int(int64_t v);

// A command's word for a TTL (SET ... PX, a script's ARGV): Redis wants whole milliseconds; a
// positive TTL under 1 ms still expires, as soon as it can.
std::string TtlMillis(absl::Duration ttl);

// Where the server is, for error messages: "host:port", "unix:/path", or for Sentinel
// "master <name> (sentinels host:port,...)". Never the password.
std::string RedisAddress(const RedisOptions& options);

class ConnectionPool {
 public:
  class Session;

  // `scripts` are Lua sources loaded (SCRIPT LOAD) on every new connection, so that EVALSHA
  // of their digest normally finds them. A TLS setting that cannot be loaded (a missing CA file)
  // fails every call, with its reason.
  ConnectionPool(RedisOptions options, std::vector<std::string> scripts);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  // Sessions must be gone by then.
  ~ConnectionPool();

  // A session of this pool (see Session): it takes a connection on its first call.
  Session OpenSession();

  // Sends every command of `commands` then reads every reply: one round trip. Error replies
  // are returned as replies (see ReplyStatus); a failure to reach the server, or an I/O error
  // or timeout on the way, is Unavailable naming the address, and the connection is dropped.
  // So is a reply saying the server is no longer a writable master (READONLY, UNBLOCKED by a
  // role change, MASTERDOWN, LOADING): every idle connection is dropped with it, and the next
  // connection looks for the master again (Sentinel) or reconnects.
  // `blocking` is the server-side wait of a blocking command among them (a BLPOP's), added to
  // the command timeout; InfiniteDuration waits forever.
  absl::StatusOr<Replies> Run(absl::Span<const Command> commands,
                              absl::Duration blocking = absl::ZeroDuration());

  // From now on no wait of this pool on the server (a connection, a write, a reply, a
  // reconnect backoff) lasts longer than `cap`; a wait in progress ends within `cap` from now.
  // A blocking command's own wait is not cut (its reply is awaited `cap` past it), except one
  // sent with Session::Abandon::kAllowed, whose connection is dropped. A cut wait fails
  // Unavailable, as a timeout does. InfiniteDuration lifts the cap. Thread-safe.
  void CapWaits(absl::Duration cap);
  // Whether CapWaits holds.
  bool capped() const { return cap_ns_.load() >= 0; }

  // Checks that the server can be reached now (connecting if no connection is idle).
  absl::Status Ping();

  // The SHA1 digest of `scripts[i]` as the server reported it; empty before the first
  // connection.
  std::string ScriptSha(size_t i);

  const std::string& address() const { return address_; }

  // Failovers noticed so far (replies that the server is no longer the master).
  int64_t failovers() const { return static_cast<int64_t>(generation_.load()); }

  // Exchanges with the server so far (each a write of commands and the read of their replies,
  // connection setup included): what bench/ counts per request.
  int64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

  // One connection of the pool kept for one caller (a worker slot), the explicit owner of the
  // replies its Send leaves unread: the session's next call reads them first, on the same
  // connection, so the server has applied what Send sent before anything that call sends. A
  // session holds its connection from its first call until it is destroyed, which reads what is
  // still pending and hands the connection back to the pool (or drops it if that fails).
  //
  // Used by one caller at a time; that caller may move between threads (a session carries no
  // thread identity). Must not outlive its pool.
  //
  //   ConnectionPool::Session session = pool.OpenSession();
  //   RESQUE_RETURN_IF_ERROR(session.Send({{"SET", worker_key, working_json}}));
  //   absl::StatusOr<Replies> r = session.Run({{"EVALSHA", ...}});  // after the SET
  class Session {
   public:
    Session(Session&& other) noexcept;
    Session& operator=(Session&& other) noexcept;
    ~Session();

    // As ConnectionPool::Run, on this session's connection (taken from the pool, or made, if it
    // has none or the server closed it). Unavailable, without sending anything, when reading the
    // replies an earlier Send left fails: what was sent may still be applied, and sending on
    // another connection could overtake it.
    // `abandon`: whether CapWaits may drop the connection in the middle of the blocking wait
    // (it may when whatever the command takes stays on the server: a BLMOVE's job sits in an
    // in-flight list; a BLPOP's reply would be a job lost).
    enum class Abandon { kNever, kAllowed };
    absl::StatusOr<Replies> Run(absl::Span<const Command> commands,
                                absl::Duration blocking = absl::ZeroDuration(),
                                Abandon abandon = Abandon::kNever);

    // Writes `commands` and returns without reading their replies, which stay pending on this
    // session's connection until its next call (or its end) reads and drops them. Unavailable
    // as Run.
    absl::Status Send(absl::Span<const Command> commands);

    // How many replies Send left unread.
    size_t pending() const { return pending_; }
    // Whether the session holds a connection now.
    bool connected() const { return context_ != nullptr; }

    ConnectionPool& pool() const { return *pool_; }

   private:
    friend class ConnectionPool;
    explicit Session(ConnectionPool* pool) : pool_(pool) {}

    // The connection to send on: this session's own once what Send left pending is read, else
    // one from the pool.
    absl::StatusOr<Link*> Ready();
    // Reads and drops the pending replies; on failure the connection is dropped.
    absl::Status Drain();
    // Hands the connection back to the pool if nothing is pending or Drain succeeds.
    void Close();

    ConnectionPool* pool_;
    Context context_;
    size_t pending_ = 0;
  };

 private:
  // How long one exchange may wait: from `start` (MonotonicNow of the real clock), `timeout`,
  // of which `blocking` is the server's own wait (a BLPOP's), cut by CapWaits unless `keep`.
  struct WaitSpec {
    absl::Time start;
    absl::Duration timeout;
    absl::Duration blocking = absl::ZeroDuration();
    bool keep_blocking = true;
  };
  WaitSpec Spec(absl::Duration blocking = absl::ZeroDuration(), bool keep_blocking = true) const;
  // When a wait of `spec` must end, with CapWaits as it is now.
  absl::Time Limit(const WaitSpec& spec) const;
  // Polls `fd` for `events` until ready (true) or the limit of `spec` (false). A CapWaits
  // wakes it to look at its limit again.
  bool AwaitFd(int fd, short events, const WaitSpec& spec) const;
  // Unavailable for a wait of `spec` that ran out: a timeout, or the cap.
  absl::Status TimedOut(const WaitSpec& spec, std::string_view what) const;
  absl::Status WriteAll(Link* c, const WaitSpec& spec) const;
  // One reply, read as it arrives.
  absl::StatusOr<Reply> ReadReply(Link* c, const WaitSpec& spec) const;
  // Writes every command, then reads as many replies. Any error leaves the context unusable.
  absl::StatusOr<Replies> Exchange(Link* c, absl::Span<const Command> commands,
                                   const WaitSpec& spec) const;
  // An idle connection, or a new one.
  absl::StatusOr<Context> Acquire();
  // Connects within connect_timeout, no sooner than the backoff left by failed attempts allows.
  absl::StatusOr<Context> ConnectWithBackoff();
  absl::StatusOr<Context> Connect(absl::Duration timeout);
  // A connected (and, with TLS, handshaken) link to host:port or the Unix socket `unix`.
  absl::StatusOr<Context> Open(const std::string& host, int port, const std::string& unix,
                               const WaitSpec& spec);
  // The master's address as the sentinels give it, trying each in turn within `spec`.
  absl::StatusOr<HostPort> ResolveMaster(const WaitSpec& spec);
  // Whether `link` may carry another call: made since the last LostMaster, and neither closed by
  // the server nor holding stray bytes.
  bool Reusable(Link& link) const { return link.generation == generation_.load() && link.IsOpen(); }
  // Called on a reply that says the server is not a writable master: no idle connection of
  // the old generation is used again.
  void LostMaster();
  // Unavailable after LostMaster when a reply of `replies` says so, naming it.
  absl::Status CheckMaster(const Replies& replies);
  // `s` with "redis <address>: " before its message, its code kept.
  absl::Status Prefixed(const absl::Status& s) const;
  void Release(Context context);
  // Sleeps `d` on the timer unless CapWaits comes first.
  void BackoffSleep(std::unique_lock<std::mutex>& lock, absl::Duration d);

  const RedisOptions options_;
  const std::vector<std::string> scripts_;
  const std::string address_;
  mutable std::atomic<int64_t> round_trips_{0};
  // The TLS context when options_.tls.enabled, or why it could not be made.
  std::shared_ptr<TlsContext> tls_;
  absl::Status tls_error_;
  // Bumped by LostMaster: links of an older generation are not reused.
  std::atomic<uint64_t> generation_{0};

  // std::mutex, not absl::Mutex: Debian's Abseil is built without ThreadSanitizer annotations,
  // so TSan would not see absl::Mutex order the accesses. Guards everything below.
  std::mutex mu_;
  std::vector<Context> idle_;
  std::vector<std::string> shas_;
  // Reconnection backoff: no connection attempt starts before next_attempt_.
  absl::Duration backoff_ = absl::ZeroDuration();
  absl::Time next_attempt_ = absl::InfinitePast();
  std::string last_error_;
  size_t sentinel_first_ = 0;          // the sentinel that answered last, asked first next time
  std::condition_variable capped_cv_;  // notified (under mu_) when CapWaits sets a cap

  // CapWaits: the cap in nanoseconds (-1: none) and since when (the real MonotonicNow, in
  // nanoseconds), read without mu_ by every wait. wake_fd_ (an eventfd) turns readable when a
  // cap is set, waking the polls in progress; it is drained when the cap is lifted.
  std::atomic<int64_t> cap_ns_{-1};
  std::atomic<int64_t> capped_at_ns_{0};
  int wake_fd_ = -1;
};

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_CONNECTION_H_
