#include "core/retry.h"

#include <algorithm>
#include <cstdint>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/bounded_text.h"
#include "core/json.h"
#include "core/payload.h"

namespace resque {
namespace {

// The error a retry item carries is cut shorter than a failure record's: the item is also part
// of a key's name (<ns>:timestamps:<item>).
constexpr size_t kMaxRetryErrorBytes = 1024;

bool IsRetryField(std::string_view key) {
  return key == kRetryCountField || key == kRetryErrorClassField ||
         key == kRetryErrorMessageField || key == kRetryFailedAtField;
}

}  // namespace

absl::Duration DefaultRetryDelay(int count) {
  const int64_t c = std::clamp(count, 0, kMaxRetries);
  thread_local std::minstd_rand gen(std::random_device{}());
  const int64_t jitter = std::uniform_int_distribution<int64_t>(0, 9)(gen);
  return absl::Seconds(c * c * c * c + 15 + jitter * (c + 1));
}

int RetryCountOf(const Payload& payload) {
  for (const auto& [key, raw] : payload.extra) {
    if (key != kRetryCountField) continue;
    absl::StatusOr<int64_t> n = json::IntValue(raw);
    if (!n.ok() || *n < 0) return 0;
    return static_cast<int>(std::min<int64_t>(*n, kMaxRetries));
  }
  return 0;
}

std::string RetryItem(const Payload& payload, std::string_view queue, int count,
                      std::string_view exception, std::string_view error, absl::Time now) {
  Payload item = payload;
  std::erase_if(item.extra, [](const auto& field) {
    return IsRetryField(field.first) || field.first == "queue";
  });
  item.extra.emplace_back("queue", json::Quote(queue));
  item.extra.emplace_back(kRetryCountField, absl::StrCat(count));
  item.extra.emplace_back(kRetryErrorClassField, json::Quote(exception));
  item.extra.emplace_back(kRetryErrorMessageField,
                          json::Quote(CutToBytes(error, kMaxRetryErrorBytes)));
  item.extra.emplace_back(kRetryFailedAtField, absl::StrCat(absl::ToUnixSeconds(now)));
  return EncodePayload(item);
}

std::string PayloadWithoutRetry(const Payload& payload) {
  Payload plain = payload;
  std::erase_if(plain.extra, [](const auto& field) { return IsRetryField(field.first); });
  return EncodePayload(plain);
}

absl::StatusOr<std::pair<std::string, int>> ParseRetryFlag(std::string_view flag) {
  const size_t eq = flag.rfind('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--retry \"%s\": expected CLASS=N (\"*=N\" for every class)", flag));
  }
  int n = 0;
  if (!absl::SimpleAtoi(AbslView(flag.substr(eq + 1)), &n) || n < 0 || n > kMaxRetries) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--retry \"%s\": N must be a whole number from 0 to %d", flag, kMaxRetries));
  }
  return std::make_pair(std::string(flag.substr(0, eq)), n);
}

}  // namespace resque
