#include "cli/cli.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "backends/backend_factory.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/names.h"
#include "core/process_title.h"

#ifndef RESQUE_VERSION
#error "RESQUE_VERSION (the project's version) must be defined by the build"
#endif

namespace resque::cli {
namespace {

constexpr char kDefaultRedis[] = "redis://127.0.0.1:6379";

// Help in our words: "INT:1 to 256" from CLI11 becomes " INT (default 1)" in the flag column
// and "(1 to 256)" after the description, and a default reads as one.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
    std::string out;
    if (opt->get_type_size() != 0) {
      const std::vector<std::string> type = TypeParts(opt);
      if (!type[0].empty()) absl::StrAppend(&out, " ", type[0]);
      if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
      if (!opt->get_default_str().empty()) {
        absl::StrAppend(&out, " (default ", opt->get_default_str(), ")");
      }
      if (opt->get_required()) out += " REQUIRED";
    }
    if (!opt->get_envname().empty()) absl::StrAppend(&out, " (Env:", opt->get_envname(), ")");
    for (const CLI::Option* other : opt->get_excludes()) {
      absl::StrAppend(&out, " (not with ", other->get_name(), ")");
    }
    return out;
  }

  std::string make_option_desc(const CLI::Option* opt) const override {
    std::vector<std::string> type = TypeParts(opt);
    type.erase(type.begin());
    if (type.empty()) return opt->get_description();
    return absl::StrCat(opt->get_description(), " (", absl::StrJoin(type, "; "), ")");
  }

 private:
  // The type's name, then each check's description ("1 to 256").
  static std::vector<std::string> TypeParts(const CLI::Option* opt) {
    return absl::StrSplit(opt->get_type_name(), ':');
  }
};

// The subcommand the parse got to, else nullptr.
const CLI::App* Selected(const CLI::App& app) {
  const std::vector<CLI::App*> subs = app.get_subcommands();
  return subs.empty() ? nullptr : subs.front();
}

// The first argument an ExtrasError names ("The following argument was not expected: x").
std::string FirstExtra(const std::string& what) {
  const size_t colon = what.find(": ");
  if (colon == std::string::npos) return "";
  return std::string(what.substr(colon + 2, what.find(' ', colon + 2) - colon - 2));
}

// CLI11's error as one line of ours: "<what> (see resque [CMD] --help)", CLI11's wording
// replaced where it is its own ("A subcommand is required", "1 required TEXT missing").
std::string UsageMessage(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* sub = Selected(app);
  const std::string command = sub != nullptr ? sub->get_name() : "";
  const std::string see =
      absl::StrCat(" (see resque ", command, command.empty() ? "" : " ", "--help)");
  // By code: CLI11 names some errors after the app ("resque") rather than their type.
  const auto kind = static_cast<CLI::ExitCodes>(e.get_exit_code());
  const std::string what = e.what();
  constexpr size_t npos = std::string::npos;
  if (kind == CLI::ExitCodes::RequiredError && absl::StartsWith(what, "A subcommand")) {
    const std::vector<std::string> left = app.remaining();
    if (left.empty()) return "a command is required" + see;
    if (absl::StartsWith(left[0], "-")) return absl::StrCat("unknown flag ", left[0], see);
    return absl::StrCat("unknown command '", left[0], "'", see);
  }
  if (kind == CLI::ExitCodes::ExtrasError) {
    const std::string extra = FirstExtra(what);
    const std::string of = command.empty() ? "" : " for " + command;
    if (absl::StartsWith(extra, "-")) return absl::StrCat("unknown flag ", extra, of, see);
    return absl::StrCat("unexpected argument '", extra, "'", of, see);
  }
  if (const size_t at = what.find(" not in {");
      kind == CLI::ExitCodes::ValidationError && at != npos) {
    // CLI::IsMember's "action: bogus not in {list,count}"
    const size_t colon = what.find(": ");
    const std::string choices = what.substr(at + 9, what.rfind('}') - at - 9);
    return absl::StrCat(what.substr(0, colon), ": \"", what.substr(colon + 2, at - colon - 2),
                        "\" is not one of the choices: want ",
                        absl::StrJoin(absl::StrSplit(choices, ','), ", "), see);
  }
  if (kind == CLI::ExitCodes::ArgumentMismatch) {
    // "--redis: 1 required TEXT missing", "Expected exactly 1 arguments to --x, got 0"
    std::string flag(what.substr(0, what.find(':')));
    if (absl::StrContains(flag, " ")) flag = what.substr(what.rfind(' ') + 1);
    return absl::StrCat(absl::StripSuffix(flag, ","), " needs a value", see);
  }
  if (kind == CLI::ExitCodes::ConversionError &&
      absl::StrContains(what, "too many inputs for a flag")) {
    return absl::StrCat(what.substr(0, what.find(':')), " takes no value", see);
  }
  if (kind == CLI::ExitCodes::ConversionError && absl::StrContains(what, "Should be true/false")) {
    return absl::StrCat(what.substr(0, what.find(':')),
                        ": want true/false, on/off, yes/no or a number", see);
  }
  if (const size_t at = what.find(" = "); kind == CLI::ExitCodes::ConversionError &&
                                          absl::StartsWith(what, "Could not convert: ") &&
                                          at != npos) {  // "Could not convert: --blocking = maybe"
    return absl::StrCat(what.substr(19, at - 19), ": \"", what.substr(at + 3),
                        "\" is not a value it takes", see);
  }
  if (kind == CLI::ExitCodes::ExcludesError) {
    std::vector<std::string> flags = absl::StrSplit(what, " excludes ");
    if (flags.size() == 2)
      return absl::StrCat(flags[0], " and ", flags[1], " exclude each other", see);
  }
  std::string line = what;
  if (!line.empty()) line[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[0])));
  return line + see;
}

// One line on stderr, with any URL in it (a --redis value put where an argument was expected)
// shown without its password.
int UsageError(const std::string& message) {
  std::vector<std::string> words = absl::StrSplit(message, absl::ByAnyChar(" \n"));
  for (std::string& word : words) {
    if (word.find('@') != std::string::npos) word = MaskedBackendUrl(word);
  }
  std::fprintf(stderr, "resque: %s\n", absl::StrJoin(words, " ").c_str());
  return kUsageExit;
}

bool PhpTrue(const char* value) {  // php's !empty(getenv(...)): set, and neither "" nor "0"
  return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

// `resque help [COMMAND]` and `resque version`.
void AddHelpAndVersion(CLI::App& app, int* exit_code) {
  auto topic = std::make_shared<std::string>();
  CLI::App* help = app.add_subcommand("help", "Print the help of resque or of one command");
  help->add_option("command", *topic, "The command (none: resque's own help)");
  help->callback([&app, topic, exit_code] {
    const CLI::App* of = &app;
    std::string name = "resque";
    if (!topic->empty()) {
      of = nullptr;
      for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_name() == *topic) of = sub;
      }
      if (of == nullptr) {
        *exit_code = UsageError(absl::StrCat("unknown command '", *topic, "' (see resque --help)"));
        return;
      }
      name = "resque " + *topic;
    }
    std::fputs(app.get_formatter()->make_help(of, name, CLI::AppFormatMode::Normal).c_str(),
               stdout);
    *exit_code = 0;
  });
  app.add_subcommand("version", "Print resque's version")->callback([exit_code] {
    std::printf("resque %s\n", RESQUE_VERSION);
    *exit_code = 0;
  });
}

// Each command's exit codes, in its --help footer; docs/cli.md lists the same (a test compares).
void AddExitCodeFooters(CLI::App& app) {
  const std::string usage =
      absl::StrCat("  ", kUsageExit, "  usage error: an unknown command or flag, a bad value\n");
  const std::string common = absl::StrCat("  1  error: Redis unreachable, a Redis error\n", usage);
  auto footer = [&](const char* command, const std::string& codes) {
    app.get_subcommand(command)->footer("Exit codes:\n" + codes);
  };
  app.footer(
      absl::StrCat("Global flags may come before or after the command (resque work --redis URL).\n"
                   "Exit codes:\n  0  success\n",
                   common, "  other codes: see each command's --help"));
  footer("work",
         "  0  stopped: a signal, --burst, --max-jobs\n"
         "  1  error: cannot start (no jobs, pid file held, --load), Redis lost\n" +
             usage);
  footer("enqueue",
         "  0  pushed (the id printed)\n"
         "  1  error: args not a JSON array or object, an unreadable @FILE, Redis\n" +
             usage);
  footer("status",
         absl::StrCat("  0  complete; waiting or running (without --watch)\n", common, "  ",
                      kStatusFailedExit, "  the job failed\n", "  ", kStatusUnknownExit,
                      "  unknown id: never tracked, or expired 24 h after it ended\n", "  ",
                      kStatusTimeoutExit, "  --watch: --timeout reached\n"));
  for (const char* command : {"queues", "workers", "stats", "pause", "resume"}) {
    footer(command, "  0  success\n" + common);
  }
  footer("failed",
         "  0  every record dealt with\n"
         "  1  error: Redis, retry or remove refused\n" +
             usage +
             "  3  done, but records that do not decode were skipped (named on "
             "stderr)\n");
  footer("scheduler", "  0  stopped by a signal; with --once, the turn done\n" + common);
  footer("delayed", "  0  success (list, count, or how many were removed or queued)\n" + common);
  footer("schedule",
         "  0  success (listed, stored, removed, loaded)\n"
         "  1  error: Redis, no such schedule to remove, an unreadable file\n" +
             usage);
  footer("web",
         "  0  stopped by a signal\n"
         "  1  error: Redis unreachable, the address cannot be bound\n  2  usage error: a bad "
         "flag, --listen beyond loopback without credentials, bad credentials\n");
  footer("top", "  0  done (--once, --iterations) or stopped by a signal\n" + common);
  footer("demo", "  0  the job completed\n  1  error, or the job did not complete\n" + usage);
  footer("help", "  0  help printed\n" + usage);
  footer("version", "  0  version printed\n" + usage);
}

}  // namespace

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
  absl::StatusOr<std::unique_ptr<Backend>> backend = Open(global, kDefaultRedis);
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
  // Inherited by the subcommands added below: our help layout, and global flags after the
  // command (`resque status ID --redis URL`) passed up to the app.
  app.formatter(std::make_shared<HelpFormatter>());
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", absl::StrCat("resque ", RESQUE_VERSION),
                       "Print resque's version and exit");
  GlobalOptions global;
  app.add_option("--redis", global.redis,
                 "Backend URL: redis://[:password@]host[:port][/db], unix:///path, host:port, "
                 "memory://")
      ->envname("REDIS_BACKEND")
      ->default_str(kDefaultRedis);
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
      ->check(OneOf({"redis", "redis_multi_queue"}))
      ->capture_default_str();
  CLI::Option* verbose =
      app.add_flag("-v,--verbose", global.verbosity,
                   "More logging: -v info, -vv debug. Variables as php-resque's, set and neither "
                   "empty nor 0: VERBOSE or LOGGING as -v, VVERBOSE as -vv")
          ->option_text("(Env:VERBOSE, LOGGING, VVERBOSE)");

  int exit_code = 0;
  AddWork(app, global, registry, &exit_code);
  AddEnqueue(app, global, &exit_code);
  AddStatus(app, global, &exit_code);
  AddInspect(app, global, &exit_code);
  AddFailed(app, global, &exit_code);
  AddDemo(app, global, &exit_code);
  AddPause(app, global, &exit_code);
  AddScheduler(app, global, &exit_code);  // scheduler, delayed
  AddWeb(app, global, &exit_code);        // web, top
  AddHelpAndVersion(app, &exit_code);
  AddExitCodeFooters(app);
  // php-resque's VERBOSE, LOGGING and VVERBOSE, read once the flags are known and before any
  // command runs (the callbacks run at the end of the parse): a -v beats them.
  app.parse_complete_callback([&global, verbose] {
    CheckNamespaceParsed(global);
    if (verbose->count() > 0) return;
    if (PhpTrue(std::getenv("VVERBOSE"))) {
      global.verbosity = 2;
    } else if (PhpTrue(std::getenv("VERBOSE")) || PhpTrue(std::getenv("LOGGING"))) {
      global.verbosity = 1;
    }
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help: printed on stdout
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a check after the parse, which printed its own line
  } catch (const CLI::ParseError& e) {
    return UsageError(UsageMessage(app, e));
  }
  return exit_code;
}

}  // namespace resque::cli
