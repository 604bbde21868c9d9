#include "backends/redis/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "core/absl_view.h"

namespace resque::redis {
namespace {

constexpr size_t kReadChunk = size_t{16} * 1024;
constexpr int kKeepAliveSeconds = 15;  // as hiredis's redisEnableKeepAlive

// The newest OpenSSL error on this thread's queue, as text, and the queue emptied (so that an
// old error never explains a new failure).
std::string SslErrors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

// OpenSSL writes with write(2), which raises SIGPIPE when the server has gone: blocked around
// each TLS call and taken if it came, so that the embedding program sees an error, not its death.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_ && sigismember(&old_, SIGPIPE) == 0) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec now{0, 0};
        sigtimedwait(&pipe_, nullptr, &now);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void TuneTcp(int fd) {
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  int idle = kKeepAliveSeconds;
  int interval = kKeepAliveSeconds / 3;
  int count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

}  // namespace

// ---- TlsContext ----

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Make(const TlsOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrFormat("TLS: cannot make a context: %s", SslErrors()));
  }
  std::shared_ptr<TlsContext> out(new TlsContext(ctx, options));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (options.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (options.ca_file.empty() && options.ca_dir.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return absl::InvalidArgumentError(
            absl::StrFormat("TLS: cannot load the system's CA certificates: %s", SslErrors()));
      }
    } else if (SSL_CTX_load_verify_locations(
                   ctx, options.ca_file.empty() ? nullptr : options.ca_file.c_str(),
                   options.ca_dir.empty() ? nullptr : options.ca_dir.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS: cannot load the CA certificates from %s: %s",
                          options.ca_file.empty() ? options.ca_dir : options.ca_file, SslErrors()));
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS: a client certificate needs its key, and a key its certificate (tls_cert and "
        "tls_key)");
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "TLS: cannot load the client certificate %s: %s", options.cert_file, SslErrors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS: cannot load the client key %s: %s", options.key_file, SslErrors()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS: the key %s does not match the certificate %s", options.key_file,
                          options.cert_file));
    }
  }
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

// ---- Link ----

Link::~Link() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // no close_notify: the socket is simply closed
  if (fd_ >= 0) close(fd_);
  if (reader_ != nullptr) redisReaderFree(reader_);
}

absl::StatusOr<std::unique_ptr<Link>> Link::StartTcp(const std::string& host, int port) {
  std::unique_ptr<Link> link(new Link());
  link->host_ = host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrFormat("%d", port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrFormat("cannot resolve %s: %s", host, gai_strerror(rc)));
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(a->ai_addr);
    link->addresses_.emplace_back(bytes, bytes + a->ai_addrlen);
  }
  freeaddrinfo(found);
  if (link->addresses_.empty()) {
    return absl::UnavailableError(absl::StrFormat("%s has no address", host));
  }
  // An address that refuses at once (no route, say) gives way to the next.
  absl::Status started = link->StartConnect();
  if (!started.ok() && !link->NextAddress()) return started;
  return link;
}

absl::StatusOr<std::unique_ptr<Link>> Link::StartUnix(const std::string& path) {
  std::unique_ptr<Link> link(new Link());
  link->host_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrFormat("socket path too long: %s", path));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(&addr);
  link->addresses_.emplace_back(bytes, bytes + sizeof(addr));
  absl::Status started = link->StartConnect();
  if (!started.ok()) return started;
  return link;
}

absl::Status Link::StartConnect() {
  const std::vector<unsigned char>& a = addresses_[next_address_];
  const auto* addr = reinterpret_cast<const sockaddr*>(a.data());
  fd_ = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return absl::UnavailableError(absl::StrFormat("socket: %s", strerror(errno)));
  if (addr->sa_family != AF_UNIX) TuneTcp(fd_);
  if (connect(fd_, addr, static_cast<socklen_t>(a.size())) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    close(fd_);
    fd_ = -1;
    return absl::UnavailableError(strerror(err));
  }
  return absl::OkStatus();
}

bool Link::NextAddress() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  while (++next_address_ < addresses_.size()) {
    if (StartConnect().ok()) return true;
  }
  return false;
}

absl::Status Link::Connected() {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return absl::UnavailableError(strerror(error));
  reader_ = redisReaderCreate();
  if (reader_ == nullptr) return absl::ResourceExhaustedError("cannot allocate a reply reader");
  return absl::OkStatus();
}

absl::Status Link::StartTls(const TlsContext& tls, const std::string& host) {
  ssl_ = SSL_new(tls.get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    return absl::InternalError(absl::StrFormat("TLS: cannot start a session: %s", SslErrors()));
  }
  const std::string& name = tls.options().server_name.empty() ? host : tls.options().server_name;
  // SNI carries names only, never an address (RFC 6066).
  if (!IsIpAddress(name)) SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (tls.options().verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    const int set = IsIpAddress(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                      : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    if (set != 1) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS: cannot check the server's certificate for \"%s\"", name));
    }
  }
  SSL_set_connect_state(ssl_);
  return absl::OkStatus();
}

absl::StatusOr<Io> Link::Handshake() {
  SigpipeBlock block;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Io::kDone;
  const int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ) return Io::kWantRead;
  if (error == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
  const long verified = SSL_get_verify_result(ssl_);
  if (verified != X509_V_OK) {
    ERR_clear_error();
    return absl::UnauthenticatedError(absl::StrFormat(
        "TLS: the server's certificate is refused: %s", X509_verify_cert_error_string(verified)));
  }
  if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    return absl::UnavailableError(absl::StrFormat(
        "TLS handshake: %s", rc == 0 || errno == 0 ? "the server closed the connection (is it a "
                                                     "TLS port?)"
                                                   : strerror(errno)));
  }
  return absl::UnavailableError(absl::StrFormat("TLS handshake: %s", SslErrors()));
}

absl::Status Link::Append(const std::vector<std::string>& words) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(words.size());
  lengths.reserve(words.size());
  for (const std::string& word : words) {
    argv.push_back(word.data());
    lengths.push_back(word.size());
  }
  char* formatted = nullptr;
  const int n = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(),
                                       lengths.data());
  if (n < 0 || formatted == nullptr) {
    return absl::ResourceExhaustedError("cannot format a command (out of memory)");
  }
  out_.append(formatted, static_cast<size_t>(n));
  redisFreeCommand(formatted);
  return absl::OkStatus();
}

absl::StatusOr<Io> Link::Flush() {
  while (written_ < out_.size()) {
    const char* data = out_.data() + written_;
    const size_t left = out_.size() - written_;
    if (ssl_ != nullptr) {
      SigpipeBlock block;
      ERR_clear_error();
      const int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(left, 1 << 30)));
      if (n > 0) {
        written_ += static_cast<size_t>(n);
        continue;
      }
      const int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
      if (error == SSL_ERROR_WANT_READ) return Io::kWantRead;
      if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        return absl::UnavailableError(strerror(errno != 0 ? errno : EPIPE));
      }
      return absl::UnavailableError(absl::StrFormat("TLS: %s", SslErrors()));
    }
    const ssize_t n = send(fd_, data, left, MSG_NOSIGNAL);
    if (n > 0) {
      written_ += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Io::kWantWrite;
    } else if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(strerror(errno));
    }
  }
  out_.clear();
  written_ = 0;
  return Io::kDone;
}

absl::StatusOr<Io> Link::Fill() {
  char buf[kReadChunk];
  if (ssl_ != nullptr) {
    SigpipeBlock block;
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      if (redisReaderFeed(reader_, buf, static_cast<size_t>(n)) != REDIS_OK) {
        return absl::UnavailableError(absl::StrFormat("protocol error: %s", reader_->errstr));
      }
      return Io::kDone;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ) return Io::kWantRead;
    if (error == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      return absl::UnavailableError("the server closed the connection");
    }
    const std::string why = SslErrors();
    // TLS 1.3 reports a refused client certificate after the handshake, on the first read.
    if (why.find("certificate required") != std::string::npos) {
      return absl::UnauthenticatedError(absl::StrFormat(
          "TLS: %s (the server wants a client certificate: tls_cert and tls_key)", why));
    }
    return absl::UnavailableError(absl::StrFormat("TLS: %s", why));
  }
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      if (redisReaderFeed(reader_, buf, static_cast<size_t>(n)) != REDIS_OK) {
        return absl::UnavailableError(absl::StrFormat("protocol error: %s", reader_->errstr));
      }
      return Io::kDone;
    }
    if (n == 0) return absl::UnavailableError("the server closed the connection");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWantRead;
    if (errno != EINTR) return absl::UnavailableError(strerror(errno));
  }
}

absl::StatusOr<redisReply*> Link::TakeReply() {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
    return absl::UnavailableError(absl::StrFormat("protocol error: %s", reader_->errstr));
  }
  return static_cast<redisReply*>(reply);
}

bool Link::IsOpen() {
  if (reader_ == nullptr) return false;
  // A whole reply already read, or part of one: a reply nobody waits for.
  if (reader_->len > reader_->pos) return false;
  if (ssl_ == nullptr) {
    char byte;
    const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  if (SSL_pending(ssl_) > 0) return false;
  // What is waiting on the socket may be TLS housekeeping (a TLS 1.3 session ticket), not data:
  // a read tells. Data is a stray reply; end of stream or an error, a closed connection.
  char byte;
  SigpipeBlock block;
  ERR_clear_error();
  const int n = SSL_read(ssl_, &byte, 1);
  if (n > 0) return false;
  const bool open = SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ;
  ERR_clear_error();
  return open;
}

}  // namespace resque::redis
