# Checkpoint manifests (issue 15): every checkpoint folder holds manifest.json (size and
# SHA-256 of each file). For each file of a checkpoint, one byte flipped in its middle and,
# separately, the file truncated to half its size must make loading fail (exit 1, one
# line naming the file): `normforge eval` of final/, `normforge train --resume` of an
# epoch checkpoint and `--resume auto`; `normforge verify` exits 1 with a BAD line naming
# it. An intact run verifies (exit 0); a folder without manifest.json (as written before
# manifests) is "unverified" (exit 2) and still loads.
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
need_sample
T0=$SECONDS

make_slice "$TMP/data" 256 64
recipe "$TMP/r.yaml" data.root="$TMP/data" trainer.epochs=2 trainer.checkpoint_every=1 \
  trainer.checkpoint_every_steps=3 trainer.log_every=100 trainer.out_dir=-
R="$TMP/run"
"$NF" train "$TMP/r.yaml" --set trainer.out_dir="$R" >/dev/null 2>&1 || fail "the training run failed"
for d in final checkpoints/epoch_0001 checkpoints/epoch_0002 checkpoints/best checkpoints/step_0000006; do
  [ -f "$R/$d/manifest.json" ] || fail "$d has no manifest.json: $(ls "$R/$d" 2>&1)"
done
"$PY" - "$R/final" <<'PYEOF' || fail "final/manifest.json is not as specified"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["format"] == "normforge-manifest-1", m
files = m["files"]
assert set(files) >= {"model.safetensors", "trainer_state.safetensors", "config.yaml"}, files
for name, e in files.items():
    data = open(os.path.join(d, name), "rb").read()
    assert e["size"] == len(data), (name, e)
    assert e["sha256"] == hashlib.sha256(data).hexdigest(), (name, e)
PYEOF

# An intact run: every folder ok, exit 0; one line per folder.
"$NF" verify "$R" >"$TMP/v" 2>&1 || { cat "$TMP/v" >&2; fail "normforge verify of an intact run exits $?"; }
folders=$(ls -d "$R"/final "$R"/checkpoints/* | grep -vc '\.tmp\.')
[ "$(grep -c '^ok ' "$TMP/v")" = "$folders" ] || { cat "$TMP/v" >&2; fail "verify: expected $folders 'ok' lines"; }
"$NF" verify "$R/final" >"$TMP/v" 2>&1 || fail "normforge verify of final/ exits $?"
[ "$(wc -l <"$TMP/v")" = 1 ] && grep -q '^ok ' "$TMP/v" || { cat "$TMP/v" >&2; fail "verify final/: one ok line"; }
"$NF" eval "$TMP/r.yaml" --checkpoint "$R/final" >/dev/null 2>&1 || fail "eval of the intact final/"

# corrupt FILE HOW: flip (one byte in the middle, inverted) or truncate (to half).
corrupt() {
  local size
  size=$(stat -c %s "$1")
  case $2 in
    flip) "$PY" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); i=len(b)//2; b[i]^=0xFF; open(p,"wb").write(b)' "$1" ;;
    truncate) truncate -s $((size / 2)) "$1" ;;
  esac
}
# A corrupted manifest.json itself may be reported as such or as a file it no longer
# matches: either names the folder; the other files must be named exactly.
names() { if [ "$2" = manifest.json ]; then echo "$1/"; else echo "$1/$2"; fi; }

cases=0
for f in model.safetensors trainer_state.safetensors config.yaml manifest.json; do
  for how in flip truncate; do
    C="$TMP/c"
    rm -rf "$C"
    cp -a "$R" "$C"
    # final/: eval (and verify of the folder and of the whole run)
    corrupt "$C/final/$f" "$how"
    expect_error 1 "$(names "$C/final" "$f")" -- "$NF" eval "$TMP/r.yaml" --checkpoint "$C/final"
    set +e
    "$NF" verify "$C/final" >"$TMP/v" 2>&1; rc1=$?
    "$NF" verify "$C" >"$TMP/v2" 2>&1; rc2=$?
    set -e
    [ "$rc1" = 1 ] && grep -q "^BAD .*$(names "$C/final" "$f")" "$TMP/v" ||
      { cat "$TMP/v" >&2; fail "verify final/ with $f ${how}ped: exit $rc1, expected 1 and a BAD line naming it"; }
    [ "$rc2" = 1 ] && [ "$(grep -c '^BAD ' "$TMP/v2")" = 1 ] && grep -q "^BAD .*$(names "$C/final" "$f")" "$TMP/v2" ||
      { cat "$TMP/v2" >&2; fail "verify OUT with final/$f ${how}ped: exit $rc2, expected 1 and one BAD line"; }
    # the newest checkpoint (epoch_0002): --resume auto and --resume DIR both refuse it
    # (a longer run, so that the resume would have work to do)
    E="$C/checkpoints/epoch_0002"
    corrupt "$E/$f" "$how"
    expect_error 1 "$(names "$E" "$f")" -- "$NF" train "$TMP/r.yaml" --set trainer.out_dir="$C" \
      --set trainer.epochs=3 --resume auto
    expect_error 1 "$(names "$E" "$f")" -- "$NF" train "$TMP/r.yaml" --set trainer.out_dir="$TMP/c2" \
      --set trainer.epochs=3 --resume "$E"
    [ ! -e "$TMP/c2/final" ] || fail "a refused --resume wrote final/"
    rm -rf "$TMP/c2"
    cases=$((cases + 1))
  done
done

# Older checkpoints (no manifest.json): unverified, exit 2, and still load.
C="$TMP/old"
cp -a "$R" "$C"
rm "$C/final/manifest.json"
set +e
"$NF" verify "$C/final" >"$TMP/v" 2>&1; rc1=$?
"$NF" verify "$C" >"$TMP/v2" 2>&1; rc2=$?
set -e
[ "$rc1" = 2 ] && grep -q '^unverified ' "$TMP/v" || { cat "$TMP/v" >&2; fail "verify of final/ without manifest: exit $rc1, expected 2"; }
[ "$rc2" = 2 ] && [ "$(grep -c '^unverified ' "$TMP/v2")" = 1 ] ||
  { cat "$TMP/v2" >&2; fail "verify OUT with one folder without manifest: exit $rc2, expected 2"; }
"$NF" eval "$TMP/r.yaml" --checkpoint "$C/final" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "eval of a folder without manifest"; }
rm "$C/checkpoints/epoch_0002/manifest.json"
"$NF" train "$TMP/r.yaml" --set trainer.out_dir="$C" --set trainer.epochs=3 --resume auto >"$TMP/log" 2>&1 ||
  { cat "$TMP/log" >&2; fail "--resume auto from a checkpoint without manifest"; }
grep -q "resumed from .*epoch_0002" "$TMP/log" || fail "did not resume from epoch_0002: $(cat "$TMP/log")"
# bad beats unverified: exit 1
corrupt "$C/checkpoints/epoch_0001/model.safetensors" flip
set +e
"$NF" verify "$C" >"$TMP/v" 2>&1; rc=$?
set -e
[ "$rc" = 1 ] || { cat "$TMP/v" >&2; fail "verify with a bad and an unverified folder: exit $rc, expected 1"; }
expect_error 1 "no such folder|no checkpoint" -- "$NF" verify "$TMP/nowhere"
mkdir "$TMP/empty"
expect_error 1 "no checkpoint" -- "$NF" verify "$TMP/empty"
echo "verify_checkpoints: $cases corruptions (4 files x flip/truncate), each refused by eval, verify (folder and run), --resume auto and --resume DIR; in $((SECONDS - T0)) s"
echo "verify_checkpoints: ok"
