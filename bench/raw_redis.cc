#include "bench/raw_redis.h"

#include <sys/time.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "backends/redis/redis_backend.h"

namespace resque::bench {

std::unique_ptr<RawRedis> RawRedis::OpenOrSkip(benchmark::State& state) {
  std::optional<std::string> url = RedisUrlOrSkip(state);
  if (!url) return nullptr;
  absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(*url);
  if (!options.ok()) {
    state.SkipWithError(std::string(options.status().message()).c_str());
    return nullptr;
  }
  const timeval timeout = absl::ToTimeval(options->connect_timeout);
  redisContext* context =
      options->unix_socket.empty()
          ? redisConnectWithTimeout(options->host.c_str(), options->port, timeout)
          : redisConnectUnixWithTimeout(options->unix_socket.c_str(), timeout);
  if (context == nullptr || context->err != 0) {
    const std::string error = absl::StrFormat(
        "cannot connect to %s: %s",
        options->unix_socket.empty() ? absl::StrFormat("%s:%d", options->host, options->port)
                                     : options->unix_socket,
        context != nullptr ? context->errstr : "out of memory");
    if (context != nullptr) redisFree(context);
    state.SkipWithError(error.c_str());
    return nullptr;
  }
  const timeval command_timeout = {10, 0};
  redisSetTimeout(context, command_timeout);
  auto raw = std::unique_ptr<RawRedis>(new RawRedis(context));
  const std::string db = absl::StrCat(options->db);
  const bool ready =
      (options->password.empty() ||
       (options->username.empty() ? raw->Run({"AUTH", options->password})
                                  : raw->Run({"AUTH", options->username, options->password}))) &&
      (options->db == 0 || raw->Run({"SELECT", db}));
  if (!ready) {
    state.SkipWithError("the raw connection's AUTH or SELECT was refused");
    return nullptr;
  }
  return raw;
}

RawRedis::~RawRedis() { redisFree(context_); }

void RawRedis::Append(const std::vector<std::string_view>& argv) {
  std::vector<const char*> data;
  std::vector<size_t> sizes;
  data.reserve(argv.size());
  sizes.reserve(argv.size());
  for (std::string_view arg : argv) {
    data.push_back(arg.data());
    sizes.push_back(arg.size());
  }
  redisAppendCommandArgv(context_, static_cast<int>(argv.size()), data.data(), sizes.data());
}

bool RawRedis::Drain(int n) {
  bool ok = true;
  for (int i = 0; i < n; ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) return false;
    ok = ok && static_cast<redisReply*>(reply)->type != REDIS_REPLY_ERROR;
    freeReplyObject(reply);
  }
  return ok;
}

bool RawRedis::Run(const std::vector<std::string_view>& argv) {
  Append(argv);
  return Drain(1);
}

bool RawRedis::Lpop(std::string_view key) {
  const char* argv[] = {"LPOP", key.data()};
  const size_t sizes[] = {4, key.size()};
  auto* reply = static_cast<redisReply*>(redisCommandArgv(context_, 2, argv, sizes));
  if (reply == nullptr) return false;
  const bool took = reply->type == REDIS_REPLY_STRING;
  freeReplyObject(reply);
  return took;
}

}  // namespace resque::bench
