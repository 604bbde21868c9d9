#include "core/job_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace resque {

absl::Status SkipJob(std::string_view reason) {
  absl::Status status(absl::StatusCode::kCancelled, std::string(reason));
  status.SetPayload("resque/skip", absl::Cord("1"));
  return status;
}

bool IsSkipJob(const absl::Status& status) { return status.GetPayload("resque/skip").has_value(); }

absl::Status JobRegistry::Register(std::string_view class_name, Factory factory) {
  if (class_name.empty()) return absl::InvalidArgumentError("job class name is empty");
  if (!factory) return absl::InvalidArgumentError("job factory is empty");
  std::lock_guard lock(mu_);
  if (!factories_.try_emplace(std::string(class_name), std::move(factory)).second) {
    return absl::AlreadyExistsError(
        absl::StrFormat("job class \"%s\" is already registered", class_name));
  }
  return absl::OkStatus();
}

absl::Status JobRegistry::SetRetryPolicy(std::string_view class_name, RetryPolicy policy) {
  if (policy.retries < 0 || policy.retries > kMaxRetries) {
    return absl::InvalidArgumentError(
        absl::StrFormat("job class \"%s\": retries must be 0 to %d, not %d", class_name,
                        kMaxRetries, policy.retries));
  }
  std::lock_guard lock(mu_);
  if (!factories_.contains(std::string(class_name))) {
    return absl::NotFoundError(absl::StrFormat("unknown job class \"%s\"", class_name));
  }
  retries_.insert_or_assign(std::string(class_name), std::move(policy));
  return absl::OkStatus();
}

std::optional<RetryPolicy> JobRegistry::RetryPolicyOf(std::string_view class_name) const {
  std::lock_guard lock(mu_);
  auto it = retries_.find(std::string(class_name));
  if (it == retries_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::unique_ptr<Job>> JobRegistry::Create(std::string_view class_name) const {
  Factory factory;
  {
    std::lock_guard lock(mu_);
    auto it = factories_.find(std::string(class_name));
    if (it == factories_.end()) {
      return absl::NotFoundError(absl::StrFormat("unknown job class \"%s\"", class_name));
    }
    factory = it->second;
  }
  std::unique_ptr<Job> job = factory();
  if (job == nullptr) {
    return absl::InternalError(
        absl::StrFormat("job class \"%s\": factory made nothing", class_name));
  }
  return job;
}

bool JobRegistry::Contains(std::string_view class_name) const {
  std::lock_guard lock(mu_);
  return factories_.contains(std::string(class_name));
}

std::vector<std::string> JobRegistry::ClassNames() const {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, factory] : factories_) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void JobRegistry::Merge(const JobRegistry& other) {
  if (&other == this) return;
  std::vector<std::pair<std::string, Factory>> copied;
  std::vector<std::pair<std::string, RetryPolicy>> policies;
  {
    std::lock_guard lock(other.mu_);
    copied.assign(other.factories_.begin(), other.factories_.end());
    policies.assign(other.retries_.begin(), other.retries_.end());
  }
  std::lock_guard lock(mu_);
  for (auto& [name, factory] : copied) {
    if (!factories_.try_emplace(name, std::move(factory)).second) continue;
    // The policy goes with the class it came with.
    for (auto& [policy_of, policy] : policies) {
      if (policy_of == name) retries_.insert_or_assign(name, std::move(policy));
    }
  }
}

JobRegistry& JobRegistry::Global() {
  static JobRegistry* const registry = new JobRegistry();
  return *registry;
}

namespace {
std::mutex refused_mu;
std::vector<std::string>& Refused() {  // guarded by refused_mu
  static auto* const refused = new std::vector<std::string>();
  return *refused;
}
}  // namespace

internal::JobRegistration::JobRegistration(std::string_view class_name,
                                           JobRegistry::Factory factory) {
  // The first registration stays; a later one is kept in mind for the loader to refuse.
  if (absl::IsAlreadyExists(JobRegistry::Global().Register(class_name, std::move(factory)))) {
    std::lock_guard lock(refused_mu);
    Refused().emplace_back(class_name);
  }
}

internal::JobRegistration::JobRegistration(std::string_view class_name,
                                           JobRegistry::Factory factory, int retries) {
  if (absl::IsAlreadyExists(JobRegistry::Global().Register(class_name, std::move(factory)))) {
    std::lock_guard lock(refused_mu);
    Refused().emplace_back(class_name);
    return;  // the class stays the first library's, with its policy
  }
  // The macro's static_assert keeps the count in range.
  (void)JobRegistry::Global().SetRetryPolicy(class_name, {.retries = retries});
}

std::vector<std::string> internal::TakeRefusedRegistrations() {
  std::lock_guard lock(refused_mu);
  return std::exchange(Refused(), {});
}

}  // namespace resque
