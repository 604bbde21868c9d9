// `resque demo`: php-resque's walkthrough in one process. Enqueues a tracked PHP_Job, watches
// its status go 1 -> 2 -> 4 while a worker thread performs it. Memory backend unless --redis.
#include <cstdio>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "core/queue.h"
#include "core/status.h"
#include "core/worker.h"

namespace resque::cli {
namespace {

// The seed's job. It holds on until the demo has shown it running, so status 2 is always seen;
// the demo shows it after the job's "Hello!" (the status is "running" a moment before Perform
// prints), so the walkthrough reads in the same order every time.
class PhpJob : public Job {
 public:
  PhpJob(absl::Notification* said_hello, absl::Notification* shown_running)
      : said_hello_(said_hello), shown_running_(shown_running) {}
  absl::Status Perform(const JobContext&) override {
    std::printf("Hello!\n");
    std::fflush(stdout);
    if (!said_hello_->HasBeenNotified()) said_hello_->Notify();
    if (!shown_running_->WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::DeadlineExceededError("the demo never saw the job running");
    }
    return absl::OkStatus();
  }

 private:
  absl::Notification* said_hello_;
  absl::Notification* shown_running_;
};

// Polls until the job reaches `state` (or a later one), with a deadline.
absl::StatusOr<JobStatus> AwaitState(StatusTracker& tracker, const std::string& id,
                                     JobState state) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    absl::StatusOr<JobStatus> status = tracker.Get(id);
    if (!status.ok()) return status.status();
    if (static_cast<int>(status->state) >= static_cast<int>(state)) return status;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrFormat("job %s did not reach status %d in 10 s", id, static_cast<int>(state)));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

int RunDemo(GlobalOptions global, const std::string& url) {
  if (!url.empty()) global.redis = url;
  absl::StatusOr<std::unique_ptr<Backend>> backend = Open(global, "memory://");
  if (!backend.ok()) return Fail(backend.status());
  const std::string queue_name = "default";
  Queue queue(**backend);
  StatusTracker tracker(**backend);

  absl::Notification said_hello;
  absl::Notification shown_running;
  JobRegistry registry;
  (void)registry.Register("PHP_Job",
                          [&] { return std::make_unique<PhpJob>(&said_hello, &shown_running); });

  const std::string args =
      absl::StrFormat(R"({"time":%d,"array":{"test":"test"}})", absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<std::string> id =
      queue.Enqueue(queue_name, "PHP_Job", args, {.track = true, .id = {}});
  if (!id.ok()) return Fail(id.status());
  std::printf("Queued job %s\n", id->c_str());

  absl::StatusOr<JobStatus> status = tracker.Get(*id);
  if (!status.ok()) return Fail(status.status());
  std::printf("Status of %s is: %d\n", id->c_str(), static_cast<int>(status->state));
  std::fflush(stdout);

  WorkerOptions options;
  options.queues = {queue_name};
  options.blocking = true;
  options.interval = absl::Milliseconds(100);
  options.burst = true;
  options.log = StderrLogSink(global.log_level());
  Worker worker(**backend, registry, options);
  absl::Status worker_result;
  std::thread worker_thread([&] { worker_result = worker.Run(); });

  int code = 0;
  status = AwaitState(tracker, *id, JobState::kRunning);
  if (status.ok()) (void)said_hello.WaitForNotificationWithTimeout(absl::Seconds(10));
  if (status.ok()) {
    std::printf("Status of %s is: %d\n", id->c_str(), static_cast<int>(status->state));
    std::fflush(stdout);
  } else {
    code = Fail(status.status());
  }
  shown_running.Notify();
  if (code == 0) {
    status = AwaitState(tracker, *id, JobState::kFailed);
    if (status.ok()) {
      std::printf("Status of %s is: %d\n", id->c_str(), static_cast<int>(status->state));
      if (status->state != JobState::kComplete) code = 1;
    } else {
      code = Fail(status.status());
    }
  }
  worker.RequestStop(StopMode::kGraceful);
  worker_thread.join();
  if (!worker_result.ok() && code == 0) code = Fail(worker_result);
  return code;
}

}  // namespace

void AddDemo(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto url = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("demo", "The php-resque walkthrough (memory backend unless --redis)");
  // Its own --redis, for its own default; `resque --redis URL demo` works as well.
  cmd->add_option("--redis", *url, "Backend URL, as resque --redis")->default_str("memory://");
  cmd->callback([&global, url, exit_code] { *exit_code = RunDemo(global, *url); });
}

}  // namespace resque::cli
