#include "core/json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace resque::json {
namespace {

namespace od = simdjson::ondemand;

absl::Status JsonError(simdjson::error_code error, const simdjson::padded_string& buf,
                       const char* at) {
  std::string where;
  if (at != nullptr && at >= buf.data() && at <= buf.data() + buf.size()) {
    where = absl::StrCat(" at byte ", at - buf.data());
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("not valid JSON%s: %s", where, simdjson::error_message(error)));
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

// Whether `s` is exactly one number as RFC 8259 writes it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  const auto digits = [&]() {
    const size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Deeper documents are refused: On-Demand does not bound nesting itself, and Walk recurses.
constexpr int kMaxDepth = 512;

// Appends the canonical form of the number written as `raw` (already validated as JSON).
void AppendCanonicalNumber(std::string_view raw, std::string* out) {
  const char* const begin = raw.data();
  const char* const end = raw.data() + raw.size();
  int64_t i;
  if (auto [p, ec] = std::from_chars(begin, end, i); ec == std::errc() && p == end) {
    out->append(std::to_string(i));
    return;
  }
  uint64_t u;
  if (auto [p, ec] = std::from_chars(begin, end, u); ec == std::errc() && p == end) {
    out->append(std::to_string(u));
    return;
  }
  double d;
  if (auto [p, ec] = std::from_chars(begin, end, d); ec != std::errc() || p != end) {
    out->append(raw);  // beyond a double's range: only the same text is the same value
    return;
  }
  // 2^63 bounds the doubles that convert to int64 exactly.
  if (std::trunc(d) == d && std::fabs(d) < 9223372036854775808.0) {
    out->append(std::to_string(static_cast<int64_t>(d)));
    return;
  }
  char buf[64];
  const auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);  // shortest round trip
  out->append(buf, ec == std::errc() ? p - buf : 0);
}

// Walks every value below `v` so that On-Demand checks all of it, not only what we read. With a
// `canonical` string, also appends the value's canonical form to it (see Canonicalize).
simdjson::error_code Walk(od::value v, std::string* canonical, int depth = 1) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return e;
      if (canonical != nullptr) canonical->push_back('[');
      bool first = true;
      for (auto element : array) {
        od::value child;
        if (auto e = element.get(child)) return e;
        if (canonical != nullptr && !first) canonical->push_back(',');
        first = false;
        if (auto e = Walk(child, canonical, depth + 1)) return e;
      }
      if (canonical != nullptr) canonical->push_back(']');
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = v.get_object().get(object)) return e;
      // Key (quoted) and canonical value of each member, sorted before they are written.
      std::vector<std::pair<std::string, std::string>> members;
      for (auto field : object) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value child;
        if (auto e = field.value().get(child)) return e;
        std::string value;
        if (auto e = Walk(child, canonical != nullptr ? &value : nullptr, depth + 1)) return e;
        if (canonical != nullptr) members.emplace_back(Quote(key), std::move(value));
      }
      if (canonical == nullptr) return simdjson::SUCCESS;
      std::sort(members.begin(), members.end());
      canonical->push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) canonical->push_back(',');
        absl::StrAppend(canonical, members[i].first, ":", members[i].second);
      }
      canonical->push_back('}');
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      if (canonical != nullptr) AppendQuoted(canonical, s);
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      // simdjson reports an integer too large for 64 bits as NUMBER_ERROR, as it does a malformed
      // number ("01", "1."), so the grammar is checked here to tell the valid big integer apart.
      const std::string_view raw = TrimRight(v.raw_json_token());
      if (!IsJsonNumber(raw)) return simdjson::NUMBER_ERROR;
      double d;
      auto e = v.get_double().get(d);
      if (e && e != simdjson::NUMBER_ERROR) return e;
      if (canonical != nullptr) AppendCanonicalNumber(raw, canonical);
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return e;
      if (canonical != nullptr) canonical->append(b ? "true" : "false");
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null;
      if (auto e = v.is_null().get(is_null)) return e;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      if (canonical != nullptr) canonical->append("null");
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

Type FromOd(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return Type::kArray;
    case od::json_type::object:
      return Type::kObject;
    case od::json_type::string:
      return Type::kString;
    case od::json_type::number:
      return Type::kNumber;
    case od::json_type::boolean:
      return Type::kBool;
    case od::json_type::null:
      return Type::kNull;
  }
  return Type::kNull;
}

od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

// A parser keeps buffers sized for the largest document it has read (measured: about its size
// again), so one 16 MiB payload would pin 16 MiB in each worker thread for good. Each public entry
// point holds one of these, which releases them when it returns, past kKeptParserCapacity
// (documents below it, the usual payloads, reuse the buffers).
class ReleaseLargeParserOnExit {
 public:
  ReleaseLargeParserOnExit() = default;
  ReleaseLargeParserOnExit(const ReleaseLargeParserOnExit&) = delete;
  ReleaseLargeParserOnExit& operator=(const ReleaseLargeParserOnExit&) = delete;
  ~ReleaseLargeParserOnExit() {
    if (ThreadParser().capacity() > kKeptParserCapacity) ThreadParser() = od::parser();
  }
};

// Validates the whole document in `buf`; with a `canonical` string, also appends the document's
// canonical form. For a scalar document On-Demand has no value to walk, so it is read directly.
absl::StatusOr<Type> ValidatePadded(const simdjson::padded_string& buf,
                                    std::string* canonical = nullptr) {
  od::document doc;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  od::json_type type;
  if (auto e = doc.type().get(type)) return JsonError(e, buf, nullptr);
  simdjson::error_code e = simdjson::SUCCESS;
  std::string scalar_canonical;  // written only once the whole input is known to be valid
  if (type == od::json_type::array || type == od::json_type::object) {
    od::value root;
    e = doc.get_value().get(root);
    if (!e) e = Walk(root, canonical);
  } else if (type == od::json_type::string) {
    std::string_view s;
    e = doc.get_string().get(s);
    if (!e) AppendQuoted(&scalar_canonical, s);
  } else if (type == od::json_type::number) {
    // simdjson refuses a number beyond a double's range (1e400) as it does a malformed one, so
    // the grammar decides, as in Walk. The document is this one number: nothing else may follow.
    const std::string_view number = TrimLeft(TrimRight(std::string_view(buf.data(), buf.size())));
    if (!IsJsonNumber(number)) return JsonError(simdjson::NUMBER_ERROR, buf, nullptr);
    if (canonical != nullptr) AppendCanonicalNumber(number, canonical);
    return Type::kNumber;
  } else if (type == od::json_type::boolean) {
    bool b = false;
    e = doc.get_bool().get(b);
    scalar_canonical = b ? "true" : "false";
  } else {
    bool is_null = false;
    e = doc.is_null().get(is_null);
    if (!e && !is_null) e = simdjson::N_ATOM_ERROR;
    scalar_canonical = "null";
  }
  const char* at = nullptr;
  // current_location() fails with OUT_OF_BOUNDS exactly when the whole input was consumed.
  const simdjson::error_code where = doc.current_location().get(at);
  if (e) return JsonError(e, buf, where ? nullptr : at);
  if (where != simdjson::OUT_OF_BOUNDS) return JsonError(simdjson::TRAILING_CONTENT, buf, at);
  if (canonical != nullptr) canonical->append(scalar_canonical);
  return FromOd(type);
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void AppendQuoted(std::string* out, std::string_view s) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD
        ++i;
      } else {
        out->append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append(absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

std::string Quote(std::string_view s) {
  std::string out;
  AppendQuoted(&out, s);
  return out;
}

absl::StatusOr<Type> Validate(std::string_view text) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(text);
  return ValidatePadded(buf);
}

absl::StatusOr<std::vector<Field>> ParseObject(std::string_view text) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(text);
  absl::StatusOr<Type> type = ValidatePadded(buf);
  if (!type.ok()) return type.status();
  if (*type != Type::kObject) {
    return absl::InvalidArgumentError(
        absl::StrFormat("expected a JSON object, found %s", TypeName(*type)));
  }
  // Second pass: the document is known to be valid, so only the fields' raw text is taken.
  std::vector<Field> fields;
  od::document doc;
  od::object object;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  if (auto e = doc.get_object().get(object)) return JsonError(e, buf, nullptr);
  for (auto field : object) {
    Field out;
    std::string_view key;
    od::value value;
    od::json_type vtype;
    if (auto e = field.unescaped_key().get(key)) return JsonError(e, buf, nullptr);
    out.key = std::string(key);
    if (auto e = field.value().get(value)) return JsonError(e, buf, nullptr);
    if (auto e = value.type().get(vtype)) return JsonError(e, buf, nullptr);
    out.type = FromOd(vtype);
    std::string_view raw;
    simdjson::error_code e = simdjson::SUCCESS;
    if (vtype == od::json_type::array) {
      od::array a;
      e = value.get_array().get(a);
      if (!e) e = a.raw_json().get(raw);
    } else if (vtype == od::json_type::object) {
      od::object o;
      e = value.get_object().get(o);
      if (!e) e = o.raw_json().get(raw);
    } else {
      raw = TrimRight(value.raw_json_token());
    }
    if (e) return JsonError(e, buf, nullptr);
    out.raw = std::string(TrimRight(raw));
    fields.push_back(std::move(out));
  }
  return fields;
}

absl::StatusOr<std::string> StringValue(std::string_view raw) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(raw);
  od::document doc;
  std::string_view s;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  if (auto e = doc.get_string().get(s)) return JsonError(e, buf, nullptr);
  return std::string(s);
}

absl::StatusOr<int64_t> IntValue(std::string_view raw) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(raw);
  od::document doc;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  int64_t i;
  if (doc.get_int64().get(i) == simdjson::SUCCESS) return i;
  // php's time() is an int, but a float such as 1700000000.5 is accepted and truncated.
  if (auto again = ThreadParser().iterate(buf).get(doc)) return JsonError(again, buf, nullptr);
  double d;
  if (auto e = doc.get_double().get(d)) return JsonError(e, buf, nullptr);
  if (!(d > -9.2e18 && d < 9.2e18)) return absl::InvalidArgumentError("number out of range");
  return static_cast<int64_t>(d);
}

absl::StatusOr<double> DoubleValue(std::string_view raw) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(raw);
  od::document doc;
  double d;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  if (auto e = doc.get_double().get(d)) return JsonError(e, buf, nullptr);
  return d;
}

absl::StatusOr<std::vector<std::string>> StringArray(std::string_view raw) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(raw);
  od::document doc;
  od::array array;
  if (auto e = ThreadParser().iterate(buf).get(doc)) return JsonError(e, buf, nullptr);
  if (auto e = doc.get_array().get(array)) return JsonError(e, buf, nullptr);
  std::vector<std::string> out;
  for (auto element : array) {
    std::string_view s;
    if (auto e = element.get_string().get(s)) return JsonError(e, buf, nullptr);
    out.emplace_back(s);
  }
  return out;
}

absl::StatusOr<std::string> Canonicalize(std::string_view text) {
  const ReleaseLargeParserOnExit release;
  const simdjson::padded_string buf(text);
  std::string canonical;
  absl::StatusOr<Type> type = ValidatePadded(buf, &canonical);
  if (!type.ok()) return type.status();
  return canonical;
}

const Field* FindField(const std::vector<Field>& fields, std::string_view key) {
  for (const Field& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

size_t ParserCapacityForTesting() { return ThreadParser().capacity(); }

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kObject:
      return "an object";
    case Type::kArray:
      return "an array";
    case Type::kString:
      return "a string";
    case Type::kNumber:
      return "a number";
    case Type::kBool:
      return "a boolean";
    case Type::kNull:
      return "null";
  }
  return "unknown";
}

}  // namespace resque::json
