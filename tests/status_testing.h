// Test helpers for absl::Status and absl::StatusOr (this Abseil has no status matchers):
//
//   ASSERT_OK(backend.Push("q", payload));
//   EXPECT_EQ(Value(backend.Size("q")), 1);
//   EXPECT_EQ(StatusOf(backend.Peek("q", -1, 1)).code(), absl::StatusCode::kInvalidArgument);
#ifndef RESQUE_TESTS_STATUS_TESTING_H_
#define RESQUE_TESTS_STATUS_TESTING_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace resque::testing {

inline absl::Status StatusOf(absl::Status status) { return status; }

template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// The value of `status_or`; records a test failure and returns T{} when it holds an error.
template <typename T>
T Value(absl::StatusOr<T> status_or) {
  if (!status_or.ok()) {
    ADD_FAILURE() << status_or.status();
    return T{};
  }
  return *std::move(status_or);
}

}  // namespace resque::testing

#define RESQUE_STATUS_TESTING_CHECK_OK(check, expr)                        \
  do {                                                                     \
    const absl::Status resque_status_ = ::resque::testing::StatusOf(expr); \
    check(resque_status_.ok()) << #expr << ": " << resque_status_;         \
  } while (false)

#define ASSERT_OK(expr) RESQUE_STATUS_TESTING_CHECK_OK(ASSERT_TRUE, expr)
#define EXPECT_OK(expr) RESQUE_STATUS_TESTING_CHECK_OK(EXPECT_TRUE, expr)

// Expects `expr` (a Status or StatusOr) to fail with `code`, e.g. kInvalidArgument.
#define EXPECT_CODE(expr, expected) \
  EXPECT_EQ(::resque::testing::StatusOf(expr).code(), ::absl::StatusCode::expected) << #expr

#endif  // RESQUE_TESTS_STATUS_TESTING_H_
