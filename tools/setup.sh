#!/usr/bin/env bash
# Installs what building and running normforge need (idempotent, quiet), then configures
# build/ (Release; the tests off unless tools/test.sh turned them on) and builds the
# `normforge` binary only. What only the tests need is installed by tools/test.sh.
#   tools/setup.sh                             install + build build/normforge
#   NF_SKIP_BUILD=1 tools/setup.sh             install only
#   NF_EXTRA_PACKAGES="p1 p2" tools/setup.sh   also install these, in the same apt run
#   NF_BUILD_TESTS=ON tools/setup.sh           configure with the tests and build everything
#                                              (tools/test.sh does both)
set -euo pipefail
cd "$(dirname "$0")/.."

# OpenCV: the four modules normforge links, not libopencv-dev (every module, ~190 packages
# more; its CMake config is then replaced by tools/cmake/opencv). dataset-fashion-mnist: the
# quickstart's data. Everything else is found by CMake at configure time.
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-headers libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev libonnx-dev libprotobuf-dev libssl-dev libopenmpi-dev openmpi-bin
  libopencv-core-dev libopencv-imgcodecs-dev libopencv-imgproc-dev libopencv-dnn-dev
  dataset-fashion-mnist
)
read -r -a extra <<<"${NF_EXTRA_PACKAGES:-}"
missing=()
for p in "${packages[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  # --force-unsafe-io: dpkg skips its fsync before each file's rename (as Debian's container
  # images do): the install took 241 s instead of 307 s here; only a crash in the middle of
  # the install could leave a file empty.
  $sudo_cmd apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
    "${missing[@]}" >/dev/null
fi

[ "${NF_SKIP_BUILD:-0}" = "1" ] && exit 0
tests=${NF_BUILD_TESTS:-OFF} target=(--target normforge)
[ "$tests" = ON ] && target=()
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNF_BUILD_TESTS="$tests" "${launcher[@]}" >/dev/null
elif [ "$tests" = ON ] && ! grep -q '^NF_BUILD_TESTS:BOOL=ON' build/CMakeCache.txt; then
  cmake build -DNF_BUILD_TESTS=ON >/dev/null  # configured by an earlier tools/setup.sh
fi
cmake --build build -j"$(nproc)" "${target[@]}"
