// The dashboard's static files (web/assets/), compiled into the binary by web/embed_assets.cmake
// so that `resque web` needs nothing on disk and downloads nothing.
#ifndef RESQUE_WEB_ASSETS_H_
#define RESQUE_WEB_ASSETS_H_

#include <string_view>

#include "absl/types/span.h"

namespace resque::web {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

absl::Span<const Asset> Assets();

}  // namespace resque::web

#endif  // RESQUE_WEB_ASSETS_H_
