// Jobs for the CLI tests, loaded with `resque work --load`: they register themselves.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "core/job_registry.h"

namespace {

// Appends its args to the file named by $RESQUE_TEST_OUT.
class Record : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    const char* path = std::getenv("RESQUE_TEST_OUT");
    if (path == nullptr) return absl::FailedPreconditionError("RESQUE_TEST_OUT is not set");
    std::ofstream(path, std::ios::app) << ctx.args() << "\n";
    return absl::OkStatus();
  }
};

// Writes its args to stdout, with no flush of its own.
class Print : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    std::printf("printed %s\n", std::string(ctx.args()).c_str());
    return absl::OkStatus();
  }
};

class Throw : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override {
    throw std::invalid_argument("bad things");
  }
};

class Crash : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override {
    std::raise(SIGSEGV);
    return absl::OkStatus();
  }
};

// Writes a line to stderr and is killed at once, as a worker killed -9 right after it wrote.
class LastWords : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override {
    static constexpr char kLine[] = "last words before the kill\n";
    (void)!write(STDERR_FILENO, kLine, sizeof(kLine) - 1);
    std::raise(SIGKILL);
    return absl::OkStatus();
  }
};

}  // namespace

RESQUE_REGISTER_JOB(LastWords, "LastWords");
RESQUE_REGISTER_JOB(Record, "Record");
RESQUE_REGISTER_JOB(Print, "Print");
RESQUE_REGISTER_JOB(Throw, "Throw");
RESQUE_REGISTER_JOB(Crash, "Crash");
