// `resque enqueue QUEUE CLASS [ARGS_JSON] [--track]`: prints the new job's id alone on stdout.
#include <cstdio>

#include "cli/commands.h"
#include "core/queue.h"

namespace resque::cli {

void AddEnqueue(CLI::App& app, GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string queue, class_name, args;
    bool track = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("enqueue", "Push a job; prints its id");
  cmd->add_option("queue", args->queue, "Queue name")->required();
  cmd->add_option("class", args->class_name, "Job class name")->required();
  cmd->add_option("args", args->args,
                  "Arguments as JSON: an array (positional) or an object (wrapped as php-resque "
                  "does); none means []");
  cmd->add_flag("--track", args->track, "Track the job's status (resque status ID)");
  cmd->callback([&global, args, exit_code] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      Queue queue(backend);
      absl::StatusOr<std::string> id = queue.Enqueue(args->queue, args->class_name, args->args,
                                                     {.track = args->track, .id = {}});
      if (!id.ok()) return Fail(id.status());
      std::printf("%s\n", id->c_str());
      return 0;
    });
  });
}

}  // namespace resque::cli
