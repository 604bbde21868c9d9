#include "core/payload.h"

#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json.h"
#include "core/ruby_json.h"

namespace resque {
namespace {

// Microsecond precision, as php's microtime(true), written the way JavaScript's JSON.stringify and
// php's json_encode write a double (shortest form that reads back the same, no trailing zeros):
// node-resque retries a failure by LREM of its own re-encoding of the record, which embeds this
// payload, so "%.6f" (1764088383.120000) would make our failures impossible for it to retry.
void AppendQueueTime(std::string* out, double seconds) {
  if (!std::isfinite(seconds)) {
    out->append("null");
    return;
  }
  // Rounding only where a microsecond is still representable; beyond 1e21 JavaScript writes an
  // exponent, as to_chars's shortest form does.
  const double v = std::fabs(seconds) < 1e15 ? std::round(seconds * 1e6) / 1e6 : seconds;
  char buf[64];
  const std::to_chars_result r =
      std::fabs(v) < 1e21 ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                          : std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

}  // namespace

absl::StatusOr<Payload> DecodePayload(std::string_view json) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(json);
  if (!fields.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", fields.status().message()));
  }
  Payload p;
  bool has_class = false;
  for (json::Field& f : *fields) {
    if (f.key == "class") {
      if (f.type != json::Type::kString) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "payload: \"class\" must be a string, found %s", json::TypeName(f.type)));
      }
      absl::StatusOr<std::string> name = json::StringValue(f.raw);
      if (!name.ok()) return name.status();
      p.class_name = *std::move(name);
      has_class = true;
    } else if (f.key == "args") {
      if (f.type != json::Type::kArray) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "payload: \"args\" must be an array, found %s", json::TypeName(f.type)));
      }
      p.args = std::move(f.raw);
    } else if (f.key == "id" && f.type == json::Type::kString) {
      absl::StatusOr<std::string> id = json::StringValue(f.raw);
      if (!id.ok()) return id.status();
      p.id = *std::move(id);
    } else if (f.key == "queue_time" && f.type == json::Type::kNumber) {
      absl::StatusOr<double> t = json::DoubleValue(f.raw);
      if (t.ok()) {
        p.queue_time = *t;
      } else {
        p.extra.emplace_back(std::move(f.key), std::move(f.raw));
      }
    } else {
      p.extra.emplace_back(std::move(f.key), std::move(f.raw));
    }
  }
  if (!has_class) return absl::InvalidArgumentError("payload: \"class\" is missing");
  if (p.class_name.empty()) return absl::InvalidArgumentError("payload: \"class\" is empty");
  return p;
}

std::string IdOfBadPayload(std::string_view json) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(json);
  if (!fields.ok()) return "";
  for (const json::Field& f : *fields) {
    if (f.key != "id" || f.type != json::Type::kString) continue;
    absl::StatusOr<std::string> id = json::StringValue(f.raw);
    return id.ok() ? *id : "";
  }
  return "";
}

std::string EncodePayload(const Payload& payload) {
  std::string out = "{\"class\":";
  json::AppendQuoted(&out, payload.class_name);
  absl::StrAppend(&out, ",\"args\":", payload.args.empty() ? "[]" : payload.args);
  if (!payload.id.empty()) {
    out.append(",\"id\":");
    json::AppendQuoted(&out, payload.id);
  }
  if (payload.queue_time.has_value()) {
    out.append(",\"queue_time\":");
    AppendQueueTime(&out, *payload.queue_time);
  }
  for (const auto& [key, raw] : payload.extra) {
    out.push_back(',');
    json::AppendQuoted(&out, key);
    absl::StrAppend(&out, ":", raw);
  }
  out.push_back('}');
  return out;
}

absl::StatusOr<std::string> EncodeRubyPayload(std::string_view class_name,
                                              std::string_view args_json) {
  absl::StatusOr<std::string> args = RubyJson(args_json);
  if (!args.ok())
    return absl::InvalidArgumentError(absl::StrCat("args: ", args.status().message()));
  if (args->empty() || args->front() != '[') {
    return absl::InvalidArgumentError("args must be a JSON array");
  }
  // Ruby refuses to write a string that is not UTF-8.
  if (absl::StatusOr<std::string> back = json::StringValue(json::Quote(class_name));
      !back.ok() || *back != class_name) {
    return absl::InvalidArgumentError("job class name is not valid UTF-8");
  }
  std::string out = "{\"class\":";
  AppendRubyQuoted(&out, class_name);
  absl::StrAppend(&out, ",\"args\":", *args, "}");
  return out;
}

absl::StatusOr<std::string> ArgsFromUserJson(std::string_view user_json) {
  const absl::string_view trimmed =
      absl::StripAsciiWhitespace(absl::string_view(user_json.data(), user_json.size()));
  if (trimmed.empty()) return std::string("[]");
  absl::StatusOr<json::Type> type =
      json::Validate(std::string_view(trimmed.data(), trimmed.size()));
  if (!type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("args: ", type.status().message()));
  }
  if (*type == json::Type::kArray) return std::string(trimmed);
  if (*type == json::Type::kObject) return absl::StrCat("[", trimmed, "]");
  return absl::InvalidArgumentError(
      absl::StrFormat("args must be a JSON array or object, found %s", json::TypeName(*type)));
}

std::string NewJobId() {
  // 128 bits from the kernel's CSPRNG (getrandom), fetched 256 ids at a time into a per-thread
  // buffer: one syscall per 256 ids, no lock, and nothing ThreadSanitizer cannot see (absl's
  // BitGen seeds itself under a lock TSan does not know in Debian's build).
  struct Pool {
    std::array<uint8_t, 4096> bytes;
    size_t used = 4096;
    pid_t pid = 0;  // a forked child must not hand out its parent's next ids
  };
  thread_local Pool pool;
  if (pool.used == pool.bytes.size() || pool.pid != getpid()) {
    pool.pid = getpid();
    size_t filled = 0;
    while (filled < pool.bytes.size()) {
      const ssize_t n = getrandom(pool.bytes.data() + filled, pool.bytes.size() - filled, 0);
      if (n > 0) {
        filled += static_cast<size_t>(n);
      } else if (n < 0 && errno != EINTR) {
        // No getrandom (a kernel before 3.17): fall back to the C++ library's device.
        std::random_device device;
        for (size_t i = filled; i < pool.bytes.size(); ++i) {
          pool.bytes[i] = static_cast<uint8_t>(device());
        }
        filled = pool.bytes.size();
      }
    }
    pool.used = 0;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 16; ++i) {
    const uint8_t byte = pool.bytes[pool.used++];
    id[2 * i] = kHex[byte >> 4];
    id[2 * i + 1] = kHex[byte & 0xF];
  }
  return id;
}

}  // namespace resque
