// `resque enqueue QUEUE CLASS [ARGS_JSON | - | @FILE] [--track | --ruby-form]`: prints the new
// job's id alone on stdout (nothing for --ruby-form, whose payload has no id). `-` reads the args
// from stdin and `@FILE` from a file, for args past the kernel's limit on a command line.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/names.h"
#include "core/names.h"
#include "core/queue.h"

namespace resque::cli {
namespace {

// Redis's largest value (proto-max-bulk-len): args past it could never be pushed.
constexpr size_t kMaxArgsBytes = size_t{512} << 20;

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

}  // namespace

void AddEnqueue(CLI::App& app, GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string queue, class_name, args;
    bool track = false;
    bool ruby_form = false;
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
  cmd->callback([&global, args, exit_code] {
    // Before Redis is reached: a usage error, whether Redis is up or not.
    for (const absl::Status& s : {CheckQueueName(args->queue), CheckClassName(args->class_name)}) {
      if (!s.ok()) {
        *exit_code = Fail(s, kUsageExit);
        return;
      }
    }
    absl::StatusOr<std::string> json = ArgsJson(args->args);
    if (!json.ok()) {
      *exit_code = Fail(json.status());
      return;
    }
    *exit_code = WithBackend(global, [&](Backend& backend) {
      Queue queue(backend);
      absl::StatusOr<std::string> id =
          queue.Enqueue(args->queue, args->class_name, *json,
                        {.track = args->track, .id = {}, .ruby_form = args->ruby_form});
      if (!id.ok()) return Fail(id.status());
      if (!id->empty()) std::printf("%s\n", id->c_str());
      return 0;
    });
  });
}

}  // namespace resque::cli
