#include "core/failure.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/bounded_text.h"
#include "core/json.h"
#include "core/status_macros.h"

namespace resque {
namespace {

// The status payload WithBacktrace sets: the lines, each followed by a newline (a line holds
// none: BacktraceOf splits at them).
constexpr absl::string_view kBacktraceUrl = "resque/backtrace";

void AppendField(std::string* out, std::string_view key, std::string_view value) {
  out->push_back(',');
  json::AppendQuoted(out, key);
  out->push_back(':');
  json::AppendQuoted(out, value);
}

std::string StringOrEmpty(const json::Field& f) {
  if (f.type != json::Type::kString) return f.raw;
  absl::StatusOr<std::string> s = json::StringValue(f.raw);
  return s.ok() ? *s : std::string();
}

}  // namespace

void BoundFailureText(std::string& exception, std::string& error,
                      std::vector<std::string>& backtrace) {
  if (exception.size() > kMaxFailureExceptionBytes) {
    exception = CutToBytes(exception, kMaxFailureExceptionBytes);
  }
  if (error.size() > kMaxFailureErrorBytes) error = CutToBytes(error, kMaxFailureErrorBytes);
  if (backtrace.size() > kMaxBacktraceLines) {
    const size_t dropped = backtrace.size() - (kMaxBacktraceLines - 1);
    backtrace.resize(kMaxBacktraceLines - 1);
    backtrace.push_back(absl::StrFormat("... %d more lines not kept", dropped));
  }
  for (std::string& line : backtrace) {
    if (line.size() > kMaxBacktraceLineBytes) line = CutToBytes(line, kMaxBacktraceLineBytes);
  }
}

absl::Status WithBacktrace(absl::Status error, const std::vector<std::string>& lines) {
  if (error.ok() || lines.empty()) return error;
  absl::Cord joined;
  for (const std::string& line : lines) {
    // A newline inside a line would split it in two on the way back.
    joined.Append(absl::StrReplaceAll(line, {{"\n", " "}}));
    joined.Append("\n");
  }
  error.SetPayload(kBacktraceUrl, std::move(joined));
  return error;
}

std::vector<std::string> BacktraceOf(const absl::Status& status) {
  const absl::optional<absl::Cord> joined = status.GetPayload(kBacktraceUrl);
  if (!joined.has_value()) return {};
  std::vector<std::string> lines = absl::StrSplit(std::string(*joined), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the last newline
  return lines;
}

absl::Status WithoutBacktrace(absl::Status status) {
  status.ErasePayload(kBacktraceUrl);
  return status;
}

std::string FormatFailedAt(absl::Time t) {
  return absl::FormatTime("%Y/%m/%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

std::string FormatIsoTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string EncodeFailure(const Failure& f) {
  std::string out = "{\"failed_at\":";
  json::AppendQuoted(&out, f.failed_at);
  out.append(",\"payload\":");
  out.append(f.payload.empty() ? "null" : f.payload);
  AppendField(&out, "exception", f.exception);
  AppendField(&out, "error", f.error);
  out.append(",\"backtrace\":[");
  for (size_t i = 0; i < f.backtrace.size(); ++i) {
    if (i > 0) out.push_back(',');
    json::AppendQuoted(&out, f.backtrace[i]);
  }
  out.push_back(']');
  AppendField(&out, "worker", f.worker);
  AppendField(&out, "queue", f.queue);
  if (f.retried_at.has_value()) AppendField(&out, "retried_at", *f.retried_at);
  for (const auto& [key, raw] : f.extra) {
    out.push_back(',');
    json::AppendQuoted(&out, key);
    out.push_back(':');
    out.append(raw);
  }
  out.push_back('}');
  return out;
}

absl::StatusOr<Failure> DecodeFailure(std::string_view text) {
  absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(text);
  if (!fields.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("failure record: %s", fields.status().message()));
  }
  Failure f;
  for (json::Field& field : *fields) {
    if (field.key == "failed_at") {
      f.failed_at = StringOrEmpty(field);
    } else if (field.key == "payload") {
      f.payload = field.type == json::Type::kNull ? "" : field.raw;
    } else if (field.key == "exception") {
      f.exception = StringOrEmpty(field);
    } else if (field.key == "error") {
      f.error = StringOrEmpty(field);
    } else if (field.key == "worker") {
      f.worker = StringOrEmpty(field);
    } else if (field.key == "queue") {
      f.queue = StringOrEmpty(field);
    } else if (field.key == "retried_at" && field.type == json::Type::kString) {
      f.retried_at = StringOrEmpty(field);
    } else if (field.key == "backtrace" && field.type == json::Type::kArray) {
      absl::StatusOr<std::vector<std::string>> lines = json::StringArray(field.raw);
      if (lines.ok()) f.backtrace = *std::move(lines);
    } else {
      f.extra.emplace_back(std::move(field.key), std::move(field.raw));
    }
  }
  return f;
}

absl::StatusOr<int64_t> FailureStore::Count(std::string_view queue) {
  return backend_.FailureCount(queue);
}

absl::StatusOr<std::vector<Failure>> FailureStore::List(int64_t start, int64_t count,
                                                        std::string_view queue) {
  absl::StatusOr<std::vector<std::string>> raw = backend_.Failures(start, count, queue);
  if (!raw.ok()) return raw.status();
  std::vector<Failure> out;
  out.reserve(raw->size());
  for (size_t i = 0; i < raw->size(); ++i) {
    absl::StatusOr<Failure> f = DecodeFailure((*raw)[i]);
    if (!f.ok()) {
      return absl::DataLossError(
          absl::StrFormat("failure %d: %s", start + static_cast<int64_t>(i), f.status().message()));
    }
    out.push_back(*std::move(f));
  }
  return out;
}

absl::Status FailureStore::Retry(int64_t index, std::string_view queue) {
  absl::StatusOr<std::vector<Failure>> one = List(index, 1, queue);
  if (!one.ok()) return one.status();
  if (one->empty()) return absl::NotFoundError(absl::StrFormat("no failure at index %d", index));
  Failure& f = one->front();
  if (f.payload.empty() || f.queue.empty()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("failure %d has no payload or no queue to retry on", index));
  }
  RESQUE_RETURN_IF_ERROR(backend_.Push(f.queue, f.payload));
  f.retried_at = FormatFailedAt(clock_->Now());
  return backend_.UpdateFailure(index, EncodeFailure(f), queue);
}

absl::StatusOr<int64_t> FailureStore::RetryAll(std::string_view queue) {
  if (queue.empty() && layout() == FailureLayout::kPerQueue) {
    absl::StatusOr<std::vector<std::string>> queues = Queues();
    if (!queues.ok()) return queues.status();
    int64_t retried = 0;
    for (const std::string& q : *queues) {
      absl::StatusOr<int64_t> n = RetryAll(q);
      if (!n.ok()) return n.status();
      retried += *n;
    }
    return retried;
  }
  absl::StatusOr<int64_t> count = Count(queue);
  if (!count.ok()) return count.status();
  int64_t retried = 0;
  for (int64_t i = 0; i < *count; ++i) {
    absl::Status s = Retry(i, queue);
    if (absl::IsFailedPrecondition(s)) continue;
    if (!s.ok()) return s;
    ++retried;
  }
  return retried;
}

absl::Status FailureStore::Remove(int64_t index, std::string_view queue) {
  return backend_.RemoveFailure(index, queue);
}

absl::Status FailureStore::Clear(std::string_view queue) { return backend_.ClearFailures(queue); }

}  // namespace resque
