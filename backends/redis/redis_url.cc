// ParseRedisUrl: the URL forms of redis_backend.h. Every error message shows the URL with its
// password masked, so that a typo can be found without the secret reaching a log.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "backends/redis/redis_backend.h"
#include "core/absl_view.h"
#include "core/status_macros.h"

namespace resque::redis {
namespace {

constexpr std::string_view kMask = "****";

// A scheme as RFC 3986 spells it; anything else before "://" is not echoed (it may be a
// password someone typed in the wrong place).
bool IsScheme(std::string_view s) {
  return !s.empty() && absl::ascii_isalpha(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' ||
                  c == '.';
         });
}

// Where the user-info of `rest` (the URL after its scheme) ends: the last '@', unless that one is
// inside a password= parameter. npos: no user-info. A password may hold '/' and '?' unescaped.
size_t UserInfoEnd(std::string_view rest) {
  size_t at = rest.rfind('@');
  const size_t parameter = rest.find("password=");
  if (at != std::string_view::npos && parameter != std::string_view::npos && parameter < at) {
    at = parameter == 0 ? std::string_view::npos : rest.rfind('@', parameter - 1);
  }
  return at;
}

class UrlParser {
 public:
  explicit UrlParser(std::string_view url) : url_(url) {}

  absl::StatusOr<RedisOptions> Parse() {
    if (url_.empty()) return absl::InvalidArgumentError("redis URL is empty");
    const size_t scheme_end = url_.find("://");
    if (scheme_end == std::string_view::npos) {
      // php-resque's host:port has no user-info; a password there is refused without echoing
      // the host part (which would hold it).
      if (url_.find('@') != std::string_view::npos) {
        return Error("a password needs the redis:// form: redis://:PASSWORD@host:port");
      }
      return ParseHostPort(url_, /*bare=*/true);
    }
    const std::string_view scheme = url_.substr(0, scheme_end);
    const std::string_view rest = url_.substr(scheme_end + 3);
    if (scheme == "redis") return ParseRedis(rest);
    if (scheme == "unix") return ParseUnix(rest);
    if (scheme == "rediss") {
      return Error("TLS (rediss://) is not supported: hiredis 0.14 has no TLS");
    }
    if (!IsScheme(scheme)) return Error("unknown scheme (want redis:// or unix://)");
    return Error(
        absl::StrFormat("unknown scheme \"%s\" (want redis:// or unix://)", AbslView(scheme)));
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrFormat("redis URL \"%s\": %s", MaskedUrl(url_), AbslView(what)));
  }

  absl::StatusOr<std::string> Decode(std::string_view s, std::string_view what) const {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out.push_back(s[i]);
        continue;
      }
      unsigned value = 0;
      if (i + 2 >= s.size()) {
        return Error(absl::StrFormat("bad percent-escape in the %s", AbslView(what)));
      }
      const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
      if (ec != std::errc() || end != s.data() + i + 3) {
        return Error(absl::StrFormat("bad percent-escape in the %s", AbslView(what)));
      }
      out.push_back(static_cast<char>(value));
      i += 2;
    }
    return out;
  }

  absl::StatusOr<int> Number(std::string_view s, std::string_view what, int min, int max) const {
    int value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < min ||
        value > max) {
      return Error(absl::StrFormat("%s \"%s\" is not a number in %d..%d", AbslView(what),
                                   AbslView(s), min, max));
    }
    return value;
  }

  // host, host:port, [v6], [v6]:port.
  absl::StatusOr<RedisOptions> ParseHostPort(std::string_view s, bool bare) {
    RedisOptions options;
    std::string_view host = s;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
      const size_t close = s.find(']');
      if (close == std::string_view::npos) return Error("IPv6 host without its closing ']'");
      host = s.substr(1, close - 1);
      const std::string_view after = s.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return Error("unexpected text after the IPv6 host");
        port = after.substr(1);
        if (port.empty()) return Error("empty port");
      }
    } else {
      const size_t colon = s.find(':');
      if (colon != std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (port.empty()) return Error("empty port");
      }
    }
    if (host.empty()) return Error("empty host");
    if (host.find_first_of(bare ? "/@? " : "/@?") != std::string_view::npos) {
      return Error(absl::StrFormat("bad host \"%s\"", AbslView(host)));
    }
    options.host = std::string(host);
    if (!port.empty()) {
      absl::StatusOr<int> p = Number(port, "port", 1, 65535);
      if (!p.ok()) return p.status();
      options.port = *p;
    }
    return options;
  }

  // Applies ?db=N&password=P; other parameters are refused so that typos are seen.
  absl::Status ParseQuery(std::string_view query, RedisOptions& options) {
    bool after_password = false;
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      const size_t eq = pair.find('=');
      const std::string_view name = pair.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      if (name == "db") {
        absl::StatusOr<int> db = Number(value, "db", 0, 1 << 20);
        if (!db.ok()) return db.status();
        options.db = *db;
      } else if (name == "password") {
        absl::StatusOr<std::string> password = Decode(value, "password");
        if (!password.ok()) return password.status();
        options.password = *std::move(password);
        after_password = true;
      } else if (after_password) {
        // Likely the password's own tail, cut at an unescaped '&': not echoed.
        return Error("unknown parameter after the password (write '&' in a password as %26)");
      } else {
        return Error(
            absl::StrFormat("unknown parameter \"%s\" (want db or password)", AbslView(name)));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<RedisOptions> ParseRedis(std::string_view rest) {
    const size_t at = UserInfoEnd(rest);
    const std::string_view userinfo =
        at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
    if (at != std::string_view::npos) rest = rest.substr(at + 1);
    const size_t q = rest.find('?');
    const std::string_view query = q == std::string_view::npos ? "" : rest.substr(q + 1);
    rest = rest.substr(0, q);
    const size_t slash = rest.find('/');
    const std::string_view hostport = rest.substr(0, slash);
    const std::string_view path =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

    absl::StatusOr<RedisOptions> options = ParseHostPort(hostport, /*bare=*/false);
    if (!options.ok()) return options.status();
    if (!userinfo.empty()) {
      const size_t colon = userinfo.find(':');
      absl::StatusOr<std::string> user =
          Decode(colon == std::string_view::npos ? "" : userinfo.substr(0, colon), "user");
      if (!user.ok()) return user.status();
      absl::StatusOr<std::string> password = Decode(
          colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1), "password");
      if (!password.ok()) return password.status();
      options->username = *std::move(user);
      options->password = *std::move(password);
    }
    if (!path.empty()) {
      absl::StatusOr<int> db = Number(path, "db", 0, 1 << 20);
      if (!db.ok()) return db.status();
      options->db = *db;
    }
    RESQUE_RETURN_IF_ERROR(ParseQuery(query, *options));
    return options;
  }

  absl::StatusOr<RedisOptions> ParseUnix(std::string_view rest) {
    const size_t q = rest.find('?');
    const std::string_view query = q == std::string_view::npos ? "" : rest.substr(q + 1);
    const std::string_view path = rest.substr(0, q);
    if (path.empty() || path.front() != '/') {
      return Error("want an absolute socket path: unix:///path/to/redis.sock");
    }
    RedisOptions options;
    absl::StatusOr<std::string> decoded = Decode(path, "path");
    if (!decoded.ok()) return decoded.status();
    options.unix_socket = *std::move(decoded);
    RESQUE_RETURN_IF_ERROR(ParseQuery(query, options));
    return options;
  }

  std::string_view url_;
};

}  // namespace

std::string MaskedUrl(std::string_view url) {
  std::string out(url);
  // The rest of the URL after password=: a '&' or '@' in an unescaped password cannot end it.
  const size_t parameter = out.find("password=");
  if (parameter != std::string::npos) out.replace(parameter + 9, std::string::npos, kMask);
  const size_t scheme = out.find("://");
  const size_t start =
      scheme != std::string::npos && IsScheme(std::string_view(out).substr(0, scheme)) ? scheme + 3
                                                                                       : 0;
  const size_t at = out.rfind('@');
  if (at != std::string::npos && at >= start) {
    const size_t colon = out.find(':', start);
    const size_t from = colon < at ? colon + 1 : start;
    out.replace(from, at - from, kMask);
  }
  return out;
}

absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url) { return UrlParser(url).Parse(); }

}  // namespace resque::redis
