#include "cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backends/backend_factory.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/names.h"
#include "core/process_title.h"

namespace resque::cli {

absl::StatusOr<std::unique_ptr<Backend>> Open(const GlobalOptions& global,
                                              const std::string& fallback_url) {
  std::string url = global.redis;
  if (url.empty()) {
    const char* env = std::getenv("REDIS_BACKEND");
    url = env != nullptr && *env != '\0' ? env : fallback_url;
  }
  std::string ns = global.ns;  // php-resque users write PREFIX as "resque:" too
  if (!ns.empty() && ns.back() == ':') ns.pop_back();
  // The option's check admits these two names only.
  const FailureLayout failures = global.failure_backend == "redis_multi_queue"
                                     ? FailureLayout::kPerQueue
                                     : FailureLayout::kOneList;
  return OpenBackend(url, {.ns = ns, .db = global.db, .clock = RealClock(), .failures = failures});
}

int WithBackend(const GlobalOptions& global, const std::function<int(Backend&)>& body) {
  absl::StatusOr<std::unique_ptr<Backend>> backend = Open(global, "redis://127.0.0.1:6379");
  if (!backend.ok()) return Fail(backend.status());
  return body(**backend);
}

int Fail(const absl::Status& status, int code) {
  std::fprintf(stderr, "resque: %.*s\n", static_cast<int>(status.message().size()),
               status.message().data());
  return code;
}

int Main(int argc, char** argv, JobRegistry& registry) {
  // Before anything keeps a pointer into environ: `work` writes its title over argv and environ.
  InitProcessTitle(argc, argv);
  CLI::App app{"resque: a background-job engine that speaks the Resque protocol", "resque"};
  app.require_subcommand(1);
  // A parse error is one line like every other error, and a URL in it (a --redis value put
  // where an argument was expected) shows without its password.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    std::vector<std::string> words = absl::StrSplit(e.what(), absl::ByAnyChar(" \n"));
    for (std::string& word : words) {
      if (word.find('@') != std::string::npos) word = MaskedBackendUrl(word);
    }
    return absl::StrCat("resque: ", absl::StrJoin(words, " "), "\n");
  });
  GlobalOptions global;
  app.add_option("--redis", global.redis,
                 "Backend URL: redis://[:password@]host[:port][/db], unix:///path, host:port, "
                 "memory://")
      ->envname("REDIS_BACKEND");
  app.add_option("--namespace", global.ns, "Key namespace (php-resque's PREFIX)")
      ->envname("PREFIX")
      ->capture_default_str();
  app.add_option("--db", global.db, "Redis database, overriding the URL's")
      ->envname("REDIS_BACKEND_DB")
      ->check(WholeNumber(0, kMaxBackendDb));
  app.add_option("--failure-backend", global.failure_backend,
                 "Where failure records go, as Ruby resque's FAILURE_BACKEND: redis (the list "
                 "<ns>:failed) or redis_multi_queue (one list <ns>:<queue>_failed per queue)")
      ->envname("FAILURE_BACKEND")
      ->check(CLI::IsMember({"redis", "redis_multi_queue"}))
      ->capture_default_str();
  app.add_flag("-v,--verbose", global.verbosity, "More logging (-vv: debug)");
  CheckNamespaceOnceParsed(app, global);

  // php-resque's VERBOSE / VVERBOSE.
  if (const char* v = std::getenv("VVERBOSE"); v != nullptr && *v != '\0') global.verbosity = 2;
  if (const char* v = std::getenv("VERBOSE"); v != nullptr && *v != '\0' && global.verbosity < 1) {
    global.verbosity = 1;
  }

  int exit_code = 0;
  AddWork(app, global, registry, &exit_code);
  AddEnqueue(app, global, &exit_code);
  AddStatus(app, global, &exit_code);
  AddInspect(app, global, &exit_code);
  AddFailed(app, global, &exit_code);
  AddDemo(app, global, &exit_code);
  AddPause(app, global, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace resque::cli
