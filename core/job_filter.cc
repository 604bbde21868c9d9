#include "core/job_filter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json.h"
#include "core/payload.h"

namespace resque {

absl::StatusOr<JobMatcher> JobMatcher::Create(const JobFilter& filter) {
  if (filter.class_name.empty()) {
    return absl::InvalidArgumentError("job filter: the class name is empty");
  }
  if (filter.id.has_value() && filter.id->empty()) {
    return absl::InvalidArgumentError("job filter: the id is given but empty");
  }
  JobMatcher matcher;
  matcher.class_name_ = filter.class_name;
  matcher.id_ = filter.id;
  if (filter.args.has_value()) {
    absl::StatusOr<json::Type> type = json::Validate(*filter.args);
    if (!type.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("job filter: args: ", type.status().message()));
    }
    if (*type != json::Type::kArray) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "job filter: args must be a JSON array, found %s", json::TypeName(*type)));
    }
    absl::StatusOr<std::string> canonical = json::Canonicalize(*filter.args);
    if (!canonical.ok()) return canonical.status();
    matcher.canonical_args_ = *std::move(canonical);
  }
  return matcher;
}

bool JobMatcher::Matches(std::string_view payload_json) const {
  absl::StatusOr<Payload> payload = DecodePayload(payload_json);
  if (!payload.ok()) return false;
  if (payload->class_name != class_name_) return false;
  if (id_.has_value() && payload->id != *id_) return false;
  if (canonical_args_.has_value()) {
    absl::StatusOr<std::string> args = json::Canonicalize(payload->args);
    if (!args.ok() || *args != *canonical_args_) return false;
  }
  return true;
}

bool JobMatches(const JobFilter& filter, std::string_view payload_json) {
  absl::StatusOr<JobMatcher> matcher = JobMatcher::Create(filter);
  return matcher.ok() && matcher->Matches(payload_json);
}

}  // namespace resque
