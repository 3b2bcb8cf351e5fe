#!/usr/bin/env bash
# Checks that framework/ includes point downward only (ARCHITECTURE.md, "Layers of the code"):
#   framework/core      includes only core
#   framework/autograd  includes only core, autograd
#   framework/backends  includes only core, backends
#   framework/ops       includes only core, autograd, backends, ops (not distributed, io, optim)
# and no file under framework/ includes layers/, models/, data/ or tools/.
# framework/distributed, io and optim are held only to that last rule. Include paths are
# written from the source root; a relative one ("../") is an offence too, as it hides the layer.
# Usage: check_layering.sh [source root]; prints each offending file and include, exit 1 if any.
set -euo pipefail
cd "${1:-.}"

declare -A allowed=(
  [core]="core"
  [autograd]="core autograd"
  [backends]="core backends"
  [ops]="core autograd backends ops"
)

bad=0
while IFS=: read -r file line text; do
  inc=${text#*\"} inc=${inc%%\"*}
  from=${file#framework/} from=${from%%/*}
  case "$inc" in
    layers/* | models/* | data/* | tools/*) why="framework/ includes nothing above it" ;;
    *../*) why="write include paths from the source root" ;;
    framework/*)
      to=${inc#framework/} to=${to%%/*}
      [[ -z "${allowed[$from]:-}" || " ${allowed[$from]} " == *" $to "* ]] && continue
      why="framework/$from may include only: ${allowed[$from]}" ;;
    *) continue ;;
  esac
  echo "$file:$line: includes $inc ($why)"
  bad=1
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' framework)

exit "$bad"
