// Argument checks every Backend makes the same way, so that bad arguments are the same
// InvalidArgument, with the same words, on every backend (the conformance suite holds them to it).
#ifndef RESQUE_CORE_BACKEND_ARGS_H_
#define RESQUE_CORE_BACKEND_ARGS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/backend.h"

namespace resque::backend_args {

// The most jobs one batch may take (ReserveInFlightMany, WorkerOptions::batch).
inline constexpr int kMaxBatch = 1000;

// "<what> is empty" for an empty name (queue, worker id, job id).
absl::Status NotEmpty(std::string_view value, std::string_view what);
// A list range: neither `start` nor `count` may be negative.
absl::Status Range(int64_t start, int64_t count);
// An index into a list: not negative.
absl::Status Index(int64_t index);
// A status TTL: positive, or InfiniteDuration for none.
absl::Status Ttl(absl::Duration ttl);
// A reserve's queues (at least one, none empty), its wait (not negative) and, for batches, its
// most jobs (1..kMaxBatch).
absl::Status Reserve(absl::Span<const std::string> queues, absl::Duration wait);
absl::Status BatchMax(int max);
// Unreserve's `job_ids`: empty, or one per job.
absl::Status UnreserveIds(absl::Span<const ReservedJob> jobs, absl::Span<const std::string> ids);

}  // namespace resque::backend_args

#endif  // RESQUE_CORE_BACKEND_ARGS_H_
