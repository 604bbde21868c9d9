#include "backends/redis/connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
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

// I/O waits are on the real clock whatever RedisOptions::timer is: the server does not
// follow a test's ManualClock.
absl::Time RealNow() { return RealClock()->MonotonicNow(); }

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
      shas_(scripts_.size()),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ConnectionPool::~ConnectionPool() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ConnectionPool::CapWaits(absl::Duration cap) {
  if (cap == absl::InfiniteDuration()) {
    cap_ns_.store(-1);
    uint64_t n = 0;
    if (wake_fd_ >= 0) (void)!read(wake_fd_, &n, sizeof(n));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    capped_at_ns_.store(absl::ToUnixNanos(RealNow()));
    cap_ns_.store(std::max<int64_t>(absl::ToInt64Nanoseconds(cap), 0));
  }
  capped_cv_.notify_all();
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

ConnectionPool::WaitSpec ConnectionPool::Spec(absl::Duration blocking, bool keep_blocking) const {
  const absl::Duration timeout = blocking == absl::InfiniteDuration()
                                     ? absl::InfiniteDuration()
                                     : options_.command_timeout + blocking;
  return {
      .start = RealNow(), .timeout = timeout, .blocking = blocking, .keep_blocking = keep_blocking};
}

absl::Time ConnectionPool::Limit(const WaitSpec& spec) const {
  const absl::Time own = spec.start + spec.timeout;
  const int64_t cap = cap_ns_.load();
  if (cap < 0) return own;
  const absl::Time capped_at = absl::FromUnixNanos(capped_at_ns_.load());
  // A wait that began before the cap ends `cap` after it; one that began since, `cap` after its
  // start. A blocking command's own wait is waited out first, unless it may be abandoned.
  absl::Time from = std::max(spec.start, capped_at);
  if (spec.keep_blocking || spec.start >= capped_at) {
    from = std::max(from, spec.start + spec.blocking);
  }
  return std::min(own, from + absl::Nanoseconds(cap));
}

bool ConnectionPool::AwaitFd(int fd, short events, const WaitSpec& spec) const {
  for (;;) {
    const bool was_capped = capped();
    const absl::Duration left = Limit(spec) - RealNow();
    if (left <= absl::ZeroDuration()) return false;
    int timeout_ms = -1;
    if (left != absl::InfiniteDuration()) {
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
    }
    pollfd fds[2] = {{fd, events, 0}, {wake_fd_, POLLIN, 0}};
    // The wake fd stays readable while a cap holds: only a wait that has not seen the cap
    // listens to it.
    const nfds_t n = was_capped || wake_fd_ < 0 ? 1 : 2;
    const int ready = poll(fds, n, timeout_ms);
    if (ready < 0 && errno != EINTR) return true;  // the read or write that follows says why
    if (ready > 0 && fds[0].revents != 0) return true;
    // A timeout, a signal or a cap: look at the limit again.
  }
}

absl::Status ConnectionPool::TimedOut(const WaitSpec& spec, std::string_view what) const {
  if (capped() && Limit(spec) < spec.start + spec.timeout) {
    return absl::UnavailableError(absl::StrFormat(
        "redis %s: %s cut short: the worker is stopping and waits at most %s", address_,
        AbslView(what), absl::FormatDuration(absl::Nanoseconds(cap_ns_.load()))));
  }
  return absl::UnavailableError(
      absl::StrFormat("redis %s: %s in time (command timeout)", address_, AbslView(what)));
}

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

}  // namespace

absl::Status ConnectionPool::WriteAll(redisContext* c, const WaitSpec& spec) const {
  for (int done = 0;;) {
    if (redisBufferWrite(c, &done) != REDIS_OK) {
      return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
    }
    if (done != 0) return absl::OkStatus();
    if (!AwaitFd(c->fd, POLLOUT, spec)) return TimedOut(spec, "could not send");
  }
}

absl::StatusOr<Reply> ConnectionPool::ReadReply(redisContext* c, const WaitSpec& spec) const {
  for (;;) {
    void* raw = nullptr;
    // Non-blocking context: this only takes a reply already read, if there is one.
    if (redisGetReply(c, &raw) != REDIS_OK) {
      return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
    }
    if (raw != nullptr) return Reply(static_cast<redisReply*>(raw));
    if (!AwaitFd(c->fd, POLLIN, spec)) return TimedOut(spec, "no reply");
    if (redisBufferRead(c) != REDIS_OK) {
      return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
    }
  }
}

absl::StatusOr<Replies> ConnectionPool::Exchange(redisContext* c,
                                                 absl::Span<const Command> commands,
                                                 const WaitSpec& spec) const {
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  RESQUE_RETURN_IF_ERROR(Append(c, address_, commands));
  RESQUE_RETURN_IF_ERROR(WriteAll(c, spec));
  Replies replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    RESQUE_ASSIGN_OR_RETURN(Reply reply, ReadReply(c, spec));
    replies.push_back(std::move(reply));
  }
  return replies;
}

absl::StatusOr<Context> ConnectionPool::Connect(absl::Duration timeout) {
  // Non-blocking, as the context stays: every wait is AwaitFd's.
  Context c(options_.unix_socket.empty()
                ? redisConnectNonBlock(options_.host.c_str(), options_.port)
                : redisConnectUnixNonBlock(options_.unix_socket.c_str()));
  if (c == nullptr) {
    return absl::UnavailableError(
        absl::StrFormat("redis %s: cannot allocate a connection", address_));
  }
  if (c->err != 0) {
    return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, c->errstr));
  }
  const WaitSpec connecting = {.start = RealNow(), .timeout = timeout};
  if (!AwaitFd(c->fd, POLLOUT, connecting)) {
    return absl::UnavailableError(absl::StrFormat("redis %s: cannot connect within %s%s", address_,
                                                  absl::FormatDuration(timeout),
                                                  capped() ? " (stopping)" : ""));
  }
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    return absl::UnavailableError(absl::StrFormat("redis %s: %s", address_, strerror(error)));
  }
  if (options_.unix_socket.empty()) redisEnableKeepAlive(c.get());

  bool authenticated = false;
  if (!options_.password.empty() && !options_.username.empty()) {
    // Redis 6 ACLs take AUTH <user> <pass>. php-resque's redis://user:pass@ URLs ignore the
    // user, and Redis 5 knows only AUTH <pass>: fall back to that when the pair is refused.
    absl::StatusOr<Replies> r =
        Exchange(c.get(), {{"AUTH", options_.username, options_.password}}, Spec());
    if (!r.ok()) return r.status();
    if ((*r)[0]->type != REDIS_REPLY_ERROR) authenticated = true;
  }

  std::vector<Command> setup;
  const bool auth = !options_.password.empty() && !authenticated;
  if (auth) setup.push_back({"AUTH", options_.password});
  if (options_.db != 0) setup.push_back({"SELECT", absl::StrFormat("%d", options_.db)});
  for (const std::string& script : scripts_) setup.push_back({"SCRIPT", "LOAD", script});
  absl::StatusOr<Replies> replies = Exchange(c.get(), setup, Spec());
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
    {
      std::unique_lock<std::mutex> lock(mu_);
      const absl::Time start = next_attempt_;
      // Under a cap (a stopping worker) each call tries once, at once: whoever calls has its
      // own pace and no time to wait out a backoff.
      if (!capped()) {
        if (start > deadline) {
          return absl::UnavailableError(absl::StrFormat(
              "redis %s: cannot connect (%s); next attempt in %s", address_, last_error_,
              absl::FormatDuration(start - options_.timer->MonotonicNow())));
        }
        const absl::Time now = options_.timer->MonotonicNow();
        if (start > now) BackoffSleep(lock, start - now);
      }
    }
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
    if (!absl::IsUnavailable(c.status()) || next_attempt_ >= deadline || capped()) {
      return c.status();
    }
  }
}

void ConnectionPool::BackoffSleep(std::unique_lock<std::mutex>& lock, absl::Duration d) {
  options_.timer->WaitFor(lock, capped_cv_, d, [this] { return capped(); });
}

void ConnectionPool::Release(Context context) {
  // No cap: the idle list never outgrows the most calls ever made at once, and a cap below
  // that (a worker with many slots, each parked in BLPOP) would reconnect on every wait.
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(context));
}

absl::StatusOr<Replies> ConnectionPool::Run(absl::Span<const Command> commands,
                                            absl::Duration blocking) {
  // The session ends with this call, handing its connection back to the pool.
  return Session(this).Run(commands, blocking);
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
  const WaitSpec spec = pool_->Spec();
  for (; pending_ > 0; --pending_) {
    absl::StatusOr<Reply> reply = pool_->ReadReply(context_.get(), spec);
    if (!reply.ok()) {
      context_.reset();
      pending_ = 0;
      return absl::UnavailableError(absl::StrFormat(
          "reading the replies of commands sent earlier: %s", reply.status().message()));
    }
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
                                                     absl::Duration blocking, Abandon abandon) {
  absl::StatusOr<redisContext*> c = Ready();
  if (!c.ok()) return c.status();
  absl::StatusOr<Replies> replies =
      pool_->Exchange(*c, commands, pool_->Spec(blocking, abandon == Abandon::kNever));
  if (!replies.ok()) context_.reset();  // unusable after an I/O error or a timeout
  return replies;
}

absl::Status ConnectionPool::Session::Send(absl::Span<const Command> commands) {
  absl::StatusOr<redisContext*> c = Ready();
  if (!c.ok()) return c.status();
  absl::Status s = Append(*c, pool_->address_, commands);
  // Written now, so that the server applies the commands while the caller goes on.
  if (s.ok()) s = pool_->WriteAll(*c, pool_->Spec());
  if (!s.ok()) {
    context_.reset();
    return s;
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
