#!/usr/bin/env bash
# Builds resque-cpp as a packager would (Release, warnings as errors, no tests or benchmarks),
# installs it into a temporary prefix, and uses that prefix only, from copies of the examples
# outside the source tree: the README's job library built with CMake (find_package) and with one
# compiler line (pkg-config), each performed by the installed `resque work --load` against a
# redis-server of our own; the embedding program (resque::cli) and the testing kit's example
# (resque::testing) built and run. Non-zero on failure. CI runs it (.ci/run).
#   scripts/install_check.sh                  build into build-install/
#   BUILD_DIR=... CMAKE_ARGS="..." scripts/install_check.sh
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deps.sh
. "$RESQUE_ROOT/scripts/deps.sh"
# shellcheck source=redis.sh
. "$RESQUE_ROOT/scripts/redis.sh"
resque_install_deps

start=$(date +%s)
step() { echo "== install check [$(($(date +%s) - start))s] $*"; }
fail() {
  echo "install check: $*" >&2
  exit 1
}

work=$(mktemp -d /tmp/resque-install-check-XXXXXX)
redis_pid=""
redis_port=""
cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "build (Release, -DRESQUE_WERROR=ON, no tests, no benchmarks)"
build_dir=${BUILD_DIR:-$RESQUE_ROOT/build-install}
# shellcheck disable=SC2086
resque_build "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRESQUE_WERROR=ON -DRESQUE_BUILD_TESTS=OFF \
  -DRESQUE_BUILD_BENCH=OFF ${CMAKE_ARGS:-}

step "install into a temporary prefix"
prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
resque=$prefix/bin/resque
[ -x "$resque" ] || fail "no $resque"
# Nothing installed may point back at the source or build tree.
if grep -rlF -e "$RESQUE_ROOT" -e "$build_dir" "$prefix/include" "$prefix/lib"/cmake "$prefix/lib"/pkgconfig \
  2>/dev/null; then
  fail "the installed files above name the source or build tree"
fi

# Each example is compiled from a copy outside the source tree; its dependency list (every
# header the compiler read) must hold none of the source tree's.
from_source_tree() { grep -F "$RESQUE_ROOT/" "$@" && fail "a build read the source tree (above)"; true; }
export CMAKE_PREFIX_PATH=$prefix
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

step "job library with CMake: find_package(resque) (docs/examples/job-library)"
# The README quotes jobs.cc: its C++ block must be the file's text.
cmake -DDOC="$RESQUE_ROOT/README.md" -DSOURCE="$RESQUE_ROOT/docs/examples/job-library/jobs.cc" \
  -P "$RESQUE_ROOT/tests/testing/doc_blocks_check.cmake" >/dev/null
cp -r "$RESQUE_ROOT/docs/examples/job-library" "$work/job-library"
cmake -S "$work/job-library" -B "$work/job-library/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/job-library/build" >/dev/null
ninja -C "$work/job-library/build" -t deps >"$work/cmake-deps.txt"
from_source_tree "$work/cmake-deps.txt"

step "job library with one compiler line: pkg-config --cflags resque"
mkdir "$work/by-hand"
# shellcheck disable=SC2046
c++ -std=c++20 -O2 -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags resque) \
  -MD -MF "$work/by-hand/jobs.d" -o "$work/by-hand/libjobs.so" "$work/job-library/jobs.cc"
from_source_tree "$work/by-hand/jobs.d"

step "embedding program (resque::cli) and testing kit example (resque::testing)"
mkdir "$work/examples"
cp "$RESQUE_ROOT/docs/examples/"{CMakeLists.txt,embedded_worker.cc,send_email_test.cc} \
  "$work/examples/"
cmake -S "$work/examples" -B "$work/examples/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/examples/build" --parallel "$(nproc)" >/dev/null
ninja -C "$work/examples/build" -t deps >"$work/examples-deps.txt"
from_source_tree "$work/examples-deps.txt"
"$work/examples/build/send_email_test" --gtest_brief=1 >"$work/kit.txt" 2>&1 ||
  { cat "$work/kit.txt" >&2; fail "the testing kit's example failed"; }
"$work/examples/build/embedded_worker" --help | grep -q "work" ||
  fail "embedded_worker --help names no work command"

step "redis-server on a free loopback port"
resque_start_redis "$work"
url=redis://127.0.0.1:$redis_port

# perform WHAT QUEUE CLASS ARGS EXPECTED-LINE PROGRAM [WORK FLAGS...]: enqueues a tracked job with
# the installed `resque`, runs PROGRAM's worker in burst mode, and checks the job's stdout line and
# its status 4.
perform() {
  local what=$1 queue=$2 class=$3 args=$4 expected=$5 program=$6
  shift 6
  local id rc=0 status
  id=$("$resque" --redis "$url" enqueue "$queue" "$class" "$args" --track)
  timeout 60 "$program" --redis "$url" work --queue "$queue" --burst "$@" \
    >"$work/out.txt" 2>"$work/err.txt" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$work/err.txt" >&2; fail "$what: the worker exited with $rc"; }
  grep -qxF "$expected" "$work/out.txt" ||
    { cat "$work/out.txt" "$work/err.txt" >&2; fail "$what: no line '$expected'"; }
  status=$("$resque" --redis "$url" status "$id")
  [ "$status" = "Status of $id is: 4 (complete)" ] || fail "$what: $status"
  echo "   $what: $expected; $status"
}

step "the installed resque work --load performs PHP_Job from each library"
for lib in "$work/job-library/build/libjobs.so" "$work/by-hand/libjobs.so"; do
  perform "${lib#"$work"/}" default PHP_Job '{"name":"Chris"}' 'Hello! args=[{"name":"Chris"}]' \
    "$resque" --load "$lib"
done
perform embedded_worker mail SendEmail '{"to":"a@example.com"}' \
  'sending email [{"to":"a@example.com"}]' "$work/examples/build/embedded_worker"

step "done"
