// Jobs for the crash and outage tests, loaded with `resque work --load`: they register
// themselves.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "core/job_registry.h"

namespace {

// Appends "<job id>\n" to $RESQUE_TEST_OUT in one write (O_APPEND: lines from several processes
// never interleave), then takes $RESQUE_TEST_JOB_MS milliseconds, so that a kill -9 often lands
// while jobs run. The file shows every run of every job, duplicates included.
class Tracked : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    const char* path = std::getenv("RESQUE_TEST_OUT");
    if (path == nullptr) return absl::FailedPreconditionError("RESQUE_TEST_OUT is not set");
    const std::string line = std::string(ctx.id()) + "\n";
    const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError("cannot open RESQUE_TEST_OUT");
    const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    close(fd);
    if (!written) return absl::InternalError("cannot write RESQUE_TEST_OUT");
    const char* ms = std::getenv("RESQUE_TEST_JOB_MS");
    if (ms != nullptr) absl::SleepFor(absl::Milliseconds(std::atoi(ms)));
    return absl::OkStatus();
  }
};

}  // namespace

RESQUE_REGISTER_JOB(Tracked, "Tracked");
