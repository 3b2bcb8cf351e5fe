#!/usr/bin/env bash
# Runs the whole test suite: installs and builds first if needed (tools/setup.sh is
# idempotent), then CTest. Long learning runs are labelled `long` and skipped unless
# --long is given. Extra arguments go to ctest (e.g. -R BatchNorm).
set -euo pipefail
cd "$(dirname "$0")/.."
label=(-LE long)
if [ "${1:-}" = "--long" ]; then
  label=()
  shift
fi
tools/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" "${label[@]}" "$@"
