// The README's job library: `resque work --load ./libjobs.so` performs PHP_Job. Built out of tree
// against an installed resque by scripts/install_check.sh (CI), both with CMake (CMakeLists.txt
// here) and with one compiler line, so this example cannot rot.
#include <cstdio>

#include "core/job_registry.h"

class PhpJob : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    std::printf("Hello! args=%.*s\n", int(ctx.args().size()), ctx.args().data());
    return absl::OkStatus();  // an error status or an exception becomes a failure record
  }
};
RESQUE_REGISTER_JOB(PhpJob, "PHP_Job");
