#include "backends/redis/connection.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/status_macros.h"

namespace resque::redis {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

// The reconnect backoff, the one place that decides it (ConnectWithBackoff waits it out), so
// that a shared backoff helper can take its place: the pause before the next connection attempt
// after one more failure, doubling from kFirstBackoff, at most `cap`.
absl::Duration NextBackoff(absl::Duration previous, absl::Duration cap) {
  return previous == absl::ZeroDuration() ? std::min(kFirstBackoff, cap)
                                          : std::min(previous * 2, cap);
}

timeval TimeoutFor(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return timeval{0, 0};  // hiredis: no timeout
  d = std::max(d, absl::Milliseconds(1));                   // {0, 0} would mean "forever"
  return absl::ToTimeval(d);
}

// A pooled context may have been closed by the server while it sat idle (a restart, a client
// timeout). Peeking at the socket tells without a round trip: EOF or pending bytes (a stale
// reply) both mean the context cannot be used.
bool IsOpen(redisContext* c) {
  if (c->err != 0) return false;
  char byte;
  const ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::string Int(int64_t v) { return absl::StrFormat("%d", v); }

std::string TtlMillis(absl::Duration ttl) {
  return Int(std::max<int64_t>(absl::ToInt64Milliseconds(ttl), 1));
}

std::string RedisAddress(const RedisOptions& options) {
  if (!options.unix_socket.empty()) return absl::StrFormat("unix:%s", options.unix_socket);
  if (options.host.find(':') != std::string::npos) {
    return absl::StrFormat("[%s]:%d", options.host, options.port);  // IPv6
  }
  return absl::StrFormat("%s:%d", options.host, options.port);
}

namespace {

RedisOptions WithTimer(RedisOptions options) {
  if (options.timer == nullptr) options.timer = RealClock();
  return options;
}

}  // namespace

ConnectionPool::ConnectionPool(RedisOptions options, std::vector<std::string> scripts)
    : options_(WithTimer(std::move(options))),
      scripts_(std::move(scripts)),
      address_(RedisAddress(options_)),
      shas_(scripts_.size()) {}

namespace {

// Puts every command in the context's output buffer (nothing is written yet).
absl::Status Append(redisContext* c, const std::string& address,
                    absl::Span<const Command> commands) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const Command& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& word : command) {
      argv.push_back(word.data());
      lengths.push_back(word.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
        REDIS_OK) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("redis %s: cannot buffer a command: %s", address, c->errstr));
    }
  }
  return absl::OkStatus();
}

// Writes every command, then reads as many replies. Any I/O error leaves the context unusable.
absl::StatusOr<Replies> Exchange(redisContext* c, const std::string& address,
                                 absl::Span<const Command> commands) {
  RESQUE_RETURN_IF_ERROR(Append(c, address, commands));
  Replies replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      const bool timed_out =
          c->err == REDIS_ERR_IO && std::strcmp(c->errstr, strerror(EAGAIN)) == 0;
      return absl::UnavailableError(absl::StrFormat(
          "redis %s: %s", address,
          timed_out ? "no reply in time (command timeout)" : std::string(c->errstr)));
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

}  // namespace

absl::StatusOr<Context> ConnectionPool::Connect(absl::Duration timeout) {
  const timeval connect_tv = TimeoutFor(timeout);
  Context c(options_.unix_socket.empty()
                ? redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_tv)
                : redisConnectUnixWithTimeout(options_.unix_socket.c_str(), connect_tv));
  if (c == nullptr) {
    return absl::UnavailableError(
        absl::StrFormat("redis %s: cannot allocate a connection", address_));
  }
  if (c->err != 0) {
    return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
  }
  if (redisSetTimeout(c.get(), TimeoutFor(options_.command_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
  }
  if (options_.unix_socket.empty()) redisEnableKeepAlive(c.get());

  bool authenticated = false;
  if (!options_.password.empty() && !options_.username.empty()) {
    // Redis 6 ACLs take AUTH <user> <pass>. php-resque's redis://user:pass@ URLs ignore the
    // user, and Redis 5 knows only AUTH <pass>: fall back to that when the pair is refused.
    absl::StatusOr<Replies> r =
        Exchange(c.get(), address_, {{"AUTH", options_.username, options_.password}});
    if (!r.ok()) return r.status();
    if ((*r)[0]->type != REDIS_REPLY_ERROR) authenticated = true;
  }

  std::vector<Command> setup;
  const bool auth = !options_.password.empty() && !authenticated;
  if (auth) setup.push_back({"AUTH", options_.password});
  if (options_.db != 0) setup.push_back({"SELECT", absl::StrFormat("%d", options_.db)});
  for (const std::string& script : scripts_) setup.push_back({"SCRIPT", "LOAD", script});
  absl::StatusOr<Replies> replies = Exchange(c.get(), address_, setup);
  if (!replies.ok()) return replies.status();
  size_t i = 0;
  if (auth) {
    const redisReply& r = *(*replies)[i++];
    if (r.type == REDIS_REPLY_ERROR) {
      return absl::UnauthenticatedError(
          absl::StrFormat("redis %s: AUTH refused: %s", address_, AbslView(ReplyText(r))));
    }
  }
  if (options_.db != 0) {
    const redisReply& r = *(*replies)[i++];
    if (r.type == REDIS_REPLY_ERROR) {
      return absl::InvalidArgumentError(absl::StrFormat("redis %s: SELECT %d refused: %s", address_,
                                                        options_.db, AbslView(ReplyText(r))));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t s = 0; s < scripts_.size(); ++s) {
    const redisReply& r = *(*replies)[i++];
    if (r.type == REDIS_REPLY_ERROR) {
      return absl::InternalError(
          absl::StrFormat("redis %s: SCRIPT LOAD refused: %s", address_, AbslView(ReplyText(r))));
    }
    shas_[s] = std::string(ReplyText(r));
  }
  return c;
}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Session ConnectionPool::OpenSession() { return Session(this); }

absl::StatusOr<Context> ConnectionPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      Context c = std::move(idle_.back());
      idle_.pop_back();
      if (IsOpen(c.get())) return c;
    }
  }
  return ConnectWithBackoff();
}

absl::StatusOr<Context> ConnectionPool::ConnectWithBackoff() {
  const absl::Time deadline = options_.timer->MonotonicNow() + options_.connect_timeout;
  while (true) {
    absl::Time start;
    {
      std::lock_guard<std::mutex> lock(mu_);
      start = next_attempt_;
      if (start > deadline) {
        return absl::UnavailableError(absl::StrFormat(
            "redis %s: cannot connect (%s); next attempt in %s", address_, last_error_,
            absl::FormatDuration(start - options_.timer->MonotonicNow())));
      }
    }
    const absl::Time now = options_.timer->MonotonicNow();
    if (start > now) options_.timer->SleepFor(start - now);
    const absl::Duration left = deadline - options_.timer->MonotonicNow();
    absl::StatusOr<Context> c = Connect(std::max(left, absl::Milliseconds(1)));
    std::lock_guard<std::mutex> lock(mu_);
    if (c.ok()) {
      backoff_ = absl::ZeroDuration();
      next_attempt_ = absl::InfinitePast();
      return c;
    }
    // Capped by connect_timeout too, so that a call made once the server is back always gets
    // to try within its own deadline.
    backoff_ = NextBackoff(backoff_, std::min(kMaxBackoff, options_.connect_timeout));
    next_attempt_ = options_.timer->MonotonicNow() + backoff_;
    last_error_ = std::string(c.status().message());
    // A refused AUTH or SELECT will not get better by retrying within this call.
    if (!absl::IsUnavailable(c.status()) || next_attempt_ >= deadline) return c.status();
  }
}

void ConnectionPool::Release(Context context) {
  // No cap: the idle list never outgrows the most calls ever made at once, and a cap below
  // that (a worker with many slots, each parked in BLPOP) would reconnect on every wait.
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(context));
}

absl::StatusOr<Replies> ConnectionPool::Run(absl::Span<const Command> commands,
                                            absl::Duration extra_timeout) {
  // The session ends with this call, handing its connection back to the pool.
  return Session(this).Run(commands, extra_timeout);
}

// ---- Session ----

ConnectionPool::Session::Session(Session&& other) noexcept
    : pool_(other.pool_), context_(std::move(other.context_)), pending_(other.pending_) {
  other.pending_ = 0;
}

ConnectionPool::Session& ConnectionPool::Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    pool_ = other.pool_;
    context_ = std::move(other.context_);
    pending_ = other.pending_;
    other.pending_ = 0;
  }
  return *this;
}

ConnectionPool::Session::~Session() { Close(); }

void ConnectionPool::Session::Close() {
  if (context_ == nullptr) return;
  if (pending_ > 0 && !Drain().ok()) return;  // dropped
  pool_->Release(std::move(context_));
}

absl::Status ConnectionPool::Session::Drain() {
  for (; pending_ > 0; --pending_) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      const std::string error = context_->errstr;
      context_.reset();
      pending_ = 0;
      return absl::UnavailableError(absl::StrFormat(
          "redis %s: reading the replies of commands sent earlier: %s", pool_->address_, error));
    }
    freeReplyObject(raw);
  }
  return absl::OkStatus();
}

absl::StatusOr<redisContext*> ConnectionPool::Session::Ready() {
  if (context_ != nullptr) {
    RESQUE_RETURN_IF_ERROR(Drain());
    // The server may have closed it while the caller was busy (its idle timeout).
    if (!IsOpen(context_.get())) context_.reset();
  }
  if (context_ == nullptr) {
    absl::StatusOr<Context> c = pool_->Acquire();
    if (!c.ok()) return c.status();
    context_ = *std::move(c);
  }
  return context_.get();
}

absl::StatusOr<Replies> ConnectionPool::Session::Run(absl::Span<const Command> commands,
                                                     absl::Duration extra_timeout) {
  absl::StatusOr<redisContext*> c = Ready();
  if (!c.ok()) return c.status();
  const RedisOptions& options = pool_->options_;
  const bool extended = extra_timeout != absl::ZeroDuration();
  if (extended) {
    const absl::Duration timeout = extra_timeout == absl::InfiniteDuration()
                                       ? absl::InfiniteDuration()
                                       : options.command_timeout + extra_timeout;
    if (redisSetTimeout(*c, TimeoutFor(timeout)) != REDIS_OK) {
      const absl::Status error =
          absl::UnavailableError(absl::StrFormat("redis %s: %s", pool_->address_, (*c)->errstr));
      context_.reset();
      return error;
    }
  }
  absl::StatusOr<Replies> replies = Exchange(*c, pool_->address_, commands);
  if (!replies.ok()) {
    context_.reset();  // unusable after an I/O error
    return replies.status();
  }
  if (extended && redisSetTimeout(*c, TimeoutFor(options.command_timeout)) != REDIS_OK) {
    context_.reset();  // the replies are good; the context is not kept
  }
  return replies;
}

absl::Status ConnectionPool::Session::Send(absl::Span<const Command> commands) {
  absl::StatusOr<redisContext*> c = Ready();
  if (!c.ok()) return c.status();
  if (absl::Status s = Append(*c, pool_->address_, commands); !s.ok()) {
    context_.reset();
    return s;
  }
  // Written now, so that the server applies the commands while the caller goes on.
  for (int done = 0; done == 0;) {
    if (redisBufferWrite(*c, &done) != REDIS_OK) {
      const absl::Status error =
          absl::UnavailableError(absl::StrFormat("redis %s: %s", pool_->address_, (*c)->errstr));
      context_.reset();
      return error;
    }
  }
  pending_ = commands.size();
  return absl::OkStatus();
}

absl::Status ConnectionPool::Ping() {
  absl::StatusOr<Replies> r = Run({{"PING"}});
  if (!r.ok()) return r.status();
  return ReplyStatus(*(*r)[0], "");
}

std::string ConnectionPool::ScriptSha(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return shas_[i];
}

}  // namespace resque::redis
