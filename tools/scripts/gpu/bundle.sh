#!/usr/bin/env bash
# tools/scripts/gpu/bundle.sh [OUT_DIR]: a relocatable folder (default dist/gpu) that runs
# normforge and its GPU tests on a CUDA machine that has none of our Debian libraries
# (see /work/shared/GPU.md). It builds Release for sm_90 (H100/H200) without OpenCV
# into build-gpu/ (git-ignored), then lays out
#   OUT/run                 launcher: OUT/run PROGRAM [ARGS...] (PROGRAM in OUT/bin)
#   OUT/bin/                normforge, nf_tests (its */CUDA instances run there), nf_gpu_tests
#                           (stripped)
#                           bin/ and lib/ files over 4 MiB travel xz-compressed (FILE.xz:
#                           libdnnl is 38 MiB, 7 MiB so); OUT/run unpacks each once
#   OUT/lib/                every shared library they need except the C/C++ runtime,
#                           the driver (libcuda) and CUDA runtime/cuBLAS/cuDNN/NCCL, which
#                           the GPU machine has (pip's nvidia-* wheels under its Python)
#   OUT/configs/            the recipes
#   OUT/parity/             the PyTorch reference dumps the typed tests compare with
#                           (build/parity/*.safetensors, made by tests/parity/ref_*.py here)
#   OUT/data/cifar10-sample/cifar-10-batches-bin/   data_batch_1.bin, test_batch.bin, batches.meta.txt
#   OUT/tools/scripts/gpu/          check.sh, pytorch_gpu_bench.py (+ OUT/tools/scripts/bench/torch_models.py)
# and fails if the folder exceeds 60 MiB. Environment: NF_GPU_BUILD_DIR (build folder),
# NF_CIFAR_SAMPLE (folder holding cifar-10-batches-bin; default ../shared/data/cifar10-sample).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${1:-$REPO/dist/gpu}
BUILD=${NF_GPU_BUILD_DIR:-$REPO/build-gpu}
SAMPLE=${NF_CIFAR_SAMPLE:-$REPO/../shared/data/cifar10-sample}
LIMIT_MIB=60

die() { echo "bundle.sh: $*" >&2; exit 1; }

sample_bin=$SAMPLE/cifar-10-batches-bin
for f in data_batch_1.bin test_batch.bin batches.meta.txt; do
  [ -f "$sample_bin/$f" ] || die "CIFAR-10 sample file $sample_bin/$f not found (set NF_CIFAR_SAMPLE)"
done
# Never wipe a folder that is not an earlier bundle.
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ] && ! { [ -f "$OUT/run" ] && [ -d "$OUT/bin" ]; }; then
  die "$OUT exists and is not a bundle; give an empty or new folder"
fi

# --- build -------------------------------------------------------------------------
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DNF_WITH_CUDA=ON -DNF_WITH_OPENCV=OFF -DNF_BUILD_TESTS=ON "${launcher[@]}" >/dev/null
cmake --build "$BUILD" --target normforge nf_gpu_tests nf_tests
grep -q '^NF_WITH_OPENCV:BOOL=OFF' "$BUILD/CMakeCache.txt" || die "$BUILD was configured with OpenCV"
bins=("$BUILD/normforge" "$BUILD/nf_gpu_tests" "$BUILD/tests/nf_tests")
ls "$BUILD"/parity/*.safetensors >/dev/null 2>&1 || die "no PyTorch reference dumps in $BUILD/parity"
ldd "${bins[0]}" | grep -q 'libcudart\.so' || die "normforge was built without the CUDA backend (nvcc/cuDNN not found?)"

# --- lay out -------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/configs" "$OUT/parity" "$OUT/tools/scripts/gpu" "$OUT/tools/scripts/bench" "$OUT/data/cifar10-sample/cifar-10-batches-bin"
for b in "${bins[@]}"; do
  strip --strip-unneeded -o "$OUT/bin/$(basename "$b")" "$b"
done

# Shared libraries: ldd lists the whole closure; keep all but the system's and CUDA's.
# NCCL too (213 MiB here): PyTorch's nvidia-nccl wheel brings libnccl.so.2 (the launcher finds it).
system_libs='^(linux-vdso|ld-linux.*|libc|libm|libmvec|libpthread|libdl|librt|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libcudnn.*|libnccl)\.so'
ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r soname path; do
    if [[ $soname =~ $system_libs ]]; then continue; fi
    cp -L "$path" "$OUT/lib/$soname"
  done
if ldd "${bins[@]}" | grep -q 'not found'; then
  die "unresolved libraries: $(ldd "${bins[@]}" | grep 'not found' | sort -u | tr '\n' ' ')"
fi

cp "$REPO"/configs/*.yaml "$REPO/configs/README.md" "$OUT/configs/"
cp "$BUILD"/parity/*.safetensors "$OUT/parity/"
for f in data_batch_1.bin test_batch.bin batches.meta.txt; do
  cp "$sample_bin/$f" "$OUT/data/cifar10-sample/cifar-10-batches-bin/"
done
cp "$REPO/tools/scripts/gpu/check.sh" "$REPO/tools/scripts/gpu/pytorch_gpu_bench.py" "$OUT/tools/scripts/gpu/"
cp "$REPO/tools/scripts/bench/torch_models.py" "$OUT/tools/scripts/bench/"

cat >"$OUT/run" <<'LAUNCHER'
#!/usr/bin/env bash
# OUT/run PROGRAM [ARGS...]: runs bin/PROGRAM with the bundle's lib/ and the CUDA
# runtime, cuBLAS, cuDNN and NCCL folders of this machine's Python environment (pip's
# nvidia-* wheels: site-packages/nvidia/*/lib) on LD_LIBRARY_PATH, ahead of what is
# there already. NF_CUDA_LIB_DIRS (colon-separated) replaces the search. Without any
# such folder, /usr/local/cuda/lib64 and /usr/local/cuda/lib are used where present.
# Files the bundle carries xz-compressed (bin/FILE.xz, lib/FILE.xz) are unpacked next to
# themselves on the first run (xz, else Python's lzma).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for packed in "$here"/bin/*.xz "$here"/lib/*.xz; do
  [ -e "$packed" ] && [ ! -e "${packed%.xz}" ] || continue
  tmp=${packed%.xz}.unpacking.$$
  if command -v xz >/dev/null; then
    xz -dc "$packed" >"$tmp"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$packed" "$tmp"
  fi
  chmod --reference="$packed" "$tmp"
  mv -f "$tmp" "${packed%.xz}"
done
if [ $# -lt 1 ] || [ ! -x "$here/bin/$1" ]; then
  echo "usage: $0 PROGRAM [ARGS...], PROGRAM one of: $(ls "$here/bin" | sed 's/\.xz$//' | sort -u | tr '\n' ' ')" >&2
  exit 2
fi
prog=$1
shift
cuda_dirs=${NF_CUDA_LIB_DIRS-}
if [ -z "${NF_CUDA_LIB_DIRS+set}" ] && command -v python3 >/dev/null; then
  cuda_dirs=$(python3 - 2>/dev/null <<'PY' || true
import glob, os, site
wanted = {"libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libnccl.so.2", "libnvrtc.so.13",
          "libnvJitLink.so.13"}
roots = list(site.getsitepackages()) + [site.getusersitepackages()]
dirs = []
for root in roots:
    for pattern in ("nvidia/*/lib/lib*.so*", "nvidia/*/*/lib/lib*.so*"):
        for lib in sorted(glob.glob(os.path.join(root, pattern))):
            d = os.path.dirname(os.path.realpath(lib))
            if os.path.basename(lib) in wanted and d not in dirs:
                dirs.append(d)
print(":".join(dirs))
PY
)
fi
if [ -z "$cuda_dirs" ]; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
    [ -d "$d" ] && cuda_dirs=${cuda_dirs:+$cuda_dirs:}$d
  done
fi
export LD_LIBRARY_PATH="$here/lib${cuda_dirs:+:$cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/bin/$prog" "$@"
LAUNCHER
chmod +x "$OUT/run" "$OUT/tools/scripts/gpu/check.sh" "$OUT/tools/scripts/gpu/pytorch_gpu_bench.py"

# --- pack ----------------------------------------------------------------------------
# The big binaries and libraries travel xz-compressed (OUT/run unpacks them once).
for f in "$OUT"/bin/* "$OUT"/lib/*; do
  if [ "$(stat -c %s "$f")" -gt $((4 * 1024 * 1024)) ]; then xz -9 -T0 "$f"; fi
done

# --- size --------------------------------------------------------------------------
size_kib=$(du -sk "$OUT" | cut -f1)
echo "bundle: $OUT"
du -sh "$OUT"/bin/* "$OUT"/lib/* "$OUT/data" "$OUT/configs" "$OUT/parity" | sed 's/^/  /'
awk -v k="$size_kib" -v l="$LIMIT_MIB" 'BEGIN { printf "bundle total: %.1f MiB (limit %d MiB)\n", k / 1024, l }'
[ "$size_kib" -le $((LIMIT_MIB * 1024)) ] || die "bundle is over $LIMIT_MIB MiB"
