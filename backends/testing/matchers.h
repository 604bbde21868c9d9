// GoogleTest matchers for the testing kit (testing.h includes this header): they read better
// than loops over queues, statuses and failure records, and explain what they found.
//
//   EXPECT_THAT(harness.Enqueue("mail", "SendEmail", R"({"to":"a@x"})"), IsOk());
//   EXPECT_THAT(harness.Jobs("mail"), ElementsAre(IsJob("SendEmail", R"({"to":"a@x"})")));
//   EXPECT_THAT(harness.Drain(),
//               IsOkAndHolds(ElementsAre(AllOf(IsJob("SendEmail"), Completed()))));
//   EXPECT_THAT(harness.Status(id), HasState(resque::JobState::kComplete));
//   EXPECT_THAT(harness.Failures(), ElementsAre(FailureOf("SendEmail", HasSubstr("refused"))));
//
// Args are compared as JSON values (whitespace and key order do not matter) and may be written
// as Enqueue takes them: an object stands for the one-element array [object].
#ifndef RESQUE_BACKENDS_TESTING_MATCHERS_H_
#define RESQUE_BACKENDS_TESTING_MATCHERS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/testing/testing.h"  // the job types; testing.h includes this file too
#include "core/failure.h"
#include "core/status.h"
#include "gmock/gmock.h"

namespace resque::testing_kit {

namespace internal {

inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Whether `actual_args` (a payload's args array) holds the same JSON value as `expected`, given
// as Enqueue takes args. Otherwise false, with what differs in `*why`.
bool SameArgs(std::string_view actual_args, std::string_view expected, std::string* why);

// The class named by a failure record's payload; empty when it does not decode.
std::string FailedClass(const Failure& failure);

inline absl::StatusOr<JobStatus> StatusValue(const JobStatus& status) { return status; }
inline absl::StatusOr<JobStatus> StatusValue(const absl::StatusOr<JobStatus>& status) {
  return status;
}

}  // namespace internal

// An absl::Status or absl::StatusOr<T> that is OK.
MATCHER(IsOk, negation ? "is an error" : "is OK") {
  const absl::Status status = internal::StatusOf(arg);
  if (!status.ok()) *result_listener << "which is " << status;
  return status.ok();
}

// An OK absl::StatusOr<T> whose value matches `matcher`.
MATCHER_P(IsOkAndHolds, matcher,
          negation ? "is an error or holds a value that does not match"
                   : "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "which is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// An EnqueuedJob or PerformedJob of class `class_name` (and with args `args`).
MATCHER_P(IsJob, class_name,
          std::string(negation ? "is not" : "is") + " a " + class_name + " job") {
  if (arg.class_name == class_name) return true;
  *result_listener << "whose class is " << (arg.class_name.empty() ? "(none)" : arg.class_name);
  return false;
}
MATCHER_P2(IsJob, class_name, args,
           std::string(negation ? "is not" : "is") + " a " + class_name + " job with args " +
               args) {
  if (arg.class_name != class_name) {
    *result_listener << "whose class is " << (arg.class_name.empty() ? "(none)" : arg.class_name);
    return false;
  }
  std::string why;
  if (internal::SameArgs(arg.args, args, &why)) return true;
  *result_listener << why;
  return false;
}

// An EnqueuedJob or PerformedJob whose args are `args` (as JSON values).
MATCHER_P(HasArgs, args, std::string(negation ? "has no args " : "has args ") + args) {
  std::string why;
  if (internal::SameArgs(arg.args, args, &why)) return true;
  *result_listener << why;
  return false;
}

// An EnqueuedJob or PerformedJob with job id `id`.
MATCHER_P(HasId, id, std::string(negation ? "has no id " : "has id ") + std::string(id)) {
  if (arg.id == id) return true;
  *result_listener << "whose id is " << (arg.id.empty() ? "(none)" : arg.id);
  return false;
}

// A PerformedJob that completed, failed (a failure record was written) or was skipped.
MATCHER(Completed, negation ? "did not complete" : "completed") {
  *result_listener << "which " << OutcomeName(arg.outcome);
  return arg.outcome == Outcome::kComplete;
}
MATCHER(Failed, negation ? "did not fail" : "failed") {
  *result_listener << "which " << OutcomeName(arg.outcome);
  return arg.outcome == Outcome::kFailed;
}
MATCHER(Skipped, negation ? "was not skipped" : "was skipped") {
  *result_listener << "which " << OutcomeName(arg.outcome);
  return arg.outcome == Outcome::kSkipped;
}
// A PerformedJob that failed and waits for an automatic retry (no failure record).
MATCHER(Retried, negation ? "was not retried" : "failed and waits for a retry") {
  *result_listener << "which " << OutcomeName(arg.outcome);
  return arg.outcome == Outcome::kRetried;
}

// A PerformedJob that failed with a failure record whose error message matches `error` (a
// string matcher such as HasSubstr("refused"), or a string).
MATCHER_P(FailedWith, error, negation ? "did not fail so" : "failed with a matching error") {
  if (arg.outcome != Outcome::kFailed || !arg.failure.has_value()) {
    *result_listener << "which " << OutcomeName(arg.outcome);
    return false;
  }
  *result_listener << "whose error is \"" << arg.failure->error << "\" ";
  return ::testing::ExplainMatchResult(error, arg.failure->error, result_listener);
}

// A failure record (resque::Failure) of a job of class `class_name` (and whose error message
// matches `error`).
MATCHER_P(FailureOf, class_name,
          std::string(negation ? "is not" : "is") + " a failure of a " + class_name + " job") {
  const std::string failed = internal::FailedClass(arg);
  *result_listener << "of a " << (failed.empty() ? "(undecodable)" : failed)
                   << " job: " << arg.exception << ": " << arg.error;
  return failed == class_name;
}
MATCHER_P2(FailureOf, class_name, error,
           std::string(negation ? "is not" : "is") + " a failure of a " + class_name +
               " job with a matching error") {
  const std::string failed = internal::FailedClass(arg);
  *result_listener << "of a " << (failed.empty() ? "(undecodable)" : failed)
                   << " job: " << arg.exception << ": " << arg.error << " ";
  return failed == class_name && ::testing::ExplainMatchResult(error, arg.error, result_listener);
}

// A resque::JobStatus, or an OK absl::StatusOr<JobStatus>, in state `state`.
MATCHER_P(HasState, state,
          std::string(negation ? "is not " : "is ") + std::string(JobStateName(state))) {
  const absl::StatusOr<JobStatus> status = internal::StatusValue(arg);
  if (!status.ok()) {
    *result_listener << "which is " << status.status();
    return false;
  }
  *result_listener << "which is " << JobStateName(status->state);
  return status->state == state;
}

}  // namespace resque::testing_kit

#endif  // RESQUE_BACKENDS_TESTING_MATCHERS_H_
