#include "cli/names.h"

#include <string_view>

#include "core/names.h"

namespace resque::cli {

void CheckNamespaceOnceParsed(CLI::App& app, const GlobalOptions& global) {
  app.parse_complete_callback([&global] {
    std::string_view ns = global.ns;
    if (!ns.empty() && ns.back() == ':') ns.remove_suffix(1);
    if (absl::Status s = CheckNamespace(ns); !s.ok()) {
      Fail(s);
      // Ends the parse with this exit code and prints nothing more (CLI::App::exit).
      throw CLI::RuntimeError(kUsageExit);
    }
  });
}

}  // namespace resque::cli
