// The Redis backend: a Backend over hiredis, with the key layout and JSON of docs/wire-format.md,
// so php-resque, Ruby resque, node-resque and resque-web share its state.
//
//   absl::StatusOr<resque::redis::RedisOptions> options =
//       resque::redis::ParseRedisUrl("redis://:secret@127.0.0.1:6379/2");
//   absl::StatusOr<std::unique_ptr<resque::Backend>> backend =
//   resque::redis::NewRedisBackend(*options);
#ifndef RESQUE_BACKENDS_REDIS_REDIS_BACKEND_H_
#define RESQUE_BACKENDS_REDIS_REDIS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"

namespace resque::redis {

// TLS (rediss://): OpenSSL, with the server's certificate and name checked unless turned off.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;      // PEM bundle of the CAs to trust; with ca_dir, empty too: the system's
  std::string ca_dir;       // a directory of hashed CA certificates (openssl rehash)
  std::string cert_file;    // a client certificate chain (PEM), for a server that asks for one
  std::string key_file;     // its private key (PEM)
  std::string server_name;  // the name the certificate must carry, sent as SNI; empty: the host
  bool verify = true;       // false: the server is not checked at all (test setups only)
};

// A sentinel's address.
struct HostPort {
  std::string host;
  int port = 26379;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;    // when set, host and port are not used
  std::string username;       // Redis 6 ACL user; sent as AUTH <user> <pass>, see connection.cc
  std::string password;       // never logged, never in an error message
  int db = 0;                 // 0..kMaxDb
  std::string ns = "resque";  // key prefix: "<ns>:queue:<q>"
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);  // on top of a Reserve's wait
  // Where failure records go: "<ns>:failed" (kOneList, Ruby's and php-resque's default), or one
  // list per job queue, "<ns>:<queue>_failed", listed in the set "<ns>:failed_queues"
  // (kPerQueue: Ruby's redis_multi_queue failure backend, FAILURE_BACKEND=redis_multi_queue).
  FailureLayout failures = FailureLayout::kOneList;
  // Times the backend's own waits: the reconnect backoff and a reserve that waits on several
  // queues (polled, see docs/reliability.md). Not owned; a test may pass a ManualClock. The
  // socket timeouts above are the kernel's, on the real clock.
  Clock* timer = RealClock();

  TlsOptions tls;  // for the server, and the sentinels when there are any

  // Sentinel: when `sentinels` is not empty, host and port are not used; the master's address is
  // asked of the sentinels (in turn) for every new connection, and asked again after a lost
  // connection or a READONLY reply (a failover). See docs/reliability.md ("Failover").
  std::vector<HostPort> sentinels;
  std::string sentinel_master;    // the name the sentinels monitor it under
  std::string sentinel_username;  // AUTH for the sentinels (the server's are above)
  std::string sentinel_password;  // never logged

  // After an enqueue and after a job's finish, wait until this many replicas have the write
  // (Redis WAIT), at most wait_timeout. An enqueue they do not all acknowledge in time fails
  // (it is on the master, but a failover now could lose it). 0: no waiting.
  int wait_replicas = 0;
  absl::Duration wait_timeout = absl::Seconds(1);
};

// The highest db a URL or BackendOptions may name. Redis has 16 unless its `databases` setting
// says more; a SELECT past that is refused by the server when the backend connects.
inline constexpr int kMaxDb = 1 << 20;

// Parses redis://[[user]:password@]host[:port][/db], unix:///path/to/sock[?db=N&password=P],
// and php-resque's bare host:port or host. A user-info without a colon (redis://secret@host) is
// a password (as redis-plus-plus reads it: Redis < 6 has no users). Percent-escapes in the
// user, password and path are decoded; IPv6 hosts go in brackets. InvalidArgument naming what
// is wrong (never echoing the password).
absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url);

// `url` for a message: the password (in the user-info, with or without a scheme, or a password=
// parameter) replaced by ****. Masks more than the parser would read as the password when
// unsure: everything up to the last '@', and the rest of the URL after "password=".
std::string MaskedUrl(std::string_view url);

// Connects (so that a dead Redis is reported now) and returns the backend. Unavailable naming
// the address, without the password, when Redis cannot be reached.
absl::StatusOr<std::unique_ptr<Backend>> NewRedisBackend(const RedisOptions& options);

// The round trips `backend` and its sessions made to the server so far, if it is a Redis
// backend (NewRedisBackend's); nullopt for any other. For benchmarks and tests that count them.
std::optional<int64_t> RedisRoundTrips(Backend& backend);

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_REDIS_BACKEND_H_
