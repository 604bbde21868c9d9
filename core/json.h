// Small JSON helpers shared by every module: a tested string escaper for writing (simdjson 3.0
// has no writer), and a validating object reader over simdjson On-Demand that hands back each
// field's raw JSON text so unknown fields can be kept verbatim.
//
//   std::string out = "{\"class\":";
//   resque::json::AppendQuoted(&out, class_name);
//
//   absl::StatusOr<std::vector<resque::json::Field>> fields = resque::json::ParseObject(text);
#ifndef RESQUE_CORE_JSON_H_
#define RESQUE_CORE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace resque::json {

enum class Type { kObject, kArray, kString, kNumber, kBool, kNull };

// One member of a parsed object. `raw` is the member's value as written in the input (strings
// keep their quotes and escapes), so it can be copied into another document unchanged.
struct Field {
  std::string key;  // unescaped
  std::string raw;
  Type type;
};

// The length of the valid UTF-8 sequence that starts at s[i] (1 to 4), or 0 if none starts there
// (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 bytes become U+FFFD so the
// output is always valid JSON, whatever an exception message or a user's string holds.
void AppendQuoted(std::string* out, std::string_view s);
std::string Quote(std::string_view s);

// Parses `text` as exactly one JSON object and validates all of it (nesting, escapes, UTF-8,
// trailing bytes). Returns InvalidArgument naming what is wrong (and where, when known).
absl::StatusOr<std::vector<Field>> ParseObject(std::string_view text);

// Validates that `text` is exactly one JSON value of any type; returns its type.
absl::StatusOr<Type> Validate(std::string_view text);

// Reads the raw JSON text of one value as a string / integer / double.
absl::StatusOr<std::string> StringValue(std::string_view raw);
absl::StatusOr<int64_t> IntValue(std::string_view raw);
absl::StatusOr<double> DoubleValue(std::string_view raw);

// Reads a JSON array of strings; InvalidArgument when it is not one.
absl::StatusOr<std::vector<std::string>> StringArray(std::string_view raw);

// Re-encodes `text`, exactly one JSON value, in a canonical form, so that two texts holding the
// same value compare equal as strings: whitespace dropped, object members sorted by key (then by
// value, for a key written twice), strings re-escaped as Quote writes them, numbers written as
// integers when they are whole (1.0 and 1e0 read as 1) and otherwise in shortest round-trip
// form. InvalidArgument when `text` is not valid JSON.
absl::StatusOr<std::string> Canonicalize(std::string_view text);

// Finds the first field named `key`; nullptr when absent.
const Field* FindField(const std::vector<Field>& fields, std::string_view key);

std::string_view TypeName(Type type);

// Largest document this thread's parser can read without allocating: at most kKeptParserCapacity
// between calls. For tests.
inline constexpr size_t kKeptParserCapacity = size_t{1} << 20;
size_t ParserCapacityForTesting();

}  // namespace resque::json

#endif  // RESQUE_CORE_JSON_H_
