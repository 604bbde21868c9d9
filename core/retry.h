// Automatic retries: how many times a failed job of a class is tried again and how long each
// try waits, through the delayed jobs (core/scheduler.h moves them back). The count travels in
// the payload's "retry_count", with the last error beside it (docs/retries.md).
//
//   registry.Register<SendEmail>("SendEmail");
//   registry.SetRetryPolicy("SendEmail", {.retries = 3});  // tried at most 4 times in all
#ifndef RESQUE_CORE_RETRY_H_
#define RESQUE_CORE_RETRY_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace resque {

struct Payload;

struct RetryPolicy {
  // Tries after the first failure; 0: none, the failure is recorded at once. At most
  // kMaxRetries.
  int retries = 0;
  // The wait before retry number `count` (0 for the first). Null: DefaultRetryDelay. Called on
  // the worker's threads.
  std::function<absl::Duration(int count)> delay = nullptr;
};

inline constexpr int kMaxRetries = 100;
// The longest a retry waits, whatever its policy's delay says (Sidekiq's backoff for retry 100 is
// about 3 years).
inline constexpr absl::Duration kMaxRetryWait = absl::Hours(24 * 3650);

// Sidekiq's backoff: count^4 + 15 + rand(10) * (count + 1) seconds, so that jobs that failed
// together do not all come back in the same second. `count` is clamped to [0, kMaxRetries].
absl::Duration DefaultRetryDelay(int count);

// The payload fields of a retry (Sidekiq's names): how many retries the job has had, and the
// failure that sent it back (its exception, message and unix second).
inline constexpr std::string_view kRetryCountField = "retry_count";
inline constexpr std::string_view kRetryErrorClassField = "error_class";
inline constexpr std::string_view kRetryErrorMessageField = "error_message";
inline constexpr std::string_view kRetryFailedAtField = "failed_at";

// The retries a payload has had: its "retry_count", 0 when it has none or it is not a count.
int RetryCountOf(const Payload& payload);

// The delayed item of a failed job's next try: its payload with "retry_count" = `count`, the
// failure's fields and "queue" (where the scheduler moves it) set, replacing earlier ones.
std::string RetryItem(const Payload& payload, std::string_view queue, int count,
                      std::string_view exception, std::string_view error, absl::Time now);

// The payload without the fields above: what a failure record keeps, so that retrying it by
// hand starts its retries over.
std::string PayloadWithoutRetry(const Payload& payload);

// "CLASS=N" (`resque work --retry`): the class ("*" for every class without its own policy)
// and N. InvalidArgument naming what is wrong.
absl::StatusOr<std::pair<std::string, int>> ParseRetryFlag(std::string_view flag);

}  // namespace resque

#endif  // RESQUE_CORE_RETRY_H_
