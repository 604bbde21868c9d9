#include "cli/names.h"

#include <string_view>

#include "core/names.h"

namespace resque::cli {

void CheckNamespaceParsed(const GlobalOptions& global) {
  std::string_view ns = global.ns;
  if (!ns.empty() && ns.back() == ':') ns.remove_suffix(1);
  if (absl::Status s = CheckNamespace(ns); !s.ok()) {
    Fail(s);
    throw CLI::RuntimeError(kUsageExit);  // Main returns its code and prints nothing more
  }
}

}  // namespace resque::cli
