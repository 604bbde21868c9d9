// A program that embeds the resque worker with its own jobs. Built and run by the tests
// (tests/cli), so this example cannot rot. Usage is the `resque` command's:
//   ./embedded_worker --redis redis://127.0.0.1:6379 work --queue mail --blocking
//   ./embedded_worker enqueue mail SendEmail '{"to":"a@example.com"}' --track
#include <cstdio>
#include <string_view>

#include "cli/cli.h"
#include "core/job.h"
#include "core/job_registry.h"

namespace {

class SendEmail : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    const std::string_view args = ctx.args();  // [{"to":"a@example.com"}]
    if (args.find("\"to\"") == std::string_view::npos) {
      return absl::InvalidArgumentError("SendEmail needs a \"to\"");  // a failure record
    }
    std::printf("sending email %.*s\n", static_cast<int>(args.size()), args.data());
    std::fflush(stdout);
    return absl::OkStatus();
  }
};

}  // namespace

int main(int argc, char** argv) {
  resque::JobRegistry registry;
  if (!registry.Register<SendEmail>("SendEmail").ok()) return 1;
  return resque::cli::Main(argc, argv, registry);
}
