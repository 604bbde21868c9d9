// Helpers for the worker's tests: the backends they run on, jobs made of lambdas, a thread-safe
// journal of what jobs did, and Worker::Run() on a thread with a deadline. Every wait here is on
// a condition with a deadline; none sleeps to let things happen.
#ifndef RESQUE_TESTS_WORKER_WORKER_TESTING_H_
#define RESQUE_TESTS_WORKER_WORKER_TESTING_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/worker.h"
#include "gtest/gtest.h"

namespace resque::testing {

// Generous: CI under sanitizers is slow. Only a failing test waits this long.
inline constexpr absl::Duration kDeadline = absl::Seconds(60);

// A fresh, empty backend for one test, with the clock the worker dates things with. On the
// memory backend the same clock decides when statuses expire.
class WorkerBackend {
 public:
  virtual ~WorkerBackend() = default;
  virtual Backend& backend() = 0;
  // Makes `d` pass for everything that expires, and for clock().
  virtual void AdvanceTime(absl::Duration d) = 0;
  ManualClock& clock() { return clock_; }

 private:
  ManualClock clock_;
};

struct WorkerBackendFactory {
  std::string name;
  std::function<std::unique_ptr<WorkerBackend>()> make;
};

// gtest names the parameter in failure messages by this, rather than by its bytes.
inline void PrintTo(const WorkerBackendFactory& factory, std::ostream* os) { *os << factory.name; }

// The backends this test binary runs the worker tests on: defined once per binary, by
// worker_<backend>_test.cc.
std::vector<WorkerBackendFactory> WorkerBackends();

inline std::string WorkerBackendName(const ::testing::TestParamInfo<WorkerBackendFactory>& info) {
  return info.param.name;
}

// A job made of functions; the ones not given do what Job's defaults do.
class FnJob : public Job {
 public:
  using Fn = std::function<absl::Status(const JobContext&)>;

  explicit FnJob(Fn perform, Fn set_up = nullptr, std::function<void()> tear_down = nullptr)
      : perform_(std::move(perform)),
        set_up_(std::move(set_up)),
        tear_down_(std::move(tear_down)) {}

  absl::Status SetUp(const JobContext& ctx) override {
    return set_up_ ? set_up_(ctx) : absl::OkStatus();
  }
  absl::Status Perform(const JobContext& ctx) override { return perform_(ctx); }
  void TearDown(const JobContext&) override {
    if (tear_down_) tear_down_();
  }

 private:
  Fn perform_;
  Fn set_up_;
  std::function<void()> tear_down_;
};

// Registers `class_name` as an FnJob; fails the test if the name is taken.
inline void RegisterFn(JobRegistry& registry, std::string_view class_name, FnJob::Fn perform,
                       FnJob::Fn set_up = nullptr, std::function<void()> tear_down = nullptr) {
  const absl::Status s = registry.Register(
      class_name, [=] { return std::make_unique<FnJob>(perform, set_up, tear_down); });
  EXPECT_TRUE(s.ok()) << s;
}

// A one-shot event between threads (std::mutex rather than absl::Notification, whose
// absl::Mutex ThreadSanitizer cannot see through in Debian's uninstrumented Abseil).
class Event {
 public:
  void Notify() {
    {
      std::lock_guard lock(mu_);
      notified_ = true;
    }
    cv_.notify_all();
  }
  bool notified() const {
    std::lock_guard lock(mu_);
    return notified_;
  }
  // False when it has not happened by the deadline.
  bool Await(absl::Duration timeout = kDeadline) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool notified_ = false;
};

// What jobs did, in order, written from any thread.
class Journal {
 public:
  void Add(std::string entry) {
    {
      std::lock_guard lock(mu_);
      entries_.push_back(std::move(entry));
    }
    cv_.notify_all();
  }
  std::vector<std::string> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }
  void Clear() {
    std::lock_guard lock(mu_);
    entries_.clear();
  }
  // Waits until at least `n` entries are in; false at the deadline.
  bool AwaitSize(size_t n, absl::Duration timeout = kDeadline) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [this, n] { return entries_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> entries_;  // guarded by mu_
};

// "Record", the plain job: it writes "<queue> <args>" to `journal`.
inline void RegisterRecord(JobRegistry& registry, Journal& journal) {
  RegisterFn(registry, "Record", [&journal](const JobContext& ctx) {
    journal.Add(absl::StrFormat("%s %s", ctx.queue(), ctx.args()));
    return absl::OkStatus();
  });
}

// Worker::Run() on its own thread.
class RunningWorker {
 public:
  explicit RunningWorker(Worker& worker) : worker_(worker) {
    thread_ = std::thread([this] {
      status_ = worker_.Run();
      done_.Notify();
    });
  }
  // Stops the worker at once if it still runs, and joins it.
  ~RunningWorker() {
    if (!done_.notified()) worker_.RequestStop(StopMode::kImmediate);
    thread_.join();
  }
  RunningWorker(const RunningWorker&) = delete;
  RunningWorker& operator=(const RunningWorker&) = delete;

  // Waits for Run() to return; false when it has not by the deadline.
  bool AwaitReturn(absl::Duration timeout = kDeadline) { return done_.Await(timeout); }
  // What Run() returned; only once it has.
  absl::Status status() const {
    return done_.notified() ? status_ : absl::UnknownError("Run() has not returned");
  }

 private:
  Worker& worker_;
  absl::Status status_;
  Event done_;
  std::thread thread_;
};

// Checks `condition` every millisecond until it holds; false at the deadline.
inline bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = kDeadline) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace resque::testing

#endif  // RESQUE_TESTS_WORKER_WORKER_TESTING_H_
