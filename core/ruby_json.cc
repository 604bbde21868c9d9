#include "core/ruby_json.h"

#include <locale.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json.h"

namespace resque {
namespace {

namespace od = simdjson::ondemand;

// As deep as json::Validate lets a document be (it has checked the text first).
constexpr int kMaxDepth = 512;

// Ruby's Float#to_s writes a float with a decimal point while the digits before the point
// (negative: zeros after it) are in this range, or the digits reach past the point; in exponent
// form otherwise: 100000000000000.0 but 1.0e+15, 0.0001 but 1.0e-05.
constexpr int kMaxFixedPoint = 15;  // DBL_DIG
constexpr int kMinFixedPoint = -3;

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t' ||
          s.back() == ']' || s.back() == ',' || s.back() == '}')) {
    s.remove_suffix(1);
  }
  return s;
}

// The nearest double to the JSON number `raw`, as Ruby's parser finds it (a correctly rounded
// strtod): 0 for a number too small for a double, infinite for one too large.
double ParseDouble(std::string_view raw) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  const std::string text(raw);
  return strtod_l(text.c_str(), nullptr, c_locale);
}

// Appends `d` (finite) as Ruby's Float#to_s does: the shortest digits that read back as `d`,
// with a decimal point ("100.0", "0.0001", "1234567890123456.8") as kMaxFixedPoint says, else
// as "<d>.<ddd>e<sign><at least two digits>".
void AppendRubyFloat(std::string* out, double d) {
  if (d == 0) {
    out->append(std::signbit(d) ? "-0.0" : "0.0");
    return;
  }
  char buf[64];
  const std::to_chars_result r =
      std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  const std::string_view sci(buf, r.ptr - buf);  // "1.2345e+15", "5e-324": shortest round trip
  const size_t e = sci.find('e');
  std::string digits(1, sci[0]);
  if (e > 1) digits.append(sci.substr(2, e - 2));
  int exponent = 0;
  std::string_view exp_text = sci.substr(e + 1);
  const bool negative_exponent = exp_text.front() == '-';
  exp_text.remove_prefix(1);  // to_chars always writes the sign
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  if (negative_exponent) exponent = -exponent;

  if (d < 0) out->push_back('-');
  const int point = exponent + 1;  // digits before the decimal point
  const int count = static_cast<int>(digits.size());
  if (point > 0 && point < count) {
    absl::StrAppend(out, digits.substr(0, point), ".", digits.substr(point));
  } else if (point > 0 && point <= kMaxFixedPoint) {
    absl::StrAppend(out, digits, std::string(point - count, '0'), ".0");
  } else if (point <= 0 && point >= kMinFixedPoint) {
    absl::StrAppend(out, "0.", std::string(-point, '0'), digits);
  } else {
    absl::StrAppend(out, digits.substr(0, 1), ".", count > 1 ? digits.substr(1) : "0");
    absl::StrAppendFormat(out, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
}

absl::Status Write(od::value v, std::string* out, int depth);

absl::Status Error(simdjson::error_code e) {
  return absl::InvalidArgumentError(
      absl::StrFormat("not valid JSON: %s", simdjson::error_message(e)));
}

absl::Status WriteNumber(od::value v, std::string* out) {
  const std::string_view raw = TrimRight(v.raw_json_token());
  if (raw.find_first_of(".eE") == std::string_view::npos) {
    // An Integer in Ruby, of any size: its digits, and 0 for "-0".
    out->append(raw == "-0" ? "0" : raw);
    return absl::OkStatus();
  }
  const double d = ParseDouble(raw);
  if (!std::isfinite(d)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the number %s is beyond a double's range: Ruby reads it as Infinity and cannot write "
        "it back",
        raw));
  }
  AppendRubyFloat(out, d);
  return absl::OkStatus();
}

absl::Status WriteObject(od::object object, std::string* out, int depth) {
  // Ruby's Hash keeps a key where it was first seen and the value it was given last.
  std::vector<std::pair<std::string, std::string>> members;
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return Error(e);
    std::string name(key);
    od::value child;
    if (auto e = field.value().get(child)) return Error(e);
    std::string value;
    if (absl::Status s = Write(child, &value, depth + 1); !s.ok()) return s;
    auto it = std::find_if(members.begin(), members.end(),
                           [&](const auto& m) { return m.first == name; });
    if (it != members.end()) {
      it->second = std::move(value);
    } else {
      members.emplace_back(std::move(name), std::move(value));
    }
  }
  out->push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendRubyQuoted(out, members[i].first);
    absl::StrAppend(out, ":", members[i].second);
  }
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status Write(od::value v, std::string* out, int depth) {
  if (depth > kMaxDepth) return Error(simdjson::DEPTH_ERROR);
  od::json_type type;
  if (auto e = v.type().get(type)) return Error(e);
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return Error(e);
      out->push_back('[');
      bool first = true;
      for (auto element : array) {
        od::value child;
        if (auto e = element.get(child)) return Error(e);
        if (!first) out->push_back(',');
        first = false;
        if (absl::Status s = Write(child, out, depth + 1); !s.ok()) return s;
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = v.get_object().get(object)) return Error(e);
      return WriteObject(object, out, depth);
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return Error(e);
      AppendRubyQuoted(out, s);
      return absl::OkStatus();
    }
    case od::json_type::number:
      return WriteNumber(v, out);
    case od::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return Error(e);
      out->append(b ? "true" : "false");
      return absl::OkStatus();
    }
    case od::json_type::null:
      out->append("null");
      return absl::OkStatus();
  }
  return Error(simdjson::INCORRECT_TYPE);
}

}  // namespace

void AppendRubyQuoted(std::string* out, std::string_view s) {
  // The characters Ruby escapes with a letter, each followed by its letter; other control
  // characters become \u00XX, and every other byte stays as it is.
  static constexpr std::string_view kLetterEscapes("\"\"\\\\\bb\ff\nn\rr\tt", 14);
  out->push_back('"');
  for (const char ch : s) {
    size_t i = 0;
    while (i < kLetterEscapes.size() && kLetterEscapes[i] != ch) i += 2;
    if (i < kLetterEscapes.size()) {
      out->push_back('\\');
      out->push_back(kLetterEscapes[i + 1]);
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(ch));
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

absl::StatusOr<std::string> RubyJson(std::string_view text) {
  // The whole text is checked first (grammar, escapes, UTF-8, one value only), so the walk
  // below meets valid JSON. It walks the value as the one element of an array, because
  // On-Demand hands out a scalar document without the raw number text this needs.
  if (absl::StatusOr<json::Type> type = json::Validate(text); !type.ok()) return type.status();
  const simdjson::padded_string wrapped(std::string("[").append(text).append("]"));
  od::parser parser;
  od::document doc;
  od::array array;
  if (auto e = parser.iterate(wrapped).get(doc)) return Error(e);
  if (auto e = doc.get_array().get(array)) return Error(e);
  std::string out;
  for (auto element : array) {
    od::value value;
    if (auto e = element.get(value)) return Error(e);
    if (absl::Status s = Write(value, &out, 1); !s.ok()) return s;
  }
  return out;
}

}  // namespace resque
