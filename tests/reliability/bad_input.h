// The bad-input corpus: what a worker meets when a peer, someone with redis-cli or a broken deploy
// writes something that is not a job (or not a status) where one is expected. Each case must end
// as a failure record naming the problem, or as a clear error; the worker goes on to the next job
// and nothing else is lost. Written once against Backend, like the conformance suite, and
// instantiated for every backend (memory_bad_input_test.cc, redis_bad_input_test.cc).
#ifndef RESQUE_TESTS_RELIABILITY_BAD_INPUT_H_
#define RESQUE_TESTS_RELIABILITY_BAD_INPUT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/job_registry.h"
#include "core/worker.h"
#include "gtest/gtest.h"

namespace resque::testing {

// A fresh, empty backend for one test; null when it cannot be made (the test then fails).
struct BackendMaker {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

// One item that is not a runnable job, and what its failure record must say.
struct BadPayloadCase {
  std::string name;
  std::function<std::string()> bytes;  // made when the test runs: some are 16 MiB
  std::string exception;
  std::string error;  // a part of the record's message that names the problem
};

// Test listings name the parameters instead of printing their bytes.
inline void PrintTo(const BackendMaker& maker, std::ostream* os) { *os << maker.name; }
inline void PrintTo(const BadPayloadCase& c, std::ostream* os) { *os << c.name; }

std::vector<BadPayloadCase> BadPayloadCases();

using BadPayloadParam = std::tuple<BackendMaker, BadPayloadCase>;
std::string BadPayloadName(const ::testing::TestParamInfo<BadPayloadParam>& info);
std::string BackendName(const ::testing::TestParamInfo<BackendMaker>& info);

// A backend with the job class "Good", which records the args of each job it performs, and a
// worker that runs on it with its log kept.
class WorkerHarness {
 public:
  explicit WorkerHarness(std::unique_ptr<Backend> backend);
  WorkerHarness(const WorkerHarness&) = delete;
  WorkerHarness& operator=(const WorkerHarness&) = delete;

  Backend& backend() { return *backend_; }

  // The payload of a "Good" job whose args are [`arg`].
  static std::string GoodJob(std::string_view arg);

  // Works `queues` in burst mode until they are empty (60 s at most: past that the worker is
  // stopped and the test fails). Returns the worker's slot id.
  std::string RunBurst(std::vector<std::string> queues);

  // Works `queues` (polling every 10 ms) until `done()` holds or `deadline` passes, then stops
  // the worker. Returns whether `done()` held.
  bool RunUntil(std::vector<std::string> queues, const std::function<bool()>& done,
                absl::Duration deadline);

  // The args of every job "Good" performed, in order.
  std::vector<std::string> Performed() const;
  // Every line the workers logged.
  std::vector<std::string> Log() const;

 private:
  WorkerOptions Options(std::vector<std::string> queues);

  std::unique_ptr<Backend> backend_;
  JobRegistry registry_;
  mutable absl::Mutex mu_;
  std::vector<std::string> performed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

class BadPayload : public ::testing::TestWithParam<BadPayloadParam> {
 protected:
  void SetUp() override;
  WorkerHarness& harness() { return *harness_; }
  const BadPayloadCase& bad_case() const { return std::get<1>(GetParam()); }

 private:
  std::unique_ptr<WorkerHarness> harness_;
};

class BadInput : public ::testing::TestWithParam<BackendMaker> {
 protected:
  void SetUp() override;
  WorkerHarness& harness() { return *harness_; }

 private:
  std::unique_ptr<WorkerHarness> harness_;
};

}  // namespace resque::testing

#endif  // RESQUE_TESTS_RELIABILITY_BAD_INPUT_H_
