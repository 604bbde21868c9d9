// /metrics: a Snapshot in the Prometheus text exposition format (version 0.0.4), for a scrape
// that costs the same bounded number of round trips however many queues there are.
#ifndef RESQUE_WEB_METRICS_H_
#define RESQUE_WEB_METRICS_H_

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "web/dashboard.h"

namespace resque::web {

// The exposition's Content-Type.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// `scrape` is how long reading the snapshot took.
std::string MetricsText(const Snapshot& snapshot, absl::Duration scrape);

// A label value escaped as the format wants: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace resque::web

#endif  // RESQUE_WEB_METRICS_H_
