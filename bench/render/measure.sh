#!/usr/bin/env bash
# The natural size of each spec's rendered diagram, widest first: GitHub
# shows a pull-request comment about 920 px wide and scales a wider SVG down
# (text with it).
#
#   bench/render/measure.sh [--flags "DIAGRAM-FLAGS"] SPEC.yaml|DIAGRAM.mmd...
#
# Prints `WIDTHxHEIGHT SPEC` per spec (CSS px, Mermaid theme `default`), all
# rendered in one headless Chromium page. DIAGRAM-FLAGS go to `loopc diagram`.
set -euo pipefail
diagram_flags=()
if [ "${1:-}" = --flags ]; then read -ra diagram_flags <<<"$2"; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [--flags \"DIAGRAM-FLAGS\"] SPEC.yaml|DIAGRAM.mmd..." >&2; exit 2; }
source "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
drawn=()
files=()
for spec in "$@"; do
  f="$work/${#files[@]}.mmd"
  if mmd_of "$spec" "$f" "${diagram_flags[@]}"; then
    drawn+=("$spec")
    files+=("$f")
  else
    echo "$0: skipped $spec (loopc diagram failed)" >&2
  fi
done
node "$here/page.mjs" "$work/page.html" "$bundle" "${files[@]}"
read -ra sizes <<<"$(chrome_title "$work/page.html" "$work")"
for i in "${!drawn[@]}"; do
  echo "${sizes[$i]} ${drawn[$i]}"
done | sort -t x -k1,1nr
