#include "backends/backend_factory.h"

#include "backends/memory/memory_backend.h"
#include "backends/redis/redis_backend.h"

namespace resque {

absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(std::string_view url,
                                                     const BackendOptions& options) {
  if (url == "memory://" || url == "memory") {
    return memory::NewMemoryBackend({.clock = options.clock});
  }
  absl::StatusOr<redis::RedisOptions> redis_options = redis::ParseRedisUrl(url);
  if (!redis_options.ok()) return redis_options.status();
  redis_options->ns = options.ns;
  if (options.db >= 0) redis_options->db = options.db;
  return redis::NewRedisBackend(*redis_options);
}

}  // namespace resque
