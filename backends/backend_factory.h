// OpenBackend: the one place that turns a URL into a Backend, so that programs (the `resque`
// command, a user's embedded worker) pick storage by configuration.
//
// It dispatches on the URL's scheme:
//   memory://  (or memory)                  the in-memory backend (this process only)
//   redis://[:password@]host[:port][/db]    Redis over TCP
//   unix:///path/to.sock[?db=N]             Redis over a Unix socket
//   host:port  (or host)                    Redis: php-resque's REDIS_BACKEND form, no scheme
//
//   absl::StatusOr<std::unique_ptr<resque::Backend>> backend =
//       resque::OpenBackend("redis://127.0.0.1:6379", {.ns = "resque"});
#ifndef RESQUE_BACKENDS_BACKEND_FACTORY_H_
#define RESQUE_BACKENDS_BACKEND_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/backend.h"
#include "core/clock.h"

namespace resque {

// The highest Redis db a URL may name, and a --db flag (Redis itself has 16 unless its
// `databases` setting says more; a SELECT past that fails when the backend connects).
inline constexpr int kMaxBackendDb = 1 << 20;

struct BackendOptions {
  std::string ns = "resque";   // key namespace (Redis only)
  int db = -1;                 // overrides the URL's db when >= 0 (php-resque's REDIS_BACKEND_DB)
  Clock* clock = RealClock();  // TTL clock (memory only; Redis keeps its own time)
  // Where failure records go (Redis only; see RedisOptions::failures). The memory backend keeps
  // one list: kPerQueue with memory:// is InvalidArgument.
  FailureLayout failures = FailureLayout::kOneList;
};

// InvalidArgument for a URL it cannot read, and for a scheme it does not know (naming the
// scheme, never the rest of the URL); Unavailable when the server cannot be reached (the message
// names the address, never the password).
absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(std::string_view url,
                                                     const BackendOptions& options = {});

// `url` fit for a message or a log: its password, if any, replaced by ****.
std::string MaskedBackendUrl(std::string_view url);

}  // namespace resque

#endif  // RESQUE_BACKENDS_BACKEND_FACTORY_H_
