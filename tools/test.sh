#!/usr/bin/env bash
# Runs the whole test suite: tools/setup.sh installs what building needs plus what only
# the tests need, turns the tests on in build/ and builds everything; then CTest. Long
# learning runs are labelled `long` and skipped unless --long is given. Extra arguments go
# to ctest (e.g. -R BatchNorm). Idempotent, like tools/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
label=(-LE long)
if [ "${1:-}" = "--long" ]; then
  label=()
  shift
fi
# GoogleTest (configure needs it with the tests on); PyTorch, torchvision, NumPy, PyYAML:
# the parity references and test oracles (/usr/bin/python3); ONNX's and OpenCV's Python
# bindings: the export checks; procps: pgrep/pkill in the multi-rank tests.
NF_BUILD_TESTS=ON NF_EXTRA_PACKAGES="libgtest-dev libgmock-dev python3-torch python3-torchvision python3-numpy
  python3-yaml python3-onnx python3-opencv procps" tools/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" "${label[@]}" "$@"
