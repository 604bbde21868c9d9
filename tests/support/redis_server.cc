#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace resque::testing {
namespace {

constexpr absl::Duration kStartDeadline = absl::Seconds(10);
constexpr absl::Duration kStopDeadline = absl::Seconds(5);
constexpr absl::Duration kPollStep = absl::Milliseconds(10);
constexpr int kPortAttempts = 5;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

}  // namespace

// Bind to port 0. Someone may take it before redis-server binds it; StartOnce notices and Start
// picks another.
absl::StatusOr<int> FreeLoopbackPort() {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError(absl::StrFormat("socket: %s", strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    close(fd);
    if (!ok) return absl::InternalError(absl::StrFormat("bind: %s", strerror(errno)));
    const int port = ntohs(addr.sin_port);
    if (port != 6379) return port;  // never the default port: a developer's Redis may be there
  }
  return absl::InternalError("no free loopback port");
}

namespace {

std::string Render(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r.str, r.len);
    case REDIS_REPLY_INTEGER:
      return absl::StrFormat("%d", r.integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ERROR:
      return absl::StrFormat("ERR: %s", std::string(r.str, r.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < r.elements; ++i) parts.push_back(Render(*r.element[i]));
      return absl::StrJoin(parts, "\n");
    }
  }
  return "(unknown reply)";
}

}  // namespace

RedisServer::RedisServer(std::string password) : password_(std::move(password)) {}

RedisServer::~RedisServer() {
  (void)Stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

RedisServer& RedisServer::Shared() {
  static RedisServer* const server = [] {
    // Destroyed at exit (a function-local static), which stops the child process.
    static RedisServer instance;
    if (absl::Status s = instance.Start(); !s.ok()) {
      std::fprintf(stderr, "cannot start redis-server: %s\n", std::string(s.message()).c_str());
      std::abort();
    }
    return &instance;
  }();
  return *server;
}

absl::Status RedisServer::Start() {
  if (running()) return absl::OkStatus();
  if (dir_.empty()) {
    char pattern[] = "/tmp/resque-test-redis-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      return absl::InternalError(absl::StrFormat("mkdtemp: %s", strerror(errno)));
    }
    dir_ = pattern;
  }
  if (port_ != 0) return StartOnce(port_);
  absl::Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    last = StartOnce(*port);
    if (last.ok()) {
      port_ = *port;
      return last;
    }
  }
  return last;
}

absl::Status RedisServer::StartOnce(int port) {
  std::vector<std::string> args = {"redis-server"};
  const std::vector<std::pair<std::string, std::string>> config = {
      {"port", absl::StrFormat("%d", port)},
      {"bind", "127.0.0.1"},
      {"save", ""},  // no persistence: a test server starts empty
      {"appendonly", appendonly_ ? "yes" : "no"},
      {"daemonize", "no"},
      {"dir", dir_},
      {"loglevel", "warning"},
      {"logfile", dir_ + "/redis.log"},
      {"unixsocket", socket_path()},
      {"unixsocketperm", "700"},
  };
  for (const auto& [name, value] : config) {
    args.push_back("--" + name);
    args.push_back(value);
  }
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
    args.push_back("--masterauth");  // for a replica of a server with the same password
    args.push_back(password_);
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  ExecOptions options;
  options.argv = args;
  options.stdout_to = Output::Discard();
  options.stderr_to = Output::Discard();
  options.die_with_parent = true;  // a crashed test leaves no server behind
  absl::StatusOr<std::unique_ptr<ChildProcess>> server = ChildProcess::Exec(options);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);

  const absl::Time deadline = absl::Now() + kStartDeadline;
  while (absl::Now() < deadline) {
    if (absl::StatusOr<ChildExit> exit = server_->Wait(absl::Now()); exit.ok()) {
      server_ = nullptr;
      return absl::UnavailableError(absl::StrFormat(
          "redis-server on port %d %s at start; see %s/redis.log", port, exit->Describe(), dir_));
    }
    timeval tv = {0, 200000};
    ContextPtr c(redisConnectWithTimeout("127.0.0.1", port, tv));
    if (c != nullptr && c->err == 0) {
      ReplyPtr reply(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
      // PONG, or NOAUTH: it is up either way. LOADING (an append-only file read back after a
      // restart): not yet, every command would be refused.
      const bool loading = reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
                           std::string_view(reply->str, reply->len).starts_with("LOADING");
      if (reply != nullptr && !loading) return absl::OkStatus();
    }
    absl::SleepFor(kPollStep);
  }
  (void)Stop();
  return absl::DeadlineExceededError(
      absl::StrFormat("redis-server on port %d did not answer PING within %s", port,
                      absl::FormatDuration(kStartDeadline)));
}

absl::Status RedisServer::Stop() {
  if (!running()) return absl::OkStatus();
  std::unique_ptr<ChildProcess> server = std::move(server_);
  (void)server->Signal(SIGCONT);  // a paused server cannot act on SIGTERM
  (void)server->Signal(SIGTERM);
  if (server->Wait(absl::Now() + kStopDeadline).ok()) return absl::OkStatus();
  server->Terminate();
  return absl::DeadlineExceededError("redis-server ignored SIGTERM; killed");
}

absl::Status RedisServer::Kill() {
  if (!running()) return absl::OkStatus();
  std::unique_ptr<ChildProcess> server = std::move(server_);
  (void)server->Signal(SIGKILL);
  if (server->Wait(absl::Now() + kStopDeadline).ok()) return absl::OkStatus();
  server->Terminate();
  return absl::DeadlineExceededError("redis-server outlived SIGKILL");
}

absl::Status RedisServer::Pause() {
  if (!running() || !server_->Signal(SIGSTOP).ok()) {
    return absl::FailedPreconditionError("not running");
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Resume() {
  if (!running() || !server_->Signal(SIGCONT).ok()) {
    return absl::FailedPreconditionError("not running");
  }
  return absl::OkStatus();
}

resque::redis::RedisOptions RedisServer::Options() const {
  resque::redis::RedisOptions options;
  options.host = "127.0.0.1";
  options.port = port_;
  options.password = password_;
  return options;
}

absl::StatusOr<std::string> RedisServer::Command(const std::vector<std::string>& args) const {
  timeval tv = {5, 0};
  ContextPtr c(redisConnectWithTimeout("127.0.0.1", port_, tv));
  if (c == nullptr || c->err != 0) {
    return absl::UnavailableError(absl::StrFormat("cannot connect to redis-server on port %d: %s",
                                                  port_, c ? c->errstr : "no memory"));
  }
  redisSetTimeout(c.get(), tv);
  auto run = [&c](const std::vector<std::string>& words) -> ReplyPtr {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
  };
  if (!password_.empty()) {
    ReplyPtr auth = run({"AUTH", password_});
    if (auth == nullptr || auth->type == REDIS_REPLY_ERROR) {
      return absl::UnauthenticatedError("AUTH refused by the test server");
    }
  }
  ReplyPtr reply = run(args);
  if (reply == nullptr) {
    return absl::UnavailableError(absl::StrFormat("redis-server on port %d: %s", port_, c->errstr));
  }
  return Render(*reply);
}

absl::Status RedisServer::Flush() {
  absl::StatusOr<std::string> r = Command({"FLUSHALL"});
  if (!r.ok()) return r.status();
  if (*r != "OK") return absl::InternalError(absl::StrFormat("FLUSHALL: %s", *r));
  return absl::OkStatus();
}

absl::Status RedisServer::AdvanceTime(absl::Duration d) {
  // One script on the server: every key with a TTL gets it lowered or is deleted. The test
  // databases are small, so KEYS is fine here.
  static constexpr char kScript[] = R"lua(
local d = tonumber(ARGV[1])
for _, key in ipairs(redis.call('KEYS', '*')) do
  local pttl = redis.call('PTTL', key)
  if pttl > 0 then
    if pttl - d <= 0 then redis.call('DEL', key) else redis.call('PEXPIRE', key, pttl - d) end
  end
end
return 0
)lua";
  absl::StatusOr<std::string> r =
      Command({"EVAL", kScript, "0", absl::StrFormat("%d", absl::ToInt64Milliseconds(d))});
  if (!r.ok()) return r.status();
  if (*r != "0") return absl::InternalError(absl::StrFormat("AdvanceTime: %s", *r));
  return absl::OkStatus();
}

}  // namespace resque::testing
