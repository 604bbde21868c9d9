#include "web/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>

#include <array>
#include <exception>
#include <random>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/absl_view.h"
#include "core/json.h"
#include "core/log.h"
#include "web/assets.h"
#include "web/metrics.h"

namespace resque::web {
namespace {

constexpr char kJson[] = "application/json";
constexpr size_t kMaxBody = 1 << 20;  // a failure record with its payload fits many times over

// 32 random bytes as hex: std::random_device reads the kernel's CSPRNG on Linux.
std::string NewToken() {
  std::random_device rd;
  std::string bytes;
  for (int i = 0; i < 8; ++i) {
    const uint32_t v = rd();
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return absl::BytesToHexString(bytes);
}

// Compares in time that depends only on the lengths, so a guess learns nothing from timing.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

int HttpCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      return 409;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void Error(httplib::Response& res, int code, absl::string_view message) {
  res.status = code;
  res.set_content(absl::StrCat("{\"error\":", json::Quote(std::string(message)), "}\n"), kJson);
}

void Reply(httplib::Response& res, const absl::StatusOr<std::string>& body) {
  if (!body.ok()) {
    Error(res, HttpCode(body.status()), body.status().message());
    return;
  }
  res.set_content(*body, kJson);
}

// A query parameter as an integer: `fallback` when absent, InvalidArgument when not a number.
absl::StatusOr<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  int64_t v = 0;
  const std::string text = req.get_param_value(name);
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s must be an integer, not \"%s\"", name, absl::CEscape(text)));
  }
  return v;
}

// The JSON object body of an action, its fields by name.
class Body {
 public:
  static absl::StatusOr<Body> Parse(const httplib::Request& req) {
    const std::string& text = req.body.empty() ? std::string("{}") : req.body;
    absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(text);
    if (!fields.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the body must be a JSON object: ", fields.status().message()));
    }
    return Body(std::move(*fields));
  }

  // A string member; "" when absent.
  absl::StatusOr<std::string> String(std::string_view key, bool required = false) const {
    const json::Field* f = json::FindField(fields_, key);
    if (f == nullptr || f->type == json::Type::kNull) {
      if (required)
        return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(key), "\" is required"));
      return std::string();
    }
    absl::StatusOr<std::string> v = json::StringValue(f->raw);
    if (!v.ok())
      return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(key), "\" must be a string"));
    return v;
  }

  absl::StatusOr<int64_t> Int(std::string_view key) const {
    const json::Field* f = json::FindField(fields_, key);
    if (f == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(key), "\" is required"));
    absl::StatusOr<int64_t> v = json::IntValue(f->raw);
    if (!v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(key), "\" must be an integer"));
    }
    return v;
  }

 private:
  explicit Body(std::vector<json::Field> fields) : fields_(std::move(fields)) {}
  std::vector<json::Field> fields_;
};

#define WEB_ASSIGN_OR_REPLY(lhs, expr)                                    \
  auto lhs##_or = (expr);                                                 \
  if (!lhs##_or.ok()) {                                                   \
    Error(res, HttpCode(lhs##_or.status()), lhs##_or.status().message()); \
    return;                                                               \
  }                                                                       \
  auto lhs = std::move(*lhs##_or)

// A Host header of "name[:port]" or "[v6][:port]" whose name is a loopback address or
// "localhost".
bool LoopbackHostHeader(std::string_view host) {
  std::string_view name = host;
  if (absl::StartsWith(AbslView(host), "[")) {
    const size_t end = host.find(']');
    if (end == std::string_view::npos) return false;
    name = host.substr(0, end + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
  }
  return !name.empty() && IsLoopbackHost(name);
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string addr(host);
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, addr.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

WebServer::WebServer(Backend& backend, WebOptions options)
    : backend_(backend), options_(std::move(options)), csrf_(NewToken()) {}

WebServer::~WebServer() { Stop(); }

absl::Status WebServer::Start() {
  if (options_.credentials.empty() && !IsLoopbackHost(options_.host)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "listening on %s, beyond loopback, needs credentials: set RESQUE_WEB_AUTH=user:password "
        "or --auth-file FILE",
        options_.host));
  }
  if (!options_.credentials.empty() && options_.credentials.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("credentials must be user:password");
  }
  http_ = std::make_unique<httplib::Server>();
  Route();
  const std::string host =
      absl::StartsWith(options_.host, "[") && absl::EndsWith(options_.host, "]")
          ? options_.host.substr(1, options_.host.size() - 2)
          : options_.host;
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(host);
    if (port_ < 0) port_ = 0;
  } else if (http_->bind_to_port(host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ == 0) {
    http_.reset();
    return absl::UnavailableError(
        absl::StrFormat("cannot listen on %s:%d (in use, or not an address of this host)",
                        options_.host, options_.port));
  }
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  // httplib's stop() does nothing until the listener runs: a Stop() right after Start() would
  // leave it listening and the join waiting forever. Connections queue in the bound socket
  // meanwhile, so this wait only orders Start before Stop.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!http_->is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (!http_->is_running()) {
    http_->stop();
    listener_.join();
    http_.reset();
    port_ = 0;
    return absl::UnavailableError(
        absl::StrFormat("the server on %s did not start listening", options_.host));
  }
  sampler_ = std::thread([this] { SampleLoop(); });
  return absl::OkStatus();
}

void WebServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (http_ != nullptr) http_->stop();
  if (listener_.joinable()) listener_.join();
  if (sampler_.joinable()) sampler_.join();
}

std::vector<Sample> WebServer::History() {
  std::lock_guard<std::mutex> lock(mu_);
  return {history_.begin(), history_.end()};
}

void WebServer::SampleLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::StatusOr<int64_t> processed = backend_.GetStat("processed");
    absl::StatusOr<int64_t> failed = backend_.GetStat("failed");
    lock.lock();
    if (processed.ok() && failed.ok()) {
      history_.push_back(
          {.t = absl::ToUnixSeconds(absl::Now()), .processed = *processed, .failed = *failed});
      while (history_.size() > options_.history) history_.pop_front();
    }
    wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.sample_every),
                   [this] { return stopping_; });
  }
}

bool WebServer::Authorized(const httplib::Request& req) const {
  if (options_.credentials.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr absl::string_view kBasic = "Basic ";
  if (!absl::StartsWith(header, kBasic)) return false;
  std::string decoded;
  if (!absl::Base64Unescape(absl::string_view(header).substr(kBasic.size()), &decoded)) {
    return false;
  }
  return SameSecret(decoded, options_.credentials);
}

void WebServer::Route() {
  httplib::Server& http = *http_;
  http.set_payload_max_length(kMaxBody);
  http.set_read_timeout(10);
  http.set_write_timeout(10);
  // No page may frame ours, run another origin's script, or be read as another type.
  http.set_default_headers({
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"Cache-Control", "no-store"},
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    // Without credentials, only a Host naming this loopback server: a page of another site
    // whose name was rebound to 127.0.0.1 (DNS rebinding) would otherwise be same-origin.
    if (options_.credentials.empty() && !LoopbackHostHeader(req.get_header_value("Host"))) {
      Error(res, 421,
            "the Host header must name this loopback server (127.0.0.1, localhost, [::1]); "
            "behind a proxy, pass it on (nginx: proxy_set_header Host $proxy_host) or set "
            "credentials");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!Authorized(req)) {
      res.set_header("WWW-Authenticate", "Basic realm=\"resque\", charset=\"UTF-8\"");
      Error(res, 401, "credentials required");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "POST") {
      if (!SameSecret(req.get_header_value("X-CSRF-Token"), csrf_)) {
        Error(res, 403, "missing or wrong CSRF token (X-CSRF-Token, from GET /api/session)");
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (req.method != "GET" && req.method != "HEAD") {
      Error(res, 405, absl::StrCat(req.method, " is not served here"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error
    if (res.status == 404) {
      Error(res, 404, absl::StrFormat("no such page: %s %s", req.method, req.path));
    } else if (res.status == 405 || (res.status == 400 && req.method == "GET")) {
      Error(res, res.status, "bad request");
    } else {
      Error(res, res.status, "request refused");
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = absl::StrCat("internal error: ", e.what());
        } catch (...) {
        }
        Error(res, 500, what);
      });

  for (const Asset& asset : Assets()) {
    const std::string path =
        asset.path == "/index.html" ? std::string("/") : std::string(asset.path);
    http.Get(path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
    });
  }

  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<bool> paused = backend_.AllWorkersPaused();
    if (!paused.ok()) {
      res.status = 503;
      res.set_content(absl::StrCat("unavailable: ", paused.status().message(), "\n"),
                      "text/plain; charset=utf-8");
      return;
    }
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const absl::Time start = absl::Now();
    absl::StatusOr<Snapshot> s = TakeSnapshot(backend_, start);
    if (!s.ok()) {
      res.status = 503;
      res.set_content(absl::StrCat("# backend unavailable: ", s.status().message(), "\n"),
                      "text/plain; charset=utf-8");
      return;
    }
    res.set_content(MetricsText(*s, absl::Now() - start), std::string(kMetricsContentType));
  });

  http.Get("/api/session", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(absl::StrCat("{\"csrf_token\":", json::Quote(csrf_),
                                 ",\"version\":", json::Quote(RESQUE_VERSION),
                                 ",\"backend\":", json::Quote(options_.backend_name),
                                 ",\"refresh_seconds\":", options_.refresh_seconds, "}"),
                    kJson);
  });
  const auto snapshot_route = [this](auto render) {
    return [this, render](const httplib::Request&, httplib::Response& res) {
      absl::StatusOr<Snapshot> s = TakeSnapshot(backend_, absl::Now());
      if (!s.ok()) {
        Error(res, HttpCode(s.status()), s.status().message());
        return;
      }
      res.set_content(render(*this, *s), kJson);
    };
  };
  http.Get("/api/overview", snapshot_route([](WebServer& self, const Snapshot& s) {
             return OverviewJson(s, self.History());
           }));
  http.Get("/api/queues", snapshot_route([](WebServer&, const Snapshot& s) {
             return absl::StrCat("{\"queues\":", QueuesJson(s), "}");
           }));
  http.Get("/api/workers", snapshot_route([](WebServer&, const Snapshot& s) {
             return absl::StrCat("{\"workers\":", WorkersJson(s), "}");
           }));
  http.Get("/api/stats", snapshot_route([](WebServer& self, const Snapshot& s) {
             return StatsJson(s, self.options_.backend_name);
           }));
  // The name is the rest of the path, decoded: it may hold '/'.
  http.Get(R"(/api/queues/([\s\S]+))", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(start, IntParam(req, "start", 0));
    WEB_ASSIGN_OR_REPLY(count, IntParam(req, "count", 20));
    Reply(res, QueueJobsJson(backend_, req.matches[1].str(), start, count));
  });
  http.Get("/api/failed", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(start, IntParam(req, "start", 0));
    WEB_ASSIGN_OR_REPLY(count, IntParam(req, "count", 20));
    Reply(res, FailedJson(backend_, {.start = start,
                                     .count = count,
                                     .queue = req.get_param_value("queue"),
                                     .job_class = req.get_param_value("class"),
                                     .exception = req.get_param_value("exception")}));
  });
  http.Get("/api/delayed", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(start, IntParam(req, "start", 0));
    WEB_ASSIGN_OR_REPLY(count, IntParam(req, "count", 50));
    Reply(res, DelayedJson(backend_, start, count));
  });
  http.Get("/api/schedules", [this](const httplib::Request&, httplib::Response& res) {
    Reply(res, SchedulesJson(backend_, absl::Now()));
  });

  // ---- Actions ----
  http.Post("/api/queue/remove", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(body, Body::Parse(req));
    WEB_ASSIGN_OR_REPLY(queue, body.String("queue", true));
    WEB_ASSIGN_OR_REPLY(raw, body.String("raw", true));
    WEB_ASSIGN_OR_REPLY(removed, RemoveQueueJob(backend_, queue, raw));
    res.set_content(absl::StrCat("{\"removed\":", removed, "}"), kJson);
  });
  http.Post("/api/queue/clear", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(body, Body::Parse(req));
    WEB_ASSIGN_OR_REPLY(queue, body.String("queue", true));
    const absl::Status s = backend_.RemoveQueue(queue);
    if (!s.ok()) return Error(res, HttpCode(s), s.message());
    res.set_content("{\"cleared\":true}", kJson);
  });
  const auto one_failure =
      [this](absl::Status (*act)(Backend&, int64_t, std::string_view, std::string_view),
             const char* done) {
        return [this, act, done](const httplib::Request& req, httplib::Response& res) {
          WEB_ASSIGN_OR_REPLY(body, Body::Parse(req));
          WEB_ASSIGN_OR_REPLY(index, body.Int("index"));
          WEB_ASSIGN_OR_REPLY(list, body.String("list"));
          WEB_ASSIGN_OR_REPLY(raw, body.String("raw", true));
          const absl::Status s = act(backend_, index, list, raw);
          if (!s.ok()) return Error(res, HttpCode(s), s.message());
          res.set_content(absl::StrCat("{\"", done, "\":true}"), kJson);
        };
      };
  http.Post("/api/failed/retry", one_failure(&RetryFailure, "retried"));
  http.Post("/api/failed/remove", one_failure(&RemoveFailure, "removed"));
  http.Post("/api/failed/retry_all", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(body, Body::Parse(req));
    WEB_ASSIGN_OR_REPLY(queue, body.String("queue"));
    WEB_ASSIGN_OR_REPLY(job_class, body.String("class"));
    Reply(res, RetryAllFailures(backend_, queue, job_class));
  });
  http.Post("/api/failed/clear", [this](const httplib::Request& req, httplib::Response& res) {
    WEB_ASSIGN_OR_REPLY(body, Body::Parse(req));
    WEB_ASSIGN_OR_REPLY(queue, body.String("queue"));
    WEB_ASSIGN_OR_REPLY(cleared, ClearFailures(backend_, queue));
    res.set_content(absl::StrCat("{\"cleared\":true,\"removed\":", cleared, "}"), kJson);
  });
  // An action asked for by GET: say so, rather than "no such page".
  http.Get(
      R"(/api/(queue/remove|queue/clear|failed/retry|failed/remove|failed/retry_all|failed/clear))",
      [](const httplib::Request&, httplib::Response& res) {
        Error(res, 405, "actions are POST only, with the X-CSRF-Token header");
      });
}

}  // namespace resque::web
