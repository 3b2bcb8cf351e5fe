# Every shipped recipe parses, builds its model and runs one forward pass (summary).
source "$(dirname "$0")/common.bash"
for r in configs/*.yaml; do
  "$NF" summary "$r" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "$r"; }
  grep -q "total params" "$TMP/out" || fail "$r: no totals"
done
echo "recipes: ok"
