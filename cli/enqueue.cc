// `resque enqueue QUEUE CLASS [ARGS_JSON | - | @FILE] [--track | --ruby-form] [--at T | --in D]`:
// prints the new job's id alone on stdout (nothing for --ruby-form, whose payload has no id). `-`
// reads the args from stdin and `@FILE` from a file, for args past the kernel's limit on a command
// line.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/names.h"
#include "core/names.h"
#include "core/queue.h"

namespace resque::cli {
namespace {

// Redis's largest value (proto-max-bulk-len): args past it could never be pushed.
constexpr size_t kMaxArgsBytes = size_t{512} << 20;
constexpr double kYearSeconds = 365.0 * 24 * 3600;

// All of `file`, at most kMaxArgsBytes; `what` names it in errors.
absl::StatusOr<std::string> ReadAll(std::FILE* file, const std::string& what) {
  std::string text;
  char chunk[1 << 16];
  for (;;) {
    const size_t n = std::fread(chunk, 1, sizeof(chunk), file);
    text.append(chunk, n);
    if (text.size() > kMaxArgsBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: args larger than 512 MiB, the largest value Redis takes", what));
    }
    if (n < sizeof(chunk)) break;
  }
  if (std::ferror(file)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: cannot read: %s", what, std::strerror(errno)));
  }
  return text;
}

// The args JSON that ARGS_JSON names: itself, stdin for "-", a file's bytes for "@FILE". Neither
// form is JSON, so no args are taken for another.
absl::StatusOr<std::string> ArgsJson(const std::string& given) {
  if (given == "-") return ReadAll(stdin, "args from stdin");
  if (given.empty() || given[0] != '@') return given;
  const std::string path = given.substr(1);
  const std::string what = absl::StrFormat("args file %s", path);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrFormat("%s: cannot open: %s", what, std::strerror(errno)));
  }
  absl::StatusOr<std::string> text = ReadAll(file, what);
  std::fclose(file);
  return text;
}

// --at: unix seconds, or an RFC 3339 time with its offset.
absl::StatusOr<absl::Time> ParseWhen(const std::string& text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds >= 0) return absl::FromUnixSeconds(seconds);
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error) && t >= absl::UnixEpoch() &&
      t != absl::InfiniteFuture()) {
    return t;
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "--at %s: want unix seconds or an RFC 3339 time such as 2026-12-24T18:00:00Z", text));
}

// --in: seconds, or an Abseil duration (90s, 5m, 1h30m) with d for days; 0 to a year.
absl::StatusOr<absl::Time> DelayFromNow(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  bool ok = false;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
    ok = seconds >= 0 && seconds <= kYearSeconds;
    d = absl::Seconds(seconds);
  } else if (!text.empty() && text.back() == 'd' &&
             absl::SimpleAtod(text.substr(0, text.size() - 1), &seconds) &&
             std::isfinite(seconds)) {
    ok = seconds >= 0 && seconds <= 365;
    d = absl::Hours(24) * seconds;
  } else if (absl::ParseDuration(text, &d)) {
    ok = d >= absl::ZeroDuration() && d <= absl::Seconds(kYearSeconds);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--in %s: want a delay from 0 to a year: seconds, or 90s, 5m, 1h30m, 2d", text));
  }
  return absl::Now() + d;
}

}  // namespace

void AddEnqueue(CLI::App& app, GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string queue, class_name, args;
    bool track = false;
    bool ruby_form = false;
    std::string at, in;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("enqueue", "Push a job; prints its id");
  cmd->add_option("queue", args->queue, "Queue name")->required();
  cmd->add_option("class", args->class_name, "Job class name")->required();
  cmd->add_option("args", args->args,
                  "Arguments as JSON: an array (positional) or an object (wrapped as php-resque "
                  "does); none means []. - reads them from stdin, @FILE from FILE");
  CLI::Option* track =
      cmd->add_flag("--track", args->track, "Track the job's status (resque status ID)");
  cmd->add_flag("--ruby-form", args->ruby_form,
                "Write the payload as Ruby's Resque.enqueue does ({\"class\",\"args\"} in Ruby's "
                "JSON bytes, no id), so that Ruby's Resque.dequeue(klass, *args) can remove it")
      ->excludes(track);
  CLI::Option* at = cmd->add_option(
      "--at", args->at,
      "Delay the job until TIME: unix seconds or RFC 3339 (2026-12-24T18:00:00Z); a scheduler "
      "(resque scheduler, resque work --scheduler or a peer's) queues it then");
  cmd->add_option("--in", args->in,
                  "Delay the job by DURATION: seconds, or 90s, 5m, 1h30m, 2d (up to a year)")
      ->excludes(at);
  cmd->callback([&global, args, exit_code] {
    // Before Redis is reached: a usage error, whether Redis is up or not.
    for (const absl::Status& s : {CheckQueueName(args->queue), CheckClassName(args->class_name)}) {
      if (!s.ok()) {
        *exit_code = Fail(s, kUsageExit);
        return;
      }
    }
    std::optional<absl::Time> when;
    if (!args->at.empty() || !args->in.empty()) {
      if (args->ruby_form) {
        *exit_code = Fail(absl::InvalidArgumentError("--ruby-form cannot be delayed"), kUsageExit);
        return;
      }
      absl::StatusOr<absl::Time> t =
          args->at.empty() ? DelayFromNow(args->in) : ParseWhen(args->at);
      if (!t.ok()) {
        *exit_code = Fail(t.status(), kUsageExit);
        return;
      }
      when = *t;
    }
    absl::StatusOr<std::string> json = ArgsJson(args->args);
    if (!json.ok()) {
      *exit_code = Fail(json.status());
      return;
    }
    *exit_code = WithBackend(global, [&](Backend& backend) {
      Queue queue(backend);
      const EnqueueOptions options{.track = args->track, .id = {}, .ruby_form = args->ruby_form};
      absl::StatusOr<std::string> id =
          when.has_value() ? queue.EnqueueAt(*when, args->queue, args->class_name, *json, options)
                           : queue.Enqueue(args->queue, args->class_name, *json, options);
      if (!id.ok()) return Fail(id.status());
      if (!id->empty()) std::printf("%s\n", id->c_str());
      return 0;
    });
  });
}

}  // namespace resque::cli
