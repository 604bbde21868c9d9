#include "core/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/bounded_text.h"
#include "core/json.h"

namespace resque {
namespace {

// How much of a refused name an error shows: enough to recognise it, one line at most.
constexpr size_t kShownBytes = 100;

// Whether the valid UTF-8 sequence of `len` bytes at s[i] is a C1 control (U+0080 to U+009F),
// which some terminals take as a line break (NEL) or an escape (CSI).
bool IsC1(std::string_view s, size_t i, size_t len) {
  return len == 2 && static_cast<unsigned char>(s[i]) == 0xC2 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

bool IsAsciiControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

void AppendHexBytes(std::string* out, std::string_view bytes) {
  for (char b : bytes) absl::StrAppendFormat(out, "\\x%02x", static_cast<unsigned char>(b));
}

void AppendEscaped(std::string* out, std::string_view s, bool keep_backslash) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = json::Utf8SequenceLength(s, i);
      if (len == 0 || IsC1(s, i, len)) {
        AppendHexBytes(out, s.substr(i, len == 0 ? 1 : len));
      } else {
        out->append(s.substr(i, len));
      }
      i += len == 0 ? 1 : len;
      continue;
    }
    ++i;
    if (c == '\\') {
      out->append(keep_backslash ? "\\" : "\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (IsAsciiControl(c)) {
      AppendHexBytes(out, s.substr(i - 1, 1));
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

absl::Status Refuse(std::string_view kind, std::string_view name, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s '%s' %s", kind, CutToBytes(EscapeField(name), kShownBytes), why));
}

// What every name shares: not empty, not too long, valid UTF-8, no control character.
absl::Status CheckText(std::string_view kind, std::string_view name, size_t max_bytes) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s is empty", kind));
  if (name.size() > max_bytes) {
    return Refuse(kind, name, absl::StrFormat("is %d bytes: at most %d", name.size(), max_bytes));
  }
  for (size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    const size_t len = c < 0x80 ? 1 : json::Utf8SequenceLength(name, i);
    if (len == 0) {
      return Refuse(kind, name,
                    absl::StrFormat("is not valid UTF-8 (byte %d): peers read names as UTF-8 "
                                    "text (JSON, node-resque's strings)",
                                    i));
    }
    if ((len == 1 && IsAsciiControl(c)) || IsC1(name, i, len)) {
      return Refuse(kind, name,
                    absl::StrFormat("has a control character (%s): it would break the log lines "
                                    "and listings that show the name",
                                    EscapeField(name.substr(i, len))));
    }
    i += len;
  }
  return absl::OkStatus();
}

// What of `name` a worker's queue list cannot hold, and why; empty when nothing.
std::string QueueListTrouble(std::string_view name) {
  if (name.front() == '!') {
    return "starts with '!': Ruby resque's workers read !name as a queue to skip";
  }
  for (char c : name) {
    switch (c) {
      case ' ':
        return "has a space: workers read a queue list as names without spaces (Ruby resque "
               "strips them)";
      case ',':
        return "has a ',': workers split their queue lists at ',' (QUEUE=a,b is two queues)";
      case '*':
      case '?':
      case '[':
      case ']':
        return absl::StrFormat(
            "has a '%c': Ruby resque's workers read it as a glob (QUEUE=high* is every queue "
            "whose name starts with high)",
            c);
      case '\\':
        return "has a '\\': Ruby resque's workers read it as an escape in their queue globs";
      default:
        break;
    }
  }
  return "";
}

}  // namespace

absl::Status CheckQueueName(std::string_view name) {
  constexpr std::string_view kKind = "queue name";
  if (absl::Status s = CheckText(kKind, name, kMaxQueueNameBytes); !s.ok()) return s;
  if (const std::string why = QueueListTrouble(name); !why.empty()) {
    return Refuse(kKind, name, why);
  }
  return absl::OkStatus();
}

absl::Status CheckClassName(std::string_view name) {
  return CheckText("job class name", name, kMaxClassNameBytes);
}

absl::Status CheckNamespace(std::string_view ns) {
  constexpr std::string_view kKind = "namespace";
  if (absl::Status s = CheckText(kKind, ns, kMaxNamespaceBytes); !s.ok()) return s;
  if (ns.find(' ') != std::string_view::npos) {
    return Refuse(kKind, ns,
                  "has a space: every key starts with the namespace, and redis-cli and shell "
                  "scripts split keys at spaces");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseQueueList(std::string_view list) {
  const absl::string_view text(list.data(), list.size());
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError("queue list is empty: give q1,q2 or '*'");
  }
  std::vector<std::string> queues;
  for (absl::string_view piece : absl::StrSplit(text, ',')) {
    const absl::string_view name = absl::StripAsciiWhitespace(piece);
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("queue list '%s' has an empty name: give q1,q2 or '*'",
                          CutToBytes(EscapeField(list), kShownBytes)));
    }
    if (name == "*") {
      queues.emplace_back(name);
      continue;
    }
    if (name.front() == '!' || name.find_first_of("*?[]") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "queue list entry '%s' is a pattern: resque work takes '*' alone, for every queue, "
          "not Ruby resque's globs and !skips",
          CutToBytes(EscapeField(std::string_view(name.data(), name.size())), kShownBytes)));
    }
    const std::string_view queue(name.data(), name.size());
    if (absl::Status s = CheckQueueName(queue); !s.ok()) return s;
    queues.emplace_back(queue);
  }
  return queues;
}

std::string EscapeField(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(&out, text, /*keep_backslash=*/false);
  return out;
}

std::string EscapeJsonField(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  AppendEscaped(&out, json, /*keep_backslash=*/true);
  return out;
}

}  // namespace resque
