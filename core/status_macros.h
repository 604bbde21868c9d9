// Early returns on error, as Abseil's own code writes them (Debian's Abseil 20220623 does not ship
// its macros). Prefixed so that they cannot clash with a user's or another library's.
//
//   RESQUE_RETURN_IF_ERROR(backend.Push("mail", payload));
//   RESQUE_ASSIGN_OR_RETURN(int64_t n, backend.Size("mail"));
#ifndef RESQUE_CORE_STATUS_MACROS_H_
#define RESQUE_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing function unless OK.
#define RESQUE_RETURN_IF_ERROR(expr)                                    \
  do {                                                                  \
    if (::absl::Status resque_status_ = (expr); !resque_status_.ok()) { \
      return resque_status_;                                            \
    }                                                                   \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>) once; returns its status unless OK, else moves its
// value into `lhs` (a declaration or an lvalue).
#define RESQUE_ASSIGN_OR_RETURN(lhs, rexpr) \
  RESQUE_ASSIGN_OR_RETURN_IMPL_(RESQUE_STATUS_CONCAT_(resque_statusor_, __LINE__), lhs, rexpr)

#define RESQUE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)

#define RESQUE_STATUS_CONCAT_(a, b) RESQUE_STATUS_CONCAT_IMPL_(a, b)
#define RESQUE_STATUS_CONCAT_IMPL_(a, b) a##b

#endif  // RESQUE_CORE_STATUS_MACROS_H_
