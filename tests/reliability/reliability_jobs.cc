// Jobs for the crash, outage and poison-job tests, loaded with `resque work --load`: they
// register themselves.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "core/job_registry.h"

namespace {

// Appends "<job id>\n" to $RESQUE_TEST_OUT in one write (O_APPEND: lines from several processes
// never interleave). The file shows every run of every job, duplicates included.
absl::Status NoteRun(const resque::JobContext& ctx) {
  const char* path = std::getenv("RESQUE_TEST_OUT");
  if (path == nullptr) return absl::FailedPreconditionError("RESQUE_TEST_OUT is not set");
  const std::string line = std::string(ctx.id()) + "\n";
  const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError("cannot open RESQUE_TEST_OUT");
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  if (!written) return absl::InternalError("cannot write RESQUE_TEST_OUT");
  return absl::OkStatus();
}

// Notes its run, then takes $RESQUE_TEST_JOB_MS milliseconds, so that a kill -9 often lands
// while jobs run.
class Tracked : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    if (absl::Status s = NoteRun(ctx); !s.ok()) return s;
    const char* ms = std::getenv("RESQUE_TEST_JOB_MS");
    if (ms != nullptr) absl::SleepFor(absl::Milliseconds(std::atoi(ms)));
    return absl::OkStatus();
  }
};

// Poison jobs: each notes its run, then takes its worker down with it, as a buggy job does.
class Segfault : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    if (absl::Status s = NoteRun(ctx); !s.ok()) return s;
    raise(SIGSEGV);
    return absl::InternalError("SIGSEGV did not end the process");
  }
};

class ExitThree : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    if (absl::Status s = NoteRun(ctx); !s.ok()) return s;
    std::exit(3);
  }
};

}  // namespace

RESQUE_REGISTER_JOB(Tracked, "Tracked");
RESQUE_REGISTER_JOB(Segfault, "Segfault");
RESQUE_REGISTER_JOB(ExitThree, "ExitThree");
