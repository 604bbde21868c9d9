// Debian's Abseil 20220623 is built with its own absl::string_view, which is not
// std::string_view: absl::StrCat and absl::flat_hash_map<std::string, ...> lookups reject a
// std::string_view. AbslView bridges the two without a copy.
#ifndef RESQUE_CORE_ABSL_VIEW_H_
#define RESQUE_CORE_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace resque {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace resque

#endif  // RESQUE_CORE_ABSL_VIEW_H_
