#include "tests/reliability/bad_input.h"

#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/json.h"

namespace resque::testing {
namespace {

class RecordArgs : public Job {
 public:
  explicit RecordArgs(std::function<void(std::string_view)> record) : record_(std::move(record)) {}
  absl::Status Perform(const JobContext& ctx) override {
    record_(ctx.args());
    return absl::OkStatus();
  }

 private:
  std::function<void(std::string_view)> record_;
};

}  // namespace

std::string BadPayloadName(const ::testing::TestParamInfo<BadPayloadParam>& info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
}

std::string BackendName(const ::testing::TestParamInfo<BackendMaker>& info) {
  return info.param.name;
}

WorkerHarness::WorkerHarness(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {
  const absl::Status registered = registry_.Register("Good", [this] {
    return std::make_unique<RecordArgs>([this](std::string_view args) {
      absl::MutexLock lock(&mu_);
      performed_.emplace_back(args);
    });
  });
  EXPECT_TRUE(registered.ok()) << registered;
}

std::string WorkerHarness::GoodJob(std::string_view arg) {
  return absl::StrFormat(R"({"class":"Good","args":[%s]})", json::Quote(arg));
}

WorkerOptions WorkerHarness::Options(std::vector<std::string> queues) {
  WorkerOptions options;
  options.queues = std::move(queues);
  options.interval = absl::Milliseconds(10);
  // Another host than this one: the worker must not prune the workers of other tests.
  options.hostname = "bad-input-test";
  options.log = [this](LogLevel, std::string_view message) {
    absl::MutexLock lock(&mu_);
    log_.emplace_back(message);
  };
  return options;
}

std::string WorkerHarness::RunBurst(std::vector<std::string> queues) {
  WorkerOptions options = Options(std::move(queues));
  options.burst = true;
  Worker worker(*backend_, registry_, std::move(options));
  absl::Notification done;
  absl::Status result;
  std::thread runner([&] {
    result = worker.Run();
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(60))) {
    ADD_FAILURE() << "the burst worker still runs after 60 s";
    worker.RequestStop(StopMode::kImmediate);
  }
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
  return worker.worker_ids().front();
}

bool WorkerHarness::RunUntil(std::vector<std::string> queues, const std::function<bool()>& done,
                             absl::Duration deadline) {
  Worker worker(*backend_, registry_, Options(std::move(queues)));
  absl::Status result;
  std::thread runner([&] { result = worker.Run(); });
  const absl::Time end = absl::Now() + deadline;
  bool held = done();
  while (!held && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(5));
    held = done();
  }
  worker.RequestStop(StopMode::kGraceful);
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
  return held;
}

std::vector<std::string> WorkerHarness::Performed() const {
  absl::MutexLock lock(&mu_);
  return performed_;
}

std::vector<std::string> WorkerHarness::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

void BadPayload::SetUp() {
  std::unique_ptr<Backend> backend = std::get<0>(GetParam()).make();
  ASSERT_NE(backend, nullptr);
  harness_ = std::make_unique<WorkerHarness>(std::move(backend));
}

void BadInput::SetUp() {
  std::unique_ptr<Backend> backend = GetParam().make();
  ASSERT_NE(backend, nullptr);
  harness_ = std::make_unique<WorkerHarness>(std::move(backend));
}

}  // namespace resque::testing
