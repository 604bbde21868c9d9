#include "backends/redis/reply.h"

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"

namespace resque::redis {
namespace {

// The 0-based index into `queues` of a reserve script's reply {index, ...}, if it is one.
std::optional<size_t> QueueIndexOf(const redisReply& reply, absl::Span<const std::string> queues) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
      reply.element[0]->type != REDIS_REPLY_INTEGER || reply.element[0]->integer < 1 ||
      static_cast<size_t>(reply.element[0]->integer) > queues.size()) {
    return std::nullopt;
  }
  return static_cast<size_t>(reply.element[0]->integer - 1);
}

}  // namespace

std::string_view ReplyText(const redisReply& reply) {
  return reply.str == nullptr ? std::string_view() : std::string_view(reply.str, reply.len);
}

absl::Status ReplyStatus(const redisReply& reply, std::string_view key) {
  if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
  return ErrorStatus(ReplyText(reply), key);
}

absl::Status ErrorStatus(std::string_view message, std::string_view key) {
  const absl::string_view m = AbslView(message);
  const std::string where =
      key.empty() ? std::string() : absl::StrFormat("redis key \"%s\": ", AbslView(key));
  if (absl::StartsWith(m, "WRONGTYPE")) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%sholds the wrong kind of value (%s)", where, m));
  }
  if (absl::StrContains(m, "not an integer")) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%sdoes not hold an integer (%s)", where, m));
  }
  if (absl::StartsWith(m, "NOSCRIPT")) return absl::NotFoundError(m);
  return absl::InternalError(absl::StrFormat("%sredis error: %s", where, m));
}

absl::Status ScriptStatus(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
  return ScriptError(std::string_view(reply.str, reply.len));
}

absl::Status ScriptError(std::string_view message) {
  for (const std::string_view code : {"WRONGTYPE ", "NOTINT "}) {
    if (absl::StartsWith(AbslView(message), AbslView(code))) {
      const std::string_view key = message.substr(code.size());
      return absl::FailedPreconditionError(absl::StrFormat(
          "redis key \"%s\" %s", AbslView(key),
          code == "NOTINT " ? "does not hold an integer" : "holds the wrong kind of value"));
    }
  }
  return ErrorStatus(message, "");
}

absl::Status Unexpected(const redisReply& reply, std::string_view what) {
  return absl::InternalError(
      absl::StrFormat("redis: unexpected reply type %d to %s", reply.type, AbslView(what)));
}

absl::StatusOr<int64_t> IntegerOf(const redisReply& reply, std::string_view what) {
  if (reply.type != REDIS_REPLY_INTEGER) return Unexpected(reply, what);
  return reply.integer;
}

absl::StatusOr<std::optional<std::string>> OptionalStringOf(const redisReply& reply,
                                                            std::string_view what) {
  if (reply.type == REDIS_REPLY_NIL) return std::nullopt;
  if (reply.type != REDIS_REPLY_STRING) return Unexpected(reply, what);
  return std::string(reply.str, reply.len);
}

absl::StatusOr<std::vector<std::string>> StringsOf(const redisReply& reply, std::string_view what) {
  if (reply.type != REDIS_REPLY_ARRAY) return Unexpected(reply, what);
  std::vector<std::string> out;
  out.reserve(reply.elements);
  for (size_t i = 0; i < reply.elements; ++i) {
    const redisReply& e = *reply.element[i];
    if (e.type != REDIS_REPLY_STRING) return Unexpected(e, what);
    out.emplace_back(e.str, e.len);
  }
  return out;
}

absl::StatusOr<std::optional<ReservedJob>> ReservationOf(const redisReply& reply,
                                                         absl::Span<const std::string> queues) {
  if (reply.type == REDIS_REPLY_NIL) return std::nullopt;
  const std::optional<size_t> queue = QueueIndexOf(reply, queues);
  if (!queue.has_value() || reply.element[1]->type != REDIS_REPLY_STRING) {
    return Unexpected(reply, "the reserve script");
  }
  const redisReply& payload = *reply.element[1];
  return ReservedJob{queues[*queue], std::string(payload.str, payload.len)};
}

absl::StatusOr<std::vector<ReservedJob>> ReservationsOf(const redisReply& reply,
                                                        absl::Span<const std::string> queues) {
  std::vector<ReservedJob> out;
  if (reply.type == REDIS_REPLY_NIL) return out;
  const std::optional<size_t> queue = QueueIndexOf(reply, queues);
  if (!queue.has_value() || reply.element[1]->type != REDIS_REPLY_ARRAY) {
    return Unexpected(reply, "the reserve script");
  }
  const redisReply& payloads = *reply.element[1];
  out.reserve(payloads.elements);
  for (size_t i = 0; i < payloads.elements; ++i) {
    const redisReply& p = *payloads.element[i];
    if (p.type != REDIS_REPLY_STRING) return Unexpected(reply, "the reserve script");
    out.push_back({queues[*queue], std::string(p.str, p.len)});
  }
  return out;
}

}  // namespace resque::redis
