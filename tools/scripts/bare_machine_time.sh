#!/usr/bin/env bash
# Times README's first command on a bare Debian 12 machine, as a new user would run it:
#   tools/scripts/bare_machine_time.sh REPO [--keep] [FILE...]
# (as root, on a Debian/Ubuntu host with network access to a Debian mirror.)
# A minimal bookworm root (debootstrap --variant=minbase, cached in $NF_BARE_DIR/base,
# default /var/tmp/nf-bare) is copied afresh, a `git clone REPO` (its HEAD) goes into
# /root/normforge, each FILE (a path in REPO) is copied from REPO's working tree over the
# clone (to try uncommitted changes), /proc, /sys, /dev and /usr/local/cuda (read-only)
# are bind-mounted, and inside the chroot, with an empty ccache, it times the three
# phases of `tools/setup.sh && build/normforge train configs/quickstart.yaml`:
#   apt    NF_SKIP_BUILD=1 tools/setup.sh      (apt-get update + install)
#   build  tools/setup.sh                      (configure + build; the package check is a no-op)
#   train  build/normforge train configs/quickstart.yaml
# and prints each phase's wall seconds, its CPU seconds (user + system, all processes; less
# sensitive to other load) and the host's load averages (`uptime`) before and after.
# --keep leaves the trial root (its path is printed) instead of deleting it.
set -euo pipefail
repo=$(realpath "${1:?usage: $0 REPO [--keep] [FILE...]}"); shift
keep=0 files=()
for a in "$@"; do case $a in --keep) keep=1 ;; *) files+=("$a") ;; esac; done
dir=${NF_BARE_DIR:-/var/tmp/nf-bare}
mirror=${NF_MIRROR:-$(grep -rhoE 'https?://deb\.debian\.org/debian/?' /etc/apt/sources.list* 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
mkdir -p "$dir"
if [ ! -f "$dir/base/.complete" ]; then
  rm -rf "$dir/base"
  debootstrap --variant=minbase bookworm "$dir/base" "$mirror" >"$dir/debootstrap.log"
  touch "$dir/base/.complete"
fi

root=$(mktemp -d "$dir/trial.XXXX")
cleanup() {
  for m in usr/local/cuda dev/pts dev sys proc; do umount "$root/$m" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "kept $root"
  elif grep -q " $root/" /proc/mounts; then echo "mounts left under $root: not deleted" >&2
  else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
cp -a "$dir/base/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q "$repo" "$root/root/normforge"
for f in "${files[@]}"; do mkdir -p "$(dirname "$root/root/normforge/$f")"; cp "$repo/$f" "$root/root/normforge/$f"; done
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/usr/local/cuda"
mount --bind "$(readlink -f /usr/local/cuda)" "$root/usr/local/cuda"
mount -o remount,bind,ro "$root/usr/local/cuda"

load() { cut -d' ' -f1-3 /proc/loadavg; }
run_phase() {  # NAME COMMAND: runs COMMAND in the chroot's clone, prints seconds and load
  local name=$1 cmd=$2 before t0 t1
  before=$(load); t0=$(date +%s.%N)
  if ! /usr/bin/time -f '%U %S' -o "$dir/$name.cpu" chroot "$root" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash -c "cd /root/normforge && $cmd" >"$dir/$name.log" 2>&1; then
    echo "$name FAILED (log: $dir/$name.log)"; tail -20 "$dir/$name.log"; exit 1
  fi
  t1=$(date +%s.%N)
  printf '%-6s %7.1f s   (cpu %6.1f s)   load before %s   after %s\n' "$name" "$(awk "BEGIN{print $t1 - $t0}")" \
    "$(awk '{print $1 + $2}' "$dir/$name.cpu")" "$before" "$(load)"
  total=$(awk "BEGIN{print $total + $t1 - $t0}")
}
total=0
echo "repo $repo ($(git -C "$repo" rev-parse --short HEAD)${files[*]:+ + ${files[*]}}), $(nproc) cores, $(date -u '+%F %H:%M UTC')"
run_phase apt   "NF_SKIP_BUILD=1 tools/setup.sh"
run_phase build "tools/setup.sh"
# where the build's time went: per-object compile times from ninja's log, summed by kind
awk -F'\t' 'NR > 1 {t = ($2 - $1) / 1000; k = $4 ~ /\.cu\.o$/ ? "CUDA objects" : $4 ~ /\.o$/ ? "C++ objects" : "links, other"
  s[k] += t; n[k]++} END {for (k in s) printf "         %s: %d, %.0f s summed\n", k, n[k], s[k]}' \
  "$root/root/normforge/build/.ninja_log" | sort
run_phase train "build/normforge train configs/quickstart.yaml"
awk -v t="$total" 'BEGIN{printf "total  %7.1f s   (%d min %02d s)\n", t, t/60, t%60}'
grep -h 'test loss' "$dir/train.log" | tail -1 || true
