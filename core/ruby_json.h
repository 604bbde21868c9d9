// Ruby's JSON bytes: a JSON value written again the way Ruby resque writes what it read from it
// (JSON.generate of JSON.parse; MultiJson.dump over the json gem or Oj writes the same), so that
// a payload we push can be found by Ruby code that LREMs its own encoding, as
// `Resque.dequeue(klass, *args)` does.
//
//   absl::StatusOr<std::string> bytes = resque::RubyJson(R"([1e2, "a\/b", {"k": -0}])");
//   // [100.0,"a/b",{"k":0}]
#ifndef RESQUE_CORE_RUBY_JSON_H_
#define RESQUE_CORE_RUBY_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace resque {

// Re-encodes `text`, exactly one JSON value, as Ruby writes the value it parses from it: no
// whitespace; strings with only `"`, `\` and control characters escaped (`/`, DEL and non-ASCII
// as they are); an integer as its digits, of any size; a number with a fraction or an exponent as
// Ruby's Float#to_s writes the nearest double (`100.0`, `1.0e+20`, `1.0e-05`); an object's
// members in the order first seen, a key written twice keeping its last value.
// InvalidArgument when `text` is not valid JSON, or holds a number beyond a double's range
// (Ruby reads 1e400 as Infinity, which JSON.generate refuses to write).
absl::StatusOr<std::string> RubyJson(std::string_view text);

// Appends `s` (valid UTF-8) as Ruby's JSON.generate quotes a string.
void AppendRubyQuoted(std::string* out, std::string_view s);

}  // namespace resque

#endif  // RESQUE_CORE_RUBY_JSON_H_
