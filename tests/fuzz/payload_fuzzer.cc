// libFuzzer target for everything that decodes bytes read from the backend: job payloads,
// statuses, failure records and the JSON layer under them. Anyone who can write to Redis can put
// any bytes there, so beyond "never crashes" it checks the round trips the worker relies on:
// what decodes re-encodes to text that decodes to the same value, so that a payload or a failure
// record we write back (a retry, an enqueue) is the one a peer wrote.
//
// Built as a fuzzer with RESQUE_FUZZ=ON (clang; see scripts/fuzz.sh) and, in every build, into
// fuzz_corpus_test, which runs the committed corpus through the same checks.
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/backend.h"
#include "core/failure.h"
#include "core/job_filter.h"
#include "core/json.h"
#include "core/payload.h"
#include "core/status.h"

namespace resque {
namespace {

// Aborts naming the broken invariant: libFuzzer then keeps the input as a crash file.
void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

// The canonical form is what JobMatcher compares args by, so it must be a stable value of the
// same type, and equal for texts that hold the same value.
void CheckJson(std::string_view in) {
  const absl::StatusOr<json::Type> type = json::Validate(in);
  const absl::StatusOr<std::string> canonical = json::Canonicalize(in);
  Require(type.ok() == canonical.ok(), "Validate and Canonicalize disagree on validity");
  if (!type.ok()) return;
  const absl::StatusOr<json::Type> again = json::Validate(*canonical);
  Require(again.ok() && *again == *type, "the canonical form is not valid JSON of the same type");
  const absl::StatusOr<std::string> twice = json::Canonicalize(*canonical);
  Require(twice.ok() && *twice == *canonical, "Canonicalize is not idempotent");
}

// The escaper writes every exception message and unknown key into records peers parse.
void CheckQuote(std::string_view in) {
  const std::string quoted = json::Quote(in);
  const absl::StatusOr<json::Type> type = json::Validate(quoted);
  Require(type.ok() && *type == json::Type::kString, "Quote wrote something not a JSON string");
  const absl::StatusOr<std::string> back = json::StringValue(quoted);
  Require(back.ok(), "a quoted string does not read back");
  if (simdjson::validate_utf8(in.data(), in.size())) {
    Require(*back == in, "Quote changed valid UTF-8");
  } else {
    Require(json::Quote(*back) == quoted, "Quote of invalid UTF-8 is not a fixpoint");
  }
}

std::string EncodeFields(const std::vector<json::Field>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    json::AppendQuoted(&out, fields[i].key);
    out.push_back(':');
    out.append(fields[i].raw);
  }
  out.push_back('}');
  return out;
}

// Unknown payload fields are kept as (unescaped key, raw value): both halves must survive being
// written back.
void CheckObject(std::string_view in) {
  const absl::StatusOr<std::vector<json::Field>> fields = json::ParseObject(in);
  if (!fields.ok()) return;
  for (const json::Field& f : *fields) {
    const absl::StatusOr<json::Type> type = json::Validate(f.raw);
    Require(type.ok() && *type == f.type, "a field's raw text is not one value of its type");
  }
  const std::string encoded = EncodeFields(*fields);
  const absl::StatusOr<std::vector<json::Field>> again = json::ParseObject(encoded);
  Require(again.ok(), "re-encoded fields do not parse");
  Require(again->size() == fields->size(), "re-encoded fields differ in number");
  for (size_t i = 0; i < fields->size(); ++i) {
    const json::Field& a = (*fields)[i];
    const json::Field& b = (*again)[i];
    Require(a.key == b.key && a.raw == b.raw && a.type == b.type, "a re-encoded field differs");
  }
  const absl::StatusOr<std::string> before = json::Canonicalize(in);
  const absl::StatusOr<std::string> after = json::Canonicalize(encoded);
  Require(before.ok() && after.ok() && *before == *after, "re-encoded fields hold another value");
}

void CheckPayload(std::string_view in) {
  const absl::StatusOr<Payload> p = DecodePayload(in);
  if (!p.ok()) return;
  Require(!p->class_name.empty(), "a payload decoded with an empty class");
  const std::string encoded = EncodePayload(*p);
  const absl::StatusOr<Payload> q = DecodePayload(encoded);
  Require(q.ok(), "an encoded payload does not decode");
  Require(q->class_name == p->class_name, "class changed in a round trip");
  Require(q->args == p->args, "args changed in a round trip");
  Require(q->id == p->id, "id changed in a round trip");
  Require(q->extra == p->extra, "unknown fields changed in a round trip");
  Require(q->queue_time.has_value() == p->queue_time.has_value(), "queue_time appeared or went");
  if (p->queue_time.has_value()) {
    // Written with microseconds, as php's microtime(true): equal to that precision, then stable.
    const double a = *p->queue_time;
    const double b = *q->queue_time;
    Require(std::fabs(a - b) <= 5e-7 + 1e-15 * std::fabs(a), "queue_time moved beyond rounding");
    const absl::StatusOr<Payload> r = DecodePayload(EncodePayload(*q));
    Require(r.ok() && EncodePayload(*r) == EncodePayload(*q), "queue_time is not stable");
  }
  // RemoveJobs finds a job by its own class, id and args.
  JobFilter filter{.class_name = p->class_name, .id = std::nullopt, .args = p->args};
  if (!p->id.empty()) filter.id = p->id;
  Require(JobMatches(filter, in), "a payload does not match its own class, id and args");
}

void CheckStatus(std::string_view in) {
  const absl::StatusOr<JobStatus> s = DecodeStatus(in);
  if (!s.ok()) return;
  const absl::StatusOr<JobStatus> t = DecodeStatus(EncodeStatus(*s));
  Require(t.ok(), "an encoded status does not decode");
  Require(t->state == s->state && t->updated == s->updated && t->started == s->started,
          "a status changed in a round trip");
}

bool SameFailure(const Failure& a, const Failure& b) {
  return a.failed_at == b.failed_at && a.payload == b.payload && a.exception == b.exception &&
         a.error == b.error && a.backtrace == b.backtrace && a.worker == b.worker &&
         a.queue == b.queue && a.retried_at == b.retried_at && a.extra == b.extra;
}

// A retry re-encodes the record with retried_at set; nothing else may change.
void CheckFailure(std::string_view in) {
  const absl::StatusOr<Failure> f = DecodeFailure(in);
  if (!f.ok()) return;
  const absl::StatusOr<Failure> g = DecodeFailure(EncodeFailure(*f));
  Require(g.ok(), "an encoded failure record does not decode");
  Require(SameFailure(*f, *g), "a failure record changed in a round trip");
}

// Readers of single values: they see field text that ParseObject validated, but must not crash
// on anything.
void CheckValueReaders(std::string_view in) {
  (void)json::StringValue(in);
  (void)json::IntValue(in);
  (void)json::DoubleValue(in);
  (void)json::StringArray(in);
  (void)ArgsFromUserJson(in);
  (void)JobMatcher::Create(
      JobFilter{.class_name = "C", .id = std::nullopt, .args = std::string(in)});
}

}  // namespace
}  // namespace resque

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  resque::CheckJson(in);
  resque::CheckQuote(in);
  resque::CheckObject(in);
  resque::CheckPayload(in);
  resque::CheckStatus(in);
  resque::CheckFailure(in);
  resque::CheckValueReaders(in);
  return 0;
}
