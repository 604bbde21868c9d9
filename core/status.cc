#include "core/status.h"

#include "absl/strings/str_format.h"
#include "core/json.h"

namespace resque {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kWaiting:
      return "waiting";
    case JobState::kRunning:
      return "running";
    case JobState::kFailed:
      return "failed";
    case JobState::kComplete:
      return "complete";
  }
  return "unknown";
}

std::string EncodeStatus(const JobStatus& status) {
  std::string out = absl::StrFormat("{\"status\":%d,\"updated\":%d", static_cast<int>(status.state),
                                    status.updated);
  if (status.started.has_value()) absl::StrAppendFormat(&out, ",\"started\":%d", *status.started);
  if (status.retry_at.has_value()) {
    absl::StrAppendFormat(&out, ",\"retry_at\":%d,\"retry_count\":%d,\"error\":", *status.retry_at,
                          status.retry_count);
    json::AppendQuoted(&out, status.error);
  }
  out.push_back('}');
  return out;
}

absl::StatusOr<JobStatus> DecodeStatus(std::string_view json_text) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(json_text);
  if (!fields.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("status: %s", fields.status().message()));
  }
  JobStatus status;
  const json::Field* code = json::FindField(*fields, "status");
  if (code == nullptr) return absl::InvalidArgumentError("status: \"status\" is missing");
  absl::StatusOr<int64_t> n = json::IntValue(code->raw);
  if (!n.ok() || *n < 1 || *n > 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("status: \"status\" must be 1 to 4, found %s", code->raw));
  }
  status.state = static_cast<JobState>(*n);
  // php-resque writes the times as integers; anything unreadable there is ignored, not fatal.
  if (const json::Field* f = json::FindField(*fields, "updated")) {
    if (absl::StatusOr<int64_t> t = json::IntValue(f->raw); t.ok()) status.updated = *t;
  }
  if (const json::Field* f = json::FindField(*fields, "started")) {
    if (absl::StatusOr<int64_t> t = json::IntValue(f->raw); t.ok()) status.started = *t;
  }
  if (const json::Field* f = json::FindField(*fields, "retry_at")) {
    if (absl::StatusOr<int64_t> t = json::IntValue(f->raw); t.ok()) status.retry_at = *t;
  }
  if (const json::Field* f = json::FindField(*fields, "retry_count")) {
    if (absl::StatusOr<int64_t> n = json::IntValue(f->raw); n.ok() && *n >= 0 && *n <= INT32_MAX) {
      status.retry_count = static_cast<int>(*n);
    }
  }
  if (const json::Field* f = json::FindField(*fields, "error")) {
    if (absl::StatusOr<std::string> e = json::StringValue(f->raw); e.ok()) status.error = *e;
  }
  return status;
}

std::string RetryStatusJson(absl::Time now, int64_t retry_at, int retry_count,
                            std::string_view error) {
  return EncodeStatus({.state = JobState::kWaiting,
                       .updated = absl::ToUnixSeconds(now),
                       .started = {},
                       .retry_at = retry_at,
                       .retry_count = retry_count,
                       .error = std::string(error)});
}

std::string StatusUpdateJson(JobState state, absl::Time now) {
  JobStatus status;
  status.state = state;
  status.updated = absl::ToUnixSeconds(now);
  return EncodeStatus(status);
}

absl::Status StatusTracker::Create(std::string_view id) {
  JobStatus waiting;
  waiting.updated = absl::ToUnixSeconds(clock_->Now());
  waiting.started = waiting.updated;
  return backend_.SetStatus(id, EncodeStatus(waiting), absl::InfiniteDuration(),
                            /*only_if_exists=*/false);
}

absl::StatusOr<JobStatus> StatusTracker::Get(std::string_view id) {
  absl::StatusOr<std::string> raw = backend_.GetStatus(id);
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(
        absl::StrFormat("job %s has no status: it was not tracked, or it expired", id));
  }
  if (!raw.ok()) return raw.status();
  absl::StatusOr<JobStatus> status = DecodeStatus(*raw);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("job %s: %s", id, status.status().message()));
  }
  return status;
}

absl::Status StatusTracker::Update(std::string_view id, JobState state) {
  const bool finished = state == JobState::kFailed || state == JobState::kComplete;
  return backend_.SetStatus(id, StatusUpdateJson(state, clock_->Now()),
                            finished ? kFinishedStatusTtl : absl::InfiniteDuration(),
                            /*only_if_exists=*/true);
}

}  // namespace resque
