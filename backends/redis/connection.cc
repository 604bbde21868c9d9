#include "backends/redis/connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

}  // namespace

std::string Int(int64_t v) { return absl::StrFormat("%d", v); }

std::string TtlMillis(absl::Duration ttl) {
  return Int(std::max<int64_t>(absl::ToInt64Milliseconds(ttl), 1));
}

namespace {

std::string HostPortText(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return absl::StrFormat("[%s]:%d", host, port);  // IPv6
  return absl::StrFormat("%s:%d", host, port);
}

}  // namespace

std::string RedisAddress(const RedisOptions& options) {
  if (!options.sentinels.empty()) {
    std::string list;
    for (const HostPort& s : options.sentinels) {
      if (!list.empty()) list += ",";
      list += HostPortText(s.host, s.port);
    }
    return absl::StrFormat("master %s (sentinels %s)", options.sentinel_master, list);
  }
  if (!options.unix_socket.empty()) return absl::StrFormat("unix:%s", options.unix_socket);
  return HostPortText(options.host, options.port);
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
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (options_.tls.enabled) {
    absl::StatusOr<std::shared_ptr<TlsContext>> tls = TlsContext::Make(options_.tls);
    if (tls.ok()) {
      tls_ = *std::move(tls);
    } else {
      tls_error_ = Prefixed(tls.status());
    }
  }
}

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

absl::Status ConnectionPool::Prefixed(const absl::Status& s) const {
  return absl::Status(s.code(), absl::StrFormat("redis %s: %s", address_, s.message()));
}

absl::Status ConnectionPool::WriteAll(Link* c, const WaitSpec& spec) const {
  for (;;) {
    absl::StatusOr<Io> io = c->Flush();
    if (!io.ok()) return Prefixed(io.status());
    if (*io == Io::kDone) return absl::OkStatus();
    if (!AwaitFd(c->fd(), *io == Io::kWantRead ? POLLIN : POLLOUT, spec)) {
      return TimedOut(spec, "could not send");
    }
  }
}

absl::StatusOr<Reply> ConnectionPool::ReadReply(Link* c, const WaitSpec& spec) const {
  for (;;) {
    absl::StatusOr<redisReply*> taken = c->TakeReply();
    if (!taken.ok()) return Prefixed(taken.status());
    if (*taken != nullptr) return Reply(*taken);
    // TLS may hold decrypted bytes the socket no longer shows: read first, poll when it asks.
    // Plaintext polls first, which saves a read that would find nothing.
    Io want = Io::kWantRead;
    if (c->tls()) {
      absl::StatusOr<Io> io = c->Fill();
      if (!io.ok()) return Prefixed(io.status());
      if (*io == Io::kDone) continue;
      want = *io;
    }
    if (!AwaitFd(c->fd(), want == Io::kWantWrite ? POLLOUT : POLLIN, spec)) {
      return TimedOut(spec, "no reply");
    }
    if (!c->tls()) {
      absl::StatusOr<Io> io = c->Fill();
      if (!io.ok()) return Prefixed(io.status());
    }
  }
}

absl::StatusOr<Replies> ConnectionPool::Exchange(Link* c, absl::Span<const Command> commands,
                                                 const WaitSpec& spec) const {
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  for (const Command& command : commands) {
    absl::Status appended = c->Append(command);
    if (!appended.ok()) return Prefixed(appended);
  }
  RESQUE_RETURN_IF_ERROR(WriteAll(c, spec));
  Replies replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    RESQUE_ASSIGN_OR_RETURN(Reply reply, ReadReply(c, spec));
    replies.push_back(std::move(reply));
  }
  return replies;
}

namespace {

// Replies that say the server cannot take writes as a master now: it was demoted by a failover
// (READONLY; UNBLOCKED for a blocked command when its role changed), lost its own master
// (MASTERDOWN) or is loading its data after a restart (LOADING).
bool SaysNotMaster(const redisReply& r) {
  if (r.type != REDIS_REPLY_ERROR) return false;
  const absl::string_view text(r.str, r.len);
  return absl::StartsWith(text, "READONLY") || absl::StartsWith(text, "UNBLOCKED") ||
         absl::StartsWith(text, "MASTERDOWN") || absl::StartsWith(text, "LOADING");
}

}  // namespace

void ConnectionPool::LostMaster() {
  std::vector<Context> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1);
    old.swap(idle_);
  }
}

absl::Status ConnectionPool::CheckMaster(const Replies& replies) {
  for (const Reply& r : replies) {
    if (SaysNotMaster(*r)) {
      LostMaster();
      return absl::UnavailableError(
          absl::StrFormat("redis %s: the server is not a writable master now (%s); reconnecting",
                          address_, AbslView(ReplyText(*r))));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Context> ConnectionPool::Open(const std::string& host, int port,
                                             const std::string& unix, const WaitSpec& spec) {
  const std::string where = unix.empty() ? HostPortText(host, port) : "unix:" + unix;
  absl::StatusOr<Context> started =
      unix.empty() ? Link::StartTcp(host, port) : Link::StartUnix(unix);
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrFormat("%s: %s", where, started.status().message()));
  }
  Context c = *std::move(started);
  for (;;) {
    if (!AwaitFd(c->fd(), POLLOUT, spec)) {
      return absl::UnavailableError(absl::StrFormat("%s: cannot connect within %s%s", where,
                                                    absl::FormatDuration(spec.timeout),
                                                    capped() ? " (stopping)" : ""));
    }
    absl::Status connected = c->Connected();
    if (connected.ok()) break;
    if (!c->NextAddress()) {
      return absl::UnavailableError(absl::StrFormat("%s: %s", where, connected.message()));
    }
  }
  if (tls_ != nullptr && unix.empty()) {  // Redis serves no TLS on its Unix socket
    RESQUE_RETURN_IF_ERROR(c->StartTls(*tls_, host));
    for (;;) {
      absl::StatusOr<Io> io = c->Handshake();
      if (!io.ok()) {
        return absl::Status(io.status().code(),
                            absl::StrFormat("%s: %s", where, io.status().message()));
      }
      if (*io == Io::kDone) break;
      if (!AwaitFd(c->fd(), *io == Io::kWantRead ? POLLIN : POLLOUT, spec)) {
        return absl::UnavailableError(
            absl::StrFormat("%s: no TLS handshake in time (is it a TLS port?)", where));
      }
    }
  }
  return c;
}

absl::StatusOr<HostPort> ConnectionPool::ResolveMaster(const WaitSpec& spec) {
  const std::vector<HostPort>& sentinels = options_.sentinels;
  size_t first = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = sentinel_first_;
  }
  std::vector<std::string> errors;
  size_t unknown = 0;
  size_t refused = 0;
  for (size_t k = 0; k < sentinels.size(); ++k) {
    const size_t i = (first + k) % sentinels.size();
    const HostPort& sentinel = sentinels[i];
    const std::string where = HostPortText(sentinel.host, sentinel.port);
    // A sentinel that hangs may take only its share of what is left, so that the others are
    // still asked.
    const absl::Duration left = Limit(spec) - RealNow();
    if (left <= absl::ZeroDuration()) break;
    const WaitSpec share = {.start = RealNow(),
                            .timeout = left / static_cast<int64_t>(sentinels.size() - k)};
    absl::StatusOr<Context> c = Open(sentinel.host, sentinel.port, "", share);
    if (!c.ok()) {
      errors.push_back(std::string(c.status().message()));
      continue;
    }
    std::vector<Command> commands;
    if (!options_.sentinel_password.empty()) {
      if (options_.sentinel_username.empty()) {
        commands.push_back({"AUTH", options_.sentinel_password});
      } else {
        commands.push_back({"AUTH", options_.sentinel_username, options_.sentinel_password});
      }
    }
    commands.push_back({"SENTINEL", "get-master-addr-by-name", options_.sentinel_master});
    absl::StatusOr<Replies> r = Exchange(c->get(), commands, share);
    if (!r.ok()) {
      errors.push_back(absl::StrFormat("%s: %s", where, r.status().message()));
      continue;
    }
    if (!options_.sentinel_password.empty() && (*r)[0]->type == REDIS_REPLY_ERROR) {
      ++refused;
      errors.push_back(
          absl::StrFormat("%s: AUTH refused: %s", where, AbslView(ReplyText(*(*r)[0]))));
      continue;
    }
    const redisReply& addr = *r->back();
    if (addr.type == REDIS_REPLY_NIL) {
      ++unknown;
      errors.push_back(
          absl::StrFormat("%s: no master named \"%s\"", where, options_.sentinel_master));
      continue;
    }
    int port = 0;
    if (addr.type != REDIS_REPLY_ARRAY || addr.elements != 2 ||
        addr.element[0]->type != REDIS_REPLY_STRING ||
        addr.element[1]->type != REDIS_REPLY_STRING ||
        !absl::SimpleAtoi(absl::string_view(addr.element[1]->str, addr.element[1]->len), &port)) {
      errors.push_back(
          absl::StrFormat("%s: unexpected answer to SENTINEL get-master-addr-by-name: %s", where,
                          AbslView(ReplyText(addr))));
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      sentinel_first_ = i;
    }
    return HostPort{.host = std::string(addr.element[0]->str, addr.element[0]->len), .port = port};
  }
  const std::string why = errors.empty() ? "no time left to ask" : absl::StrJoin(errors, "; ");
  // Every sentinel answering that it knows no such master is a mistake in the URL, not a
  // passing failure.
  if (unknown == sentinels.size()) {
    return absl::InvalidArgumentError(absl::StrFormat("redis %s: %s", address_, why));
  }
  if (refused == sentinels.size()) {
    return absl::UnauthenticatedError(absl::StrFormat("redis %s: %s", address_, why));
  }
  return absl::UnavailableError(
      absl::StrFormat("redis %s: no sentinel gave the master's address: %s", address_, why));
}

absl::StatusOr<Context> ConnectionPool::Connect(absl::Duration timeout) {
  if (!tls_error_.ok()) return tls_error_;
  const WaitSpec connecting = {.start = RealNow(), .timeout = timeout};
  // Read before the master is looked up: a LostMaster meanwhile makes this link old at once.
  const uint64_t generation = generation_.load();
  const bool sentinel = !options_.sentinels.empty();
  std::string host = options_.host;
  int port = options_.port;
  if (sentinel) {
    RESQUE_ASSIGN_OR_RETURN(HostPort master, ResolveMaster(connecting));
    host = std::move(master.host);
    port = master.port;
  }
  absl::StatusOr<Context> opened =
      Open(host, port, sentinel ? "" : options_.unix_socket, connecting);
  if (!opened.ok()) {
    // The message names the address it tried; with Sentinel, which master that was too.
    if (sentinel) return Prefixed(opened.status());
    return absl::Status(opened.status().code(),
                        absl::StrFormat("redis %s", opened.status().message()));
  }
  Context c = *std::move(opened);
  c->generation = generation;

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
  // What the sentinels say may be a step behind a failover: the server itself tells its role.
  if (sentinel) setup.push_back({"ROLE"});
  absl::StatusOr<Replies> replies = Exchange(c.get(), setup, Spec());
  if (!replies.ok()) return replies.status();
  if (sentinel) {
    const redisReply& role = *replies->back();
    const bool master = role.type == REDIS_REPLY_ARRAY && role.elements > 0 &&
                        role.element[0]->type == REDIS_REPLY_STRING &&
                        absl::string_view(role.element[0]->str, role.element[0]->len) == "master";
    if (!master) {
      return absl::UnavailableError(absl::StrFormat(
          "redis %s: %s is not the master (yet): its role is %s", address_,
          HostPortText(host, port),
          AbslView(role.type == REDIS_REPLY_ARRAY && role.elements > 0 ? ReplyText(*role.element[0])
                                                                       : ReplyText(role))));
    }
  }
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
      if (Reusable(*c)) return c;
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

absl::StatusOr<Link*> ConnectionPool::Session::Ready() {
  if (context_ != nullptr) {
    RESQUE_RETURN_IF_ERROR(Drain());
    // The server may have closed it while the caller was busy (its idle timeout).
    if (!pool_->Reusable(*context_)) context_.reset();
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
  absl::StatusOr<Link*> c = Ready();
  if (!c.ok()) return c.status();
  absl::StatusOr<Replies> replies =
      pool_->Exchange(*c, commands, pool_->Spec(blocking, abandon == Abandon::kNever));
  if (!replies.ok()) {
    context_.reset();  // unusable after an I/O error or a timeout
    return replies;
  }
  if (absl::Status master = pool_->CheckMaster(*replies); !master.ok()) {
    context_.reset();
    return master;
  }
  return replies;
}

absl::Status ConnectionPool::Session::Send(absl::Span<const Command> commands) {
  absl::StatusOr<Link*> c = Ready();
  if (!c.ok()) return c.status();
  absl::Status s;
  for (const Command& command : commands) {
    if (s.ok()) s = (*c)->Append(command);
  }
  if (!s.ok()) s = pool_->Prefixed(s);
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
