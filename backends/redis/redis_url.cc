// ParseRedisUrl: the URL forms of redis_backend.h. Every error message shows the URL with its
// password masked, so that a typo can be found without the secret reaching a log.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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
    if (scheme == "redis" || scheme == "rediss") return ParseRedis(rest, scheme == "rediss", false);
    if (scheme == "redis-sentinel" || scheme == "rediss-sentinel") {
      return ParseRedis(rest, scheme == "rediss-sentinel", true);
    }
    if (scheme == "unix") return ParseUnix(rest);
    constexpr std::string_view kWant =
        "want redis://, rediss://, redis-sentinel://, rediss-sentinel:// or unix://";
    if (!IsScheme(scheme)) return Error(absl::StrFormat("unknown scheme (%s)", AbslView(kWant)));
    return Error(absl::StrFormat("unknown scheme \"%s\" (%s)", AbslView(scheme), AbslView(kWant)));
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

  // A file name or server name parameter: decoded, not empty.
  absl::StatusOr<std::string> Path(std::string_view value, std::string_view name) const {
    RESQUE_ASSIGN_OR_RETURN(std::string decoded, Decode(value, name));
    if (decoded.empty()) return Error(absl::StrFormat("%s is empty", AbslView(name)));
    return decoded;
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
  absl::StatusOr<RedisOptions> ParseHostPort(std::string_view s, bool bare,
                                             int default_port = 6379) {
    RedisOptions options;
    options.port = default_port;
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
      const bool tls_parameter = absl::StartsWith(AbslView(name), "tls_");
      const bool sentinel_parameter = absl::StartsWith(AbslView(name), "sentinel_");
      if (tls_parameter && !options.tls.enabled) {
        return Error(
            absl::StrFormat("\"%s\" needs TLS: rediss:// or rediss-sentinel://", AbslView(name)));
      }
      if (sentinel_parameter && options.sentinels.empty()) {
        return Error(
            absl::StrFormat("\"%s\" needs a sentinel URL: redis-sentinel://", AbslView(name)));
      }
      if (name == "db") {
        absl::StatusOr<int> db = Number(value, "db", 0, 1 << 20);
        if (!db.ok()) return db.status();
        options.db = *db;
      } else if (name == "password" || name == "sentinel_password") {
        absl::StatusOr<std::string> password = Decode(value, "password");
        if (!password.ok()) return password.status();
        (name == "password" ? options.password : options.sentinel_password) = *std::move(password);
        after_password = true;
      } else if (name == "sentinel_username") {
        RESQUE_ASSIGN_OR_RETURN(options.sentinel_username, Decode(value, "sentinel_username"));
      } else if (name == "wait_replicas") {
        RESQUE_ASSIGN_OR_RETURN(options.wait_replicas, Number(value, "wait_replicas", 0, 1000));
      } else if (name == "wait_timeout_ms") {
        RESQUE_ASSIGN_OR_RETURN(const int ms, Number(value, "wait_timeout_ms", 1, 3600 * 1000));
        options.wait_timeout = absl::Milliseconds(ms);
      } else if (name == "tls_ca") {
        RESQUE_ASSIGN_OR_RETURN(options.tls.ca_file, Path(value, name));
      } else if (name == "tls_ca_dir") {
        RESQUE_ASSIGN_OR_RETURN(options.tls.ca_dir, Path(value, name));
      } else if (name == "tls_cert") {
        RESQUE_ASSIGN_OR_RETURN(options.tls.cert_file, Path(value, name));
      } else if (name == "tls_key") {
        RESQUE_ASSIGN_OR_RETURN(options.tls.key_file, Path(value, name));
      } else if (name == "tls_server_name") {
        RESQUE_ASSIGN_OR_RETURN(options.tls.server_name, Path(value, name));
      } else if (name == "tls_verify") {
        if (value == "yes") {
          options.tls.verify = true;
        } else if (value == "no") {
          options.tls.verify = false;
        } else {
          return Error("tls_verify is yes or no");
        }
      } else if (after_password) {
        // Likely the password's own tail, cut at an unescaped '&': not echoed.
        return Error("unknown parameter after the password (write '&' in a password as %26)");
      } else {
        return Error(absl::StrFormat(
            "unknown parameter \"%s\" (want db, password, wait_replicas, wait_timeout_ms, tls_ca, "
            "tls_ca_dir, tls_cert, tls_key, tls_server_name, tls_verify, sentinel_username or "
            "sentinel_password)",
            AbslView(name)));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<RedisOptions> ParseRedis(std::string_view rest, bool tls, bool sentinel) {
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

    absl::StatusOr<RedisOptions> options;
    std::string_view db_path = path;
    if (sentinel) {
      options = RedisOptions();
      // host:port,host:port,... (26379 where no port is given), then /master[/db].
      for (std::string_view list = hostport;;) {
        const size_t comma = list.find(',');
        absl::StatusOr<RedisOptions> one =
            ParseHostPort(list.substr(0, comma), /*bare=*/false, /*default_port=*/26379);
        if (!one.ok()) return one.status();
        options->sentinels.push_back({.host = one->host, .port = one->port});
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
      }
      const size_t next = path.find('/');
      options->sentinel_master = std::string(path.substr(0, next));
      db_path = next == std::string_view::npos ? std::string_view() : path.substr(next + 1);
      if (options->sentinel_master.empty()) {
        return Error("a sentinel URL names its master: redis-sentinel://host:26379/mymaster");
      }
    } else {
      options = ParseHostPort(hostport, /*bare=*/false);
      if (!options.ok()) return options.status();
    }
    options->tls.enabled = tls;
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
    if (!db_path.empty()) {
      absl::StatusOr<int> db = Number(db_path, "db", 0, 1 << 20);
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
