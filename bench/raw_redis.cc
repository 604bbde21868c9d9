#include "bench/raw_redis.h"

#include <sys/time.h>

namespace resque::bench {

std::unique_ptr<RawRedis> RawRedis::Connect(const RedisAddress& address, std::string* error) {
  const timeval timeout = {2, 0};
  redisContext* context = redisConnectWithTimeout(address.host.c_str(), address.port, timeout);
  if (context == nullptr || context->err != 0) {
    *error = "cannot connect to " + address.host + ":" + std::to_string(address.port) +
             (context != nullptr ? std::string(": ") + context->errstr : "");
    if (context != nullptr) redisFree(context);
    return nullptr;
  }
  const timeval command_timeout = {10, 0};
  redisSetTimeout(context, command_timeout);
  return std::unique_ptr<RawRedis>(new RawRedis(context));
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
