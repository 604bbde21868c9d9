// JobRegistry: which job class a payload's "class" names. The worker asks it for a fresh Job per
// payload; an unknown class is a failure record, not a crash.
//
//   resque::JobRegistry registry;
//   registry.Register<SendEmail>("SendEmail");
//   resque::Worker worker(backend, registry, options);
//
// RESQUE_REGISTER_JOB adds a class to JobRegistry::Global() when its library is loaded, which is
// how `resque work --load libmyjobs.so` finds jobs.
#ifndef RESQUE_CORE_JOB_REGISTRY_H_
#define RESQUE_CORE_JOB_REGISTRY_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/job.h"
#include "core/retry.h"

namespace resque {

class JobRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Job>()>;

  JobRegistry() = default;
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  // AlreadyExists when `class_name` is taken; InvalidArgument when it is empty.
  absl::Status Register(std::string_view class_name, Factory factory);

  template <typename T>
  absl::Status Register(std::string_view class_name) {
    return Register(class_name, [] { return std::make_unique<T>(); });
  }

  // How a failed job of the class is retried (core/retry.h); a worker's own option for the
  // class (WorkerOptions::retry) comes first. NotFound when the class is not registered,
  // InvalidArgument for retries outside 0..kMaxRetries.
  absl::Status SetRetryPolicy(std::string_view class_name, RetryPolicy policy);
  // The policy set for the class, if any.
  std::optional<RetryPolicy> RetryPolicyOf(std::string_view class_name) const;

  // A new instance of the job class; NotFound naming the class when it is not registered.
  absl::StatusOr<std::unique_ptr<Job>> Create(std::string_view class_name) const;

  bool Contains(std::string_view class_name) const;
  std::vector<std::string> ClassNames() const;  // sorted

  // Adds every class of `other` that this registry lacks.
  void Merge(const JobRegistry& other);

  // The process-wide registry that RESQUE_REGISTER_JOB fills.
  static JobRegistry& Global();

 private:
  // std::mutex rather than absl::Mutex: ThreadSanitizer sees through it (Debian's Abseil is
  // not built with it), and a library loaded while slots run registers here.
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Factory> factories_;    // guarded by mu_
  absl::flat_hash_map<std::string, RetryPolicy> retries_;  // guarded by mu_
};

namespace internal {
struct JobRegistration {
  JobRegistration(std::string_view class_name, JobRegistry::Factory factory);
  JobRegistration(std::string_view class_name, JobRegistry::Factory factory, int retries);
};

// The class names RESQUE_REGISTER_JOB found already registered in JobRegistry::Global() since
// the last call (the first registration stays): `resque work` refuses two --load libraries that
// register one class, naming both.
std::vector<std::string> TakeRefusedRegistrations();
}  // namespace internal

}  // namespace resque

#define RESQUE_REGISTER_JOB_CONCAT_(a, b) a##b
#define RESQUE_REGISTER_JOB_NAME_(line) RESQUE_REGISTER_JOB_CONCAT_(resque_job_registration_, line)
// Registers job class `Type` under `class_name` in JobRegistry::Global() at load time.
#define RESQUE_REGISTER_JOB(Type, class_name)                                           \
  static const ::resque::internal::JobRegistration RESQUE_REGISTER_JOB_NAME_(__LINE__)( \
      class_name, [] { return std::unique_ptr<::resque::Job>(new Type()); })
// The same, with `retries` automatic retries after a failure (RetryPolicy's default backoff).
#define RESQUE_REGISTER_JOB_WITH_RETRIES(Type, class_name, retries)                     \
  static_assert((retries) >= 0 && (retries) <= ::resque::kMaxRetries,                   \
                "RESQUE_REGISTER_JOB_WITH_RETRIES: retries must be 0 to kMaxRetries");  \
  static const ::resque::internal::JobRegistration RESQUE_REGISTER_JOB_NAME_(__LINE__)( \
      class_name, [] { return std::unique_ptr<::resque::Job>(new Type()); }, retries)

#endif  // RESQUE_CORE_JOB_REGISTRY_H_
