// The old home of the Backend argument checks, which the public verbs of core/backend.h now make
// themselves. Kept for the batch limit that callers still name here.
#ifndef RESQUE_CORE_BACKEND_ARGS_H_
#define RESQUE_CORE_BACKEND_ARGS_H_

#include "core/backend.h"

namespace resque::backend_args {

// The most jobs one batch may take: resque::kMaxBatch.
inline constexpr int kMaxBatch = resque::kMaxBatch;

}  // namespace resque::backend_args

#endif  // RESQUE_CORE_BACKEND_ARGS_H_
