#!/usr/bin/env bash
# Fuzzes what the worker decodes from the backend (tests/fuzz/payload_fuzzer.cc: payloads,
# statuses, failure records, the JSON layer) for a bounded time: builds the libFuzzer target with
# clang under ASan+UBSan in build-fuzz/, then runs it from the committed seed corpus.
#   scripts/fuzz.sh          60 seconds
#   scripts/fuzz.sh 600      ten minutes
# Exits non-zero on a finding: the input is saved in build-fuzz/findings/ and its name printed.
# Once fixed, commit it to tests/fuzz/corpus/ as found-<what it broke> (fuzz_corpus_test then
# runs it in every build).
set -euo pipefail
RESQUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$RESQUE_ROOT/scripts/deps.sh"
resque_install_deps clang libclang-rt-14-dev

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
build_dir=${BUILD_DIR:-$RESQUE_ROOT/build-fuzz}
cmake -S "$RESQUE_ROOT" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DRESQUE_FUZZ=ON \
  -DRESQUE_SANITIZE=address -DRESQUE_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)" --target payload_fuzzer

# New inputs go to the first directory (kept between runs, never committed); the seeds are read.
mkdir -p "$build_dir/fuzz-corpus" "$build_dir/findings"
seeds=$RESQUE_ROOT/tests/fuzz/corpus
echo "== fuzzing for ${seconds}s"
status=0
"$build_dir/tests/fuzz/payload_fuzzer" "$build_dir/fuzz-corpus" "$seeds" \
  -dict="$RESQUE_ROOT/tests/fuzz/json.dict" -max_total_time="$seconds" -max_len=16384 \
  -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 \
  -artifact_prefix="$build_dir/findings/" || status=$?
if ((status != 0)); then
  echo "== the fuzzer found something (exit $status): see $build_dir/findings/" >&2
  ls -1 "$build_dir/findings/" >&2
  exit 1
fi
echo "== no findings in ${seconds}s"
