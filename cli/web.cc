// `resque web` (the dashboard, its JSON API, /metrics and /healthz: web/server.h) and `resque top`
// (the overview in a terminal, from the same Snapshot). Credentials come from a file or the
// environment, never argv, where `ps` would show them to every user of the host.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "backends/redis/redis_backend.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "core/absl_view.h"
#include "core/names.h"
#include "web/dashboard.h"
#include "web/server.h"

namespace resque::cli {
namespace {

struct Listen {
  std::string host;
  int port = 0;
};

// "127.0.0.1:5678", "[::1]:5678", "localhost:5678".
absl::StatusOr<Listen> ParseListen(std::string_view text) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(AbslView(text.substr(colon + 1)), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--listen wants HOST:PORT (127.0.0.1:5678, [::1]:5678), not \"%s\"", std::string(text)));
  }
  return Listen{.host = std::string(text.substr(0, colon)), .port = port};
}

// "user:password" from --auth-file or RESQUE_WEB_AUTH; empty when neither is given.
absl::StatusOr<std::string> ReadCredentials(const std::string& file) {
  std::string secret;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrFormat("cannot read --auth-file %s", file));
    std::stringstream text;
    text << in.rdbuf();
    secret = std::string(absl::StripAsciiWhitespace(text.str()));
    if (secret.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("--auth-file %s is empty", file));
    }
  } else if (const char* env = std::getenv("RESQUE_WEB_AUTH"); env != nullptr) {
    secret = env;
  }
  if (!secret.empty() && (secret.find(':') == std::string::npos || secret.front() == ':')) {
    return absl::InvalidArgumentError("credentials must be user:password");
  }
  return secret;
}

// Blocks the stop signals in this thread and in every thread it starts from now on, so that
// WaitForStop alone receives them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Waits up to `wait` for a stop signal; true when one came.
bool WaitForStop(const sigset_t& set, absl::Duration wait) {
  const timespec t = absl::ToTimespec(wait);
  return sigtimedwait(&set, nullptr, &t) > 0;
}

std::string BackendName(const GlobalOptions& global) {
  std::string url = global.redis;
  if (url.empty()) {
    const char* env = std::getenv("REDIS_BACKEND");
    url = env != nullptr && *env != '\0' ? env : "redis://127.0.0.1:6379";
  }
  return absl::StrFormat("%s (namespace %s)", redis::MaskedUrl(url), global.ns);
}

std::string Age(std::optional<double> seconds) {
  if (!seconds.has_value()) return "-";
  const double s = *seconds;
  if (s < 60) return absl::StrFormat("%.1fs", s);
  if (s < 3600) {
    const int whole = static_cast<int>(s);
    return absl::StrFormat("%dm%02ds", whole / 60, whole % 60);
  }
  return absl::StrFormat("%.1fh", s / 3600);
}

// One frame of `resque top`: `rate` is processed jobs per second since the last frame.
std::string TopFrame(const web::Snapshot& s, std::optional<double> rate, size_t max_queues) {
  const web::Totals& t = s.totals;
  std::string out = absl::StrFormat(
      "resque top  %s\n"
      "processed %d  failed %d  throughput %s  failed list %d  delayed %d\n"
      "workers %d: busy %d  idle %d  paused %d%s   pending %d in %d queues\n\n",
      absl::FormatTime("%H:%M:%S", s.now, absl::LocalTimeZone()), t.processed, t.failed,
      rate.has_value() ? absl::StrFormat("%.1f/s", *rate) : std::string("-"), t.failed_list,
      t.delayed, s.workers.size(), t.busy, t.idle, t.paused, t.all_paused ? "  (all paused)" : "",
      t.pending, s.queues.size());
  std::vector<const web::QueueView*> queues;
  for (const web::QueueView& q : s.queues) queues.push_back(&q);
  // The fullest first: what an operator watching a backlog wants on screen.
  std::stable_sort(queues.begin(), queues.end(),
                   [](const auto* a, const auto* b) { return a->size > b->size; });
  absl::StrAppendFormat(&out, "%-32s %10s %12s\n", "QUEUE", "SIZE", "LATENCY");
  for (size_t i = 0; i < queues.size() && i < max_queues; ++i) {
    absl::StrAppendFormat(&out, "%-32s %10d %12s\n", EscapeField(queues[i]->name).substr(0, 32),
                          queues[i]->size, Age(queues[i]->oldest_age));
  }
  if (queues.size() > max_queues) {
    absl::StrAppendFormat(&out, "... and %d more queues\n", queues.size() - max_queues);
  }
  out += "\n";
  absl::StrAppendFormat(&out, "%-40s %-7s %10s %s\n", "WORKER", "STATE", "RUNNING", "JOB");
  for (const web::WorkerView& w : s.workers) {
    absl::StrAppendFormat(&out, "%-40s %-7s %10s %s\n", EscapeField(w.id).substr(0, 40), w.state,
                          Age(w.running_for), w.job.has_value() ? EscapeJsonField(*w.job) : "");
  }
  return out;
}

void AddWebCommand(CLI::App& app, GlobalOptions& global, int* exit_code) {
  struct Flags {
    std::string listen = "127.0.0.1:5678";
    std::string auth_file;
    int refresh = 2;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "web", "Serve the dashboard, its JSON API, /metrics and /healthz until a signal stops it");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on; beyond loopback, credentials are required")
      ->default_str("127.0.0.1:5678");
  cmd->add_option("--auth-file", flags->auth_file,
                  "File holding user:password for HTTP basic auth (or set RESQUE_WEB_AUTH)");
  cmd->add_option("--refresh", flags->refresh, "Seconds between the pages' refreshes")
      ->check(WholeNumber(1, 3600))
      ->default_str("2");
  cmd->callback([&global, exit_code, flags] {
    absl::StatusOr<Listen> listen = ParseListen(flags->listen);
    if (!listen.ok()) {
      *exit_code = Fail(listen.status(), kUsageExit);
      return;
    }
    absl::StatusOr<std::string> credentials = ReadCredentials(flags->auth_file);
    if (!credentials.ok()) {
      *exit_code = Fail(credentials.status(), kUsageExit);
      return;
    }
    if (credentials->empty() && !web::IsLoopbackHost(listen->host)) {
      *exit_code = Fail(absl::InvalidArgumentError(absl::StrFormat(
                            "--listen %s is beyond loopback: credentials are required (set "
                            "RESQUE_WEB_AUTH=user:password or --auth-file FILE)",
                            flags->listen)),
                        kUsageExit);
      return;
    }
    const sigset_t set = BlockStopSignals();
    *exit_code = WithBackend(global, [&](Backend& backend) {
      web::WebServer server(backend, {.host = listen->host,
                                      .port = listen->port,
                                      .credentials = *credentials,
                                      .backend_name = BackendName(global),
                                      .refresh_seconds = flags->refresh});
      if (absl::Status s = server.Start(); !s.ok()) {
        return Fail(s, absl::IsInvalidArgument(s) ? kUsageExit : 1);
      }
      const bool v6 = listen->host.find(':') != std::string::npos && listen->host.front() != '[';
      std::printf("resque web: http://%s%s%s:%d/\n", v6 ? "[" : "", listen->host.c_str(),
                  v6 ? "]" : "", server.port());
      std::fflush(stdout);
      while (!WaitForStop(set, absl::Seconds(1))) {
      }
      server.Stop();
      return 0;
    });
  });
}

void AddTopCommand(CLI::App& app, GlobalOptions& global, int* exit_code) {
  struct Flags {
    double interval = 2;
    bool once = false;
    int iterations = 0;
    int queues = 20;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "top", "Show throughput, workers, queue sizes and latency, refreshing until Ctrl-C");
  cmd->add_option("--interval", flags->interval, "Seconds between refreshes")
      ->check(Seconds(0.1, 3600))
      ->default_str("2");
  cmd->add_flag("--once", flags->once, "Print one frame and exit (no screen clearing)");
  cmd->add_option("--iterations", flags->iterations, "Exit after this many frames (0: never)")
      ->check(WholeNumber(0, 1000000));
  cmd->add_option("--queues", flags->queues, "The most queues shown, fullest first")
      ->check(WholeNumber(1, 100000))
      ->default_str("20");
  cmd->callback([&global, exit_code, flags] {
    const sigset_t set = BlockStopSignals();
    *exit_code = WithBackend(global, [&](Backend& backend) {
      const bool tty = isatty(STDOUT_FILENO) == 1 && !flags->once;
      std::optional<web::Snapshot> last;
      for (int frame = 0;; ++frame) {
        absl::StatusOr<web::Snapshot> s = web::TakeSnapshot(backend, absl::Now());
        if (!s.ok()) return Fail(s.status());
        std::optional<double> rate;
        if (last.has_value()) {
          const double dt = absl::ToDoubleSeconds(s->now - last->now);
          if (dt > 0) {
            rate = std::max<double>(0, s->totals.processed - last->totals.processed) / dt;
          }
        }
        const std::string text = TopFrame(*s, rate, static_cast<size_t>(flags->queues));
        // Home and clear on a terminal; frames one after another into a pipe or file.
        std::fputs(tty ? absl::StrCat("\x1b[H\x1b[2J", text).c_str() : text.c_str(), stdout);
        std::fflush(stdout);
        last = std::move(*s);
        if (flags->once || (flags->iterations > 0 && frame + 1 >= flags->iterations)) return 0;
        if (WaitForStop(set, absl::Seconds(flags->interval))) return 0;
        if (!tty) std::fputs("\n", stdout);
      }
    });
  });
}

}  // namespace

void AddWeb(CLI::App& app, GlobalOptions& global, int* exit_code) {
  AddWebCommand(app, global, exit_code);
  AddTopCommand(app, global, exit_code);
}

}  // namespace resque::cli
