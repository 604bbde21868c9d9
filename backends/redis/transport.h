// The byte stream under the Redis backend: one non-blocking socket (TCP or Unix), with TLS by
// OpenSSL on top when asked, and hiredis kept only as the RESP codec (its command formatter
// and reply reader). hiredis 0.14 has no TLS of its own; owning the transport lets plaintext
// and TLS share one code path, every wait stay the pool's poll(), and a write to a dead peer
// fail with EPIPE instead of raising SIGPIPE in the embedding program. See
// docs/architecture.md ("The Redis transport").
//
// Internal to backends/redis/. Nothing here waits: every call returns at once, saying what it
// needs (kWantRead, kWantWrite) for the caller to poll on.
#ifndef RESQUE_BACKENDS_REDIS_TRANSPORT_H_
#define RESQUE_BACKENDS_REDIS_TRANSPORT_H_

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/redis/redis_backend.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace resque::redis {

// An OpenSSL client context built once from TlsOptions (CA, client certificate, verification)
// and shared by every connection of a pool. Thread-safe once made.
class TlsContext {
 public:
  // InvalidArgument naming the file when a CA, certificate or key cannot be loaded.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Make(const TlsOptions& options);
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  SSL_CTX* get() const { return ctx_; }
  const TlsOptions& options() const { return options_; }

 private:
  TlsContext(SSL_CTX* ctx, TlsOptions options) : ctx_(ctx), options_(std::move(options)) {}
  SSL_CTX* ctx_;
  TlsOptions options_;
};

// What a non-blocking step needs before it can go on.
enum class Io { kDone, kWantRead, kWantWrite };

// One connection: the socket, the TLS session over it if any, the bytes not yet written and the
// reply reader. Move-only through unique_ptr; one user at a time.
class Link {
 public:
  // Resolves `host` and starts a non-blocking connect to each of its addresses in turn:
  // call Connected() once the socket is writable, and NextAddress() if it failed.
  static absl::StatusOr<std::unique_ptr<Link>> StartTcp(const std::string& host, int port);
  static absl::StatusOr<std::unique_ptr<Link>> StartUnix(const std::string& path);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link();

  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }

  // Once the socket is writable: OK when connected, else the connect's error.
  absl::Status Connected();
  // Moves on to the next address of the host after a failed connect; false when none is left.
  bool NextAddress();

  // Begins TLS over the connected socket: SNI and the host name check use `host` (or the
  // options' server_name), then Handshake() until kDone.
  absl::Status StartTls(const TlsContext& tls, const std::string& host);
  // Unauthenticated with the reason when the server's certificate is refused.
  absl::StatusOr<Io> Handshake();

  // Formats one command (argv form, binary safe) into the output buffer.
  absl::Status Append(const std::vector<std::string>& words);
  // Writes what it can of the output buffer: kDone when it is empty.
  absl::StatusOr<Io> Flush();
  // Reads what has arrived into the reply reader: kDone when something was read. Unavailable on
  // end of stream or a socket or TLS error.
  absl::StatusOr<Io> Fill();
  // A whole reply if the reader holds one, else nullptr (owned by the caller:
  // freeReplyObject). Unavailable on a protocol error.
  absl::StatusOr<redisReply*> TakeReply();

  // Whether the connection can still be used after sitting idle: not closed by the server and
  // holding no stray bytes (a reply nobody asked for).
  bool IsOpen();

  // The generation of the pool's view of the server the link was made under (see
  // ConnectionPool): a link of an older one is not reused.
  uint64_t generation = 0;

 private:
  Link() = default;
  absl::Status StartConnect();

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string host_;                                   // for messages and the certificate check
  std::vector<std::vector<unsigned char>> addresses_;  // sockaddr bytes, in getaddrinfo order
  size_t next_address_ = 0;
  std::string out_;
  size_t written_ = 0;
  redisReader* reader_ = nullptr;
};

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_TRANSPORT_H_
