// Jobs whose one source runs in two places for TestingSameJob: compiled into the test binary,
// where the testing kit performs them, and into a module that `resque work --load` performs
// against Redis. They register themselves (RESQUE_REGISTER_JOB) and use only the job API.
#include <stdexcept>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/queue.h"
#include "simdjson.h"

namespace {

// The integer at `pointer` (e.g. "/0/order") in a job's args.
absl::StatusOr<int64_t> ArgInt(std::string_view args, std::string_view pointer) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string json(args);
  simdjson::ondemand::document doc;
  int64_t value = 0;
  if (parser.iterate(json).get(doc) != simdjson::SUCCESS ||
      doc.at_pointer(pointer).get_int64().get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrFormat("args need an integer at %s", pointer));
  }
  return value;
}

// Charge [{"order": N, "cents": C}]: charges an order, then has its receipt mailed (a tracked
// Receipt job on "mail"). Nothing to charge is an error.
class Charge : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    absl::StatusOr<int64_t> order = ArgInt(ctx.args(), "/0/order");
    if (!order.ok()) return order.status();
    absl::StatusOr<int64_t> cents = ArgInt(ctx.args(), "/0/cents");
    if (!cents.ok()) return cents.status();
    if (*cents <= 0) {
      return absl::InvalidArgumentError(absl::StrFormat("order %d: nothing to charge", *order));
    }
    resque::EnqueueOptions options;
    options.track = true;
    return ctx.queues()
        ->Enqueue("mail", "Receipt", absl::StrFormat(R"({"order":%d})", *order), options)
        .status();
  }
};

// Receipt [{"order": N}]: mails a receipt; the mailer throws on order 13.
class Receipt : public resque::Job {
 public:
  absl::Status Perform(const resque::JobContext& ctx) override {
    absl::StatusOr<int64_t> order = ArgInt(ctx.args(), "/0/order");
    if (!order.ok()) return order.status();
    if (*order == 13) throw std::runtime_error("mailer: unlucky order 13");
    return absl::OkStatus();
  }
};

}  // namespace

RESQUE_REGISTER_JOB(Charge, "Charge");
RESQUE_REGISTER_JOB(Receipt, "Receipt");
