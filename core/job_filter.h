// Which queued jobs a JobFilter selects: php-resque's Resque::dequeue semantics, shared by every
// backend's RemoveJobs so that the memory and Redis backends remove exactly the same jobs.
//
//   absl::StatusOr<resque::JobMatcher> matcher = resque::JobMatcher::Create(filter);
//   if (!matcher.ok()) return matcher.status();  // e.g. args that are not JSON
//   for (const std::string& payload : items) {
//     if (matcher->Matches(payload)) ...
//   }
#ifndef RESQUE_CORE_JOB_FILTER_H_
#define RESQUE_CORE_JOB_FILTER_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/backend.h"

namespace resque {

// A JobFilter checked once and ready to test many payloads. A payload matches when it decodes
// (core/payload.h), its class equals the filter's class and, when the filter gives them, its id
// equals the filter's id and its "args" equal the filter's args as JSON values (whitespace,
// object key order and string escapes do not matter). A payload that does not decode never
// matches.
class JobMatcher {
 public:
  // InvalidArgument when the class name is empty, the id is given but empty, or the args are
  // given but are not a JSON array (a payload's args always are one).
  static absl::StatusOr<JobMatcher> Create(const JobFilter& filter);

  bool Matches(std::string_view payload_json) const;

 private:
  JobMatcher() = default;

  std::string class_name_;
  std::optional<std::string> id_;
  std::optional<std::string> canonical_args_;
};

// Whether `payload_json` matches `filter` (see JobMatcher). An invalid filter matches nothing.
bool JobMatches(const JobFilter& filter, std::string_view payload_json);

}  // namespace resque

#endif  // RESQUE_CORE_JOB_FILTER_H_
