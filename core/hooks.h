// Hooks: code that runs around enqueue and perform, and on failure (php-resque's events).
//
//   resque::Hooks hooks;
//   hooks.before_perform.push_back([](const resque::JobEvent& e) {
//     return e.payload.class_name == "Blocked" ? resque::SkipJob("blocked") : absl::OkStatus();
//   });
//
// A before_enqueue error keeps the job out of the queue (Enqueue returns it). A before_perform
// error fails the job, or skips it when it is SkipJob(). after_* errors are logged, not fatal.
#ifndef RESQUE_CORE_HOOKS_H_
#define RESQUE_CORE_HOOKS_H_

#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque {

struct JobEvent {
  std::string_view queue;
  const Payload& payload;
  std::string_view worker_id;  // empty at enqueue
};

struct Hooks {
  using Hook = std::function<absl::Status(const JobEvent&)>;
  using FailureHook = std::function<void(const JobEvent&, const absl::Status& error)>;

  std::vector<Hook> before_enqueue;
  std::vector<Hook> after_enqueue;
  std::vector<Hook> before_perform;
  std::vector<Hook> after_perform;
  std::vector<FailureHook> on_failure;
};

// Runs `hooks` in order; the first error stops and is returned.
inline absl::Status RunHooks(const std::vector<Hooks::Hook>& hooks, const JobEvent& event) {
  for (const Hooks::Hook& hook : hooks) {
    RESQUE_RETURN_IF_ERROR(hook(event));
  }
  return absl::OkStatus();
}

}  // namespace resque

#endif  // RESQUE_CORE_HOOKS_H_
