#include "core/failure.h"

#include <algorithm>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/bounded_text.h"
#include "core/json.h"
#include "core/payload.h"
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

std::string FailureStore::NotRetryable(const Failure& f) {
  if (f.payload.empty()) return "it has no payload";
  if (f.queue.empty()) return "it names no queue";
  absl::StatusOr<Payload> payload = DecodePayload(f.payload);
  if (!payload.ok()) return absl::StrFormat("its payload: %s", payload.status().message());
  return "";
}

std::string FailureStore::NotTaken(const FailureFilter& filter, const Failure& f) {
  if (!filter.queue.empty() && layout() == FailureLayout::kOneList && f.queue != filter.queue) {
    return absl::StrFormat("it is of queue \"%s\", not \"%s\"", f.queue, filter.queue);
  }
  if (filter.job_class.empty()) return "";
  absl::StatusOr<Payload> payload = DecodePayload(f.payload);
  if (!payload.ok()) return absl::StrFormat("its payload: %s", payload.status().message());
  if (payload->class_name == filter.job_class) return "";
  return absl::StrFormat("it is of class \"%s\", not \"%s\"", payload->class_name,
                         filter.job_class);
}

absl::StatusOr<std::vector<std::string>> FailureStore::ListsOf(const FailureFilter& filter) {
  if (layout() == FailureLayout::kOneList) return std::vector<std::string>{""};
  if (!filter.queue.empty()) return std::vector<std::string>{filter.queue};
  return Queues();
}

absl::Status FailureStore::Walk(
    std::string_view list, int64_t start, int64_t count,
    const std::function<absl::StatusOr<bool>(const FailureEntry&)>& visit) {
  // A page at a time: a list of a million records is never in memory whole.
  constexpr int64_t kPage = 500;
  int64_t at = start;  // where the next unread record is now
  int64_t index = start;
  while (count > 0) {
    absl::StatusOr<std::vector<std::string>> page =
        backend_.Failures(at, std::min(count, kPage), list);
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    count -= static_cast<int64_t>(page->size());
    for (std::string& raw : *page) {
      FailureEntry entry{.list = std::string(list), .index = index++, .at = at};
      entry.failure = DecodeFailure(raw);
      if (!entry.failure.ok()) {
        entry.failure = absl::DataLossError(
            list.empty()
                ? absl::StrFormat("failure %d does not decode: %s", entry.index,
                                  entry.failure.status().message())
                : absl::StrFormat("failure %d of queue %s does not decode: %s", entry.index,
                                  AbslView(list), entry.failure.status().message()));
      }
      entry.raw = std::move(raw);
      absl::StatusOr<bool> removed = visit(entry);
      if (!removed.ok()) return removed.status();
      if (!*removed) ++at;
    }
  }
  return absl::OkStatus();
}

absl::Status FailureStore::ForEach(const FailureFilter& filter, int64_t start, int64_t count,
                                   const std::function<absl::Status(const FailureEntry&)>& visit) {
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> lists, ListsOf(filter));
  for (const std::string& list : lists) {
    RESQUE_RETURN_IF_ERROR(
        Walk(list, start, count, [&](const FailureEntry& entry) -> absl::StatusOr<bool> {
          if (entry.failure.ok() && !NotTaken(filter, *entry.failure).empty()) return false;
          RESQUE_RETURN_IF_ERROR(visit(entry));
          return false;
        }));
  }
  return absl::OkStatus();
}

absl::StatusOr<FailureEntry> FailureStore::ReadOne(int64_t index, const FailureFilter& filter) {
  const std::string list = layout() == FailureLayout::kOneList ? "" : filter.queue;
  std::optional<FailureEntry> found;
  RESQUE_RETURN_IF_ERROR(Walk(list, index, 1, [&](const FailureEntry& entry) {
    found = entry;
    return false;
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrFormat("no failure at index %d", index));
  }
  return *std::move(found);
}

absl::StatusOr<bool> FailureStore::RetryEntry(const FailureEntry& entry, const Failure& f,
                                              bool remove) {
  std::string replacement;
  if (!remove) {
    Failure stamped = f;
    stamped.retried_at = FormatFailedAt(clock_->Now());
    replacement = EncodeFailure(stamped);
  }
  return backend_.EditFailure({.index = entry.at,
                               .record = entry.raw,
                               .replacement = replacement,
                               .push_queue = f.queue,
                               .push_payload = f.payload},
                              entry.list);
}

absl::StatusOr<Failure> FailureStore::Retry(int64_t index, const FailureFilter& filter,
                                            bool remove) {
  RESQUE_ASSIGN_OR_RETURN(FailureEntry entry, ReadOne(index, filter));
  if (!entry.failure.ok()) {
    return absl::DataLossError(
        absl::StrFormat("%s; not retried", entry.failure.status().message()));
  }
  const Failure& f = *entry.failure;
  if (const std::string why = NotTaken(filter, f); !why.empty()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("failure %d: %s; not retried", index, why));
  }
  const std::string why = NotRetryable(f);
  if (!why.empty()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("failure %d cannot be retried: %s", index, why));
  }
  RESQUE_ASSIGN_OR_RETURN(bool done, RetryEntry(entry, f, remove));
  if (!done) {
    return absl::NotFoundError(
        absl::StrFormat("failure %d was removed by someone else meanwhile: not retried", index));
  }
  return f;
}

absl::StatusOr<RetryAllResult> FailureStore::RetryAll(const RetryAllOptions& options,
                                                      const RetryReport& report) {
  RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> lists, ListsOf(options.filter));
  RetryAllResult result;
  auto tell = [&](const FailureEntry& entry, RetryOutcome outcome, std::string_view reason) {
    if (report) report(entry, outcome, reason);
  };
  for (const std::string& list : lists) {
    RESQUE_ASSIGN_OR_RETURN(int64_t count, backend_.FailureCount(list));
    RESQUE_RETURN_IF_ERROR(
        Walk(list, 0, count, [&](const FailureEntry& entry) -> absl::StatusOr<bool> {
          if (!entry.failure.ok()) {
            ++result.skipped;
            const absl::string_view why = entry.failure.status().message();
            tell(entry, RetryOutcome::kSkipped, std::string_view(why.data(), why.size()));
            return false;
          }
          const Failure& f = *entry.failure;
          if (!NotTaken(options.filter, f).empty()) return false;
          if (f.retried_at.has_value() && !options.again) {
            ++result.already_retried;
            tell(entry, RetryOutcome::kAlreadyRetried, "");
            return false;
          }
          const std::string why = NotRetryable(f);
          if (!why.empty()) {
            ++result.skipped;
            tell(entry, RetryOutcome::kSkipped, why);
            return false;
          }
          absl::StatusOr<bool> done = RetryEntry(entry, f, options.remove);
          if (absl::IsFailedPrecondition(done.status())) {
            // This record's queue key is of the wrong type (the script wrote nothing): the
            // others may still go back.
            ++result.skipped;
            const absl::string_view why = done.status().message();
            tell(entry, RetryOutcome::kSkipped, std::string_view(why.data(), why.size()));
            return false;
          }
          if (!done.ok()) return done.status();
          if (!*done) {
            // Removed, or changed (another operator stamped it), by someone else. Counted as
            // still there: if it went, the walk steps over one record at most (left for the next
            // retry-all), where counting it as gone could, had it only changed, read a record
            // twice and with --again queue its job twice.
            ++result.gone;
            tell(entry, RetryOutcome::kGone, "removed or changed by someone else meanwhile");
            return false;
          }
          ++result.retried;
          tell(entry, RetryOutcome::kRetried, "");
          return options.remove;
        }));
  }
  return result;
}

absl::StatusOr<int64_t> FailureStore::RetryAll(std::string_view queue) {
  RESQUE_ASSIGN_OR_RETURN(
      RetryAllResult result,
      RetryAll({.filter = {.queue = std::string(queue)}, .remove = false, .again = true}));
  return result.retried;
}

absl::StatusOr<std::string> FailureStore::Remove(int64_t index, const FailureFilter& filter) {
  RESQUE_ASSIGN_OR_RETURN(FailureEntry entry, ReadOne(index, filter));
  const bool checks =
      !filter.job_class.empty() || (!filter.queue.empty() && layout() == FailureLayout::kOneList);
  if (checks) {
    if (!entry.failure.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s, so no filter can judge it: remove it without %s", entry.failure.status().message(),
          layout() == FailureLayout::kOneList ? "--queue or --class" : "--class"));
    }
    if (const std::string why = NotTaken(filter, *entry.failure); !why.empty()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("failure %d: %s; not removed", index, why));
    }
  }
  RESQUE_ASSIGN_OR_RETURN(
      bool done, backend_.EditFailure({.index = entry.at, .record = entry.raw, .replacement = ""},
                                      entry.list));
  if (!done) {
    return absl::NotFoundError(
        absl::StrFormat("failure %d was removed by someone else meanwhile", index));
  }
  return std::move(entry.raw);
}

absl::Status FailureStore::Clear(std::string_view queue) { return backend_.ClearFailures(queue); }

}  // namespace resque
