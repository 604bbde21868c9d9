// `resque pause` / `resque resume`: sets and clears the fleet-wide pause flag
// (<ns>:pause-all-workers, Ruby resque 2.3+'s), which every worker of ours and Ruby's honours
// within one poll: no new job is taken while it is set, running jobs go on. One worker process
// alone pauses with SIGUSR2 and resumes with SIGCONT (see `resque work`).
#include <cstdio>

#include "cli/commands.h"

namespace resque::cli {
namespace {

void AddOne(CLI::App& app, GlobalOptions& global, int* exit_code, const char* name,
            const char* help, bool paused) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->callback([&global, exit_code, paused] {
    *exit_code = WithBackend(global, [&](Backend& backend) {
      if (absl::Status s = backend.PauseAllWorkers(paused); !s.ok()) return Fail(s);
      std::printf("%s\n", paused ? "all workers paused" : "all workers resumed");
      return 0;
    });
  });
}

}  // namespace

void AddPause(CLI::App& app, GlobalOptions& global, int* exit_code) {
  AddOne(app, global, exit_code, "pause",
         "Pause every worker (sets <ns>:pause-all-workers): no new jobs until resume", true);
  AddOne(app, global, exit_code, "resume", "Clear the fleet-wide pause set by `resque pause`",
         false);
}

}  // namespace resque::cli
