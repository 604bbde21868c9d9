// A second job library for the CLI tests: it registers "Record", as test_jobs.cc does, so that
// `resque work --load` of both must be refused (two libraries, one class).
#include "core/job_registry.h"

namespace {

class OtherRecord : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext&) override { return absl::OkStatus(); }
};

}  // namespace

RESQUE_REGISTER_JOB(OtherRecord, "Record");
