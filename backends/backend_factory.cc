#include "backends/backend_factory.h"

#include "absl/strings/str_format.h"
#include "backends/memory/memory_backend.h"
#include "backends/redis/redis_backend.h"
#include "core/absl_view.h"

namespace resque {
namespace {

static_assert(kMaxBackendDb == redis::kMaxDb);

absl::StatusOr<std::unique_ptr<Backend>> OpenRedis(std::string_view url,
                                                   const BackendOptions& options) {
  absl::StatusOr<redis::RedisOptions> redis_options = redis::ParseRedisUrl(url);
  if (!redis_options.ok()) return redis_options.status();
  redis_options->ns = options.ns;
  if (options.db >= 0) redis_options->db = options.db;
  redis_options->failures = options.failures;
  return redis::NewRedisBackend(*redis_options);
}

absl::StatusOr<std::unique_ptr<Backend>> OpenMemory(const BackendOptions& options) {
  if (options.failures != FailureLayout::kOneList) {
    return absl::InvalidArgumentError(
        "the memory backend keeps failures in one list: the redis_multi_queue failure backend "
        "needs a Redis URL");
  }
  return memory::NewMemoryBackend({.clock = options.clock});
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(std::string_view url,
                                                     const BackendOptions& options) {
  const std::string_view::size_type colon_slashes = url.find("://");
  // No scheme: "memory", or php-resque's REDIS_BACKEND (host:port, or a host alone).
  if (colon_slashes == std::string_view::npos) {
    if (url == "memory") return OpenMemory(options);
    return OpenRedis(url, options);
  }
  const std::string_view scheme = url.substr(0, colon_slashes);
  if (scheme == "memory") {
    if (url.size() != colon_slashes + 3) {
      return absl::InvalidArgumentError("backend URL memory:// takes nothing after the scheme");
    }
    return OpenMemory(options);
  }
  if (scheme == "redis" || scheme == "rediss" || scheme == "redis-sentinel" ||
      scheme == "rediss-sentinel" || scheme == "unix") {
    return OpenRedis(url, options);
  }
  // Only the scheme is named: the rest of the URL may hold a password.
  return absl::InvalidArgumentError(
      absl::StrFormat("backend URL scheme \"%s\" is not known; use memory://, redis://, "
                      "rediss://, redis-sentinel://, rediss-sentinel://, unix:// or host:port",
                      AbslView(scheme)));
}

std::string MaskedBackendUrl(std::string_view url) { return redis::MaskedUrl(url); }

}  // namespace resque
