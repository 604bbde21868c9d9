// `resque enqueue QUEUE CLASS [ARGS_JSON] [--track | --ruby-form]`: prints the new job's id alone
// on stdout (nothing for --ruby-form, whose payload has no id).
#include <cstdio>

#include "cli/commands.h"
#include "cli/names.h"
#include "core/names.h"
#include "core/queue.h"

namespace resque::cli {

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
                  "does); none means []");
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
    *exit_code = WithBackend(global, [&](Backend& backend) {
      Queue queue(backend);
      absl::StatusOr<std::string> id =
          queue.Enqueue(args->queue, args->class_name, args->args,
                        {.track = args->track, .id = {}, .ruby_form = args->ruby_form});
      if (!id.ok()) return Fail(id.status());
      if (!id->empty()) std::printf("%s\n", id->c_str());
      return 0;
    });
  });
}

}  // namespace resque::cli
