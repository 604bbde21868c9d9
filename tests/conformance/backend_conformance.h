// The conformance suite: one set of tests over the Backend interface, instantiated for every
// backend, so that the memory backend is a faithful double of Redis. A backend joins by
// instantiating the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, BackendConformance,
//                            testing::Values(resque::testing::BackendFactory{"Memory", ...}),
//                            resque::testing::FactoryName);
#ifndef RESQUE_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_
#define RESQUE_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "core/backend.h"
#include "gtest/gtest.h"

namespace resque::testing {

// One fresh, empty backend for one test.
class BackendUnderTest {
 public:
  virtual ~BackendUnderTest() = default;
  virtual Backend& backend() = 0;
  // Makes `d` pass for everything that expires (statuses with a TTL), without sleeping.
  virtual void AdvanceTime(absl::Duration d) = 0;
  // Waits at most `timeout` until at least `n` Reserve calls are waiting on their queues, so that
  // a test pushes knowing that the wake-up, not the first look, is what finds the job. A backend
  // that cannot tell returns false at once; the test then pushes without knowing (and still
  // passes, testing less).
  virtual bool AwaitWaitingReservers(int n, absl::Duration timeout) {
    static_cast<void>(n);
    static_cast<void>(timeout);
    return false;
  }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<BackendUnderTest>()> make;
};

// Names the parameter in test listings (instead of its bytes).
inline void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

inline std::string FactoryName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

class BackendConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override { under_test_ = GetParam().make(); }
  Backend& backend() { return under_test_->backend(); }
  void AdvanceTime(absl::Duration d) { under_test_->AdvanceTime(d); }
  bool AwaitWaitingReservers(int n, absl::Duration timeout) {
    return under_test_->AwaitWaitingReservers(n, timeout);
  }

 private:
  std::unique_ptr<BackendUnderTest> under_test_;
};

}  // namespace resque::testing

#endif  // RESQUE_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_
