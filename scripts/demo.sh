#!/usr/bin/env bash
# Command 1 of the README: installs what is missing, builds, runs `resque demo` (extra arguments
# are passed on, e.g. --redis redis://127.0.0.1:6379).
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$RESQUE_ROOT/scripts/deps.sh"
resque_install_deps
build_dir=${BUILD_DIR:-$RESQUE_ROOT/build}
resque_build "$build_dir" >&2
exec "$build_dir/cli/resque" "$@" demo
