// Decoding hiredis replies for the Redis backend: a reply of the type a command answers with
// becomes a value, an error reply a Status with a canonical code naming the key, and anything
// else Internal naming what was asked. Internal to backends/redis/, as hiredis is.
//
//   absl::StatusOr<int64_t> n = IntegerOf(*reply, "LLEN");
//   RESQUE_RETURN_IF_ERROR(ReplyStatus(*reply, "resque:queue:mail"));
#ifndef RESQUE_BACKENDS_REDIS_REPLY_H_
#define RESQUE_BACKENDS_REDIS_REPLY_H_

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/backend.h"

namespace resque::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Replies = std::vector<Reply>;

// The bytes of a string, status or error reply; empty for any other.
std::string_view ReplyText(const redisReply& reply);

// Turns an error reply into a status: WRONGTYPE (and a counter that is not an integer) is
// FailedPrecondition naming `key`; NOSCRIPT is NotFound; anything else is Internal with the
// server's message. OK for any other reply.
absl::Status ReplyStatus(const redisReply& reply, std::string_view key);
// The same, for the message of an error.
absl::Status ErrorStatus(std::string_view message, std::string_view key);

// A script's "WRONGTYPE <key>" / "NOTINT <key>" error is FailedPrecondition naming that key;
// any other error as ReplyStatus. OK for any other reply.
absl::Status ScriptStatus(const redisReply& reply);
// The same, for the message of a script's error (one a script passed on as a string).
absl::Status ScriptError(std::string_view message);

// Internal: `reply` is not what `what` (a command, a script) answers with.
absl::Status Unexpected(const redisReply& reply, std::string_view what);

// An integer reply.
absl::StatusOr<int64_t> IntegerOf(const redisReply& reply, std::string_view what);

// A bulk string, or nullopt for nil.
absl::StatusOr<std::optional<std::string>> OptionalStringOf(const redisReply& reply,
                                                            std::string_view what);

// An array of bulk strings.
absl::StatusOr<std::vector<std::string>> StringsOf(const redisReply& reply, std::string_view what);

// reserve.lua's reply: {index (1-based into `queues`), payload} or nil.
absl::StatusOr<std::optional<ReservedJob>> ReservationOf(const redisReply& reply,
                                                         absl::Span<const std::string> queues);

// reserve_many.lua's reply: {index (1-based into `queues`), {payloads}}, or nil (no jobs).
absl::StatusOr<std::vector<ReservedJob>> ReservationsOf(const redisReply& reply,
                                                        absl::Span<const std::string> queues);

}  // namespace resque::redis

#endif  // RESQUE_BACKENDS_REDIS_REPLY_H_
