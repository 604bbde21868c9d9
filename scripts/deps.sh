#!/usr/bin/env bash
# Installs what resque-cpp needs to build, test and run, when it is missing (Debian 12).
# Sourced by demo.sh, test.sh and bench/run.sh; safe to run again.
set -euo pipefail

# tzdata: the IANA zones cron schedules run in (core/cron.h). chromium and
# python3-prometheus-client: the dashboard's tests (a real browser, the Prometheus text parser).
# libssl-dev: TLS to Redis. openssl and redis-sentinel: the TLS tests' certificates and the
# failover test's sentinels. ruby-sidekiq: the second peer of bench/run.sh (bench/sidekiq).
resque_packages=(cmake ninja-build g++ pkg-config libhiredis-dev libssl-dev libsimdjson-dev libabsl-dev
  libconcurrentqueue-dev libcli11-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev redis-server
  lua-check ruby ruby-redis ruby-sidekiq tzdata
  chromium python3-prometheus-client
  openssl redis-sentinel)

resque_install_deps() {
  local missing=()
  for p in "${resque_packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # Node and npm come with the machine; Debian's npm conflicts with that nodejs, so only
  # install them when there are none at all.
  if ! command -v npm >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
}

# resque_build DIR [cmake args...]: configures (once) and builds into DIR: every target, or only
# those named in BUILD_TARGETS (space-separated).
resque_build() {
  local dir=$1
  shift
  cmake -S "$RESQUE_ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  local targets=()
  # shellcheck disable=SC2206
  [ -z "${BUILD_TARGETS:-}" ] || targets=(--target ${BUILD_TARGETS})
  cmake --build "$dir" --parallel "$(nproc)" "${targets[@]}"
}
