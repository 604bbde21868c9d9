// `resque web`'s HTTP server: the dashboard's static files (compiled in), its JSON API, /metrics
// and /healthz (docs/web.md), over one Backend. cpp-httplib serves; this class holds the rules:
// credentials when asked for, actions only by POST with the CSRF token, 4xx with a message for
// a bad request, and the samples of the totals the overview draws its rates from.
//
//   resque::web::WebServer server(backend, {.host = "127.0.0.1", .port = 5678});
//   RESQUE_RETURN_IF_ERROR(server.Start());  // serves on its own threads
//   ...
//   server.Stop();
#ifndef RESQUE_WEB_SERVER_H_
#define RESQUE_WEB_SERVER_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "web/dashboard.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace resque::web {

struct WebOptions {
  std::string host = "127.0.0.1";
  int port = 5678;  // 0: any free port (port() tells which)
  // "user:password" for HTTP basic auth; empty: none, which only a loopback host allows.
  std::string credentials = {};
  std::string backend_name = {};  // shown on the stats page ("redis://127.0.0.1:6379/0 ...")
  int refresh_seconds = 2;
  absl::Duration sample_every = absl::Seconds(5);
  size_t history = 720;  // samples kept: an hour at 5 s
};

// Whether `host` is a loopback address or "localhost".
bool IsLoopbackHost(std::string_view host);

class WebServer {
 public:
  // `backend` must outlive the server and be safe to call from several threads.
  WebServer(Backend& backend, WebOptions options);
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;
  ~WebServer();

  // Binds and starts serving. InvalidArgument for a host beyond loopback without credentials;
  // Unavailable when the address cannot be bound.
  absl::Status Start();
  // Stops serving and sampling; waits for the threads. Idempotent.
  void Stop();

  int port() const { return port_; }
  const std::string& csrf_token() const { return csrf_; }

  // The totals sampled so far, oldest first.
  std::vector<Sample> History();

 private:
  void Route();
  bool Authorized(const httplib::Request& req) const;
  void SampleLoop();

  Backend& backend_;
  const WebOptions options_;
  const std::string csrf_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  std::thread sampler_;
  int port_ = 0;

  std::mutex mu_;  // guards what follows
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Sample> history_;
};

}  // namespace resque::web

#endif  // RESQUE_WEB_SERVER_H_
