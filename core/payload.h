// Job payloads: the JSON items of `resque:queue:<q>` lists, as php-resque, Ruby resque and
// node-resque write them (see docs/wire-format.md).
//
// Decoding accepts every peer's variant and keeps unknown fields; encoding writes
// {"class","args","id","queue_time"} in that order, followed by any kept fields.
//
//   absl::StatusOr<resque::Payload> p = resque::DecodePayload(item);
//   if (!p.ok()) return p.status();  // e.g. `"args" must be an array, found a string`
#ifndef RESQUE_CORE_PAYLOAD_H_
#define RESQUE_CORE_PAYLOAD_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace resque {

struct Payload {
  std::string class_name;
  std::string args = "[]";  // the JSON array, verbatim
  std::string id;           // empty when the payload has none (Ruby, node-resque)
  std::optional<double> queue_time;
  // Every other member (node-resque's "queue", a scheduler's fields...), in the order found:
  // key and raw JSON value.
  std::vector<std::pair<std::string, std::string>> extra;
};

// Decodes one payload. InvalidArgument when it is not a JSON object, lacks a string "class",
// or has an "args" that is not an array. A missing "args" reads as [].
absl::StatusOr<Payload> DecodePayload(std::string_view json);

std::string EncodePayload(const Payload& payload);

// The payload Ruby resque writes for `Resque.enqueue(klass, *args)`: {"class","args"} only, in
// Ruby's JSON bytes (core/ruby_json.h), where `args_json` is a payload's "args" (a JSON array).
// Ruby's `Resque.dequeue(klass, *args)` removes a payload only when it is byte for byte what Ruby
// would write for those args, and ours carry "id" and "queue_time": this one it finds.
// InvalidArgument when the args are not a JSON array or hold what Ruby cannot write (1e400).
absl::StatusOr<std::string> EncodeRubyPayload(std::string_view class_name,
                                              std::string_view args_json);

// The string "id" of a payload that DecodePayload refuses but that is still a JSON object (no
// "class", "args" not an array, ...), so that a tracked job's status can say it failed; empty
// when there is none.
std::string IdOfBadPayload(std::string_view json);

// Turns the arguments a user hands to enqueue into a payload's "args": a JSON array is used as
// given, a JSON object is wrapped in a one-element array (php-resque's form), empty means [].
absl::StatusOr<std::string> ArgsFromUserJson(std::string_view user_json);

// A fresh job id: 32 lowercase hex characters (128 random bits).
std::string NewJobId();

}  // namespace resque

#endif  // RESQUE_CORE_PAYLOAD_H_
