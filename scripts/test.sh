#!/usr/bin/env bash
# Command 2 of the README: installs what is missing, builds, runs every test. Non-zero on failure.
#   scripts/test.sh                      the whole suite (build/)
#   BUILD_DIR=build-asan CMAKE_ARGS="-DRESQUE_SANITIZE=address" scripts/test.sh
#   CTEST_ARGS="-L concurrency" scripts/test.sh
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$RESQUE_ROOT/scripts/deps.sh"
resque_install_deps

# The peers and tools from npm: node-resque (interop) and puppeteer-core (the dashboard's browser
# tests, which drive Debian's chromium: no browser is downloaded).
for dir in tests/interop tests/web; do
  if [ -f "$RESQUE_ROOT/$dir/package-lock.json" ]; then
    (cd "$RESQUE_ROOT/$dir" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
  fi
done

# The interop tests fail (rather than skip) when the peer is missing.
export RESQUE_REQUIRE_PEERS=1

build_dir=${BUILD_DIR:-$RESQUE_ROOT/build}
# shellcheck disable=SC2086
# Development and CI build with warnings as errors (a user's cmake build does not).
resque_build "$build_dir" -DRESQUE_WERROR=ON ${CMAKE_ARGS:-}
cd "$build_dir"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$(nproc)" --timeout 300 ${CTEST_ARGS:-}
