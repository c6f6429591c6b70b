#!/usr/bin/env bash
# Render `loopc diagram SPEC` to a PNG in headless Chromium, offline, with the
# mermaid bundle pinned in tests/mermaid (file://, no network), as GitHub
# shows it in light mode (theme `default` on white) or dark mode (theme
# `dark` on #0d1117).
#
#   bench/render/render.sh [--theme light|dark] SPEC.yaml|DIAGRAM.mmd OUT.png [DIAGRAM-FLAGS...]
#
# DIAGRAM-FLAGS go to `loopc diagram` (`--direction LR`, `--hide memory,inputs`).
# Needs Debian's chromium (apt-get install chromium), node, and a built
# loopc: $LOOPC, else ${CARGO_TARGET_DIR:-target}/debug/loopc. Pass 1 renders
# at 1400x1600 and measures the diagram at its natural size (useMaxWidth off);
# pass 2 screenshots with the window fitted to it (20 px margin), so nothing
# is clipped and no empty canvas is kept. The size is printed.
set -euo pipefail
theme=light
if [ "${1:-}" = --theme ]; then theme=$2; shift 2; fi
[ $# -ge 2 ] || { echo "usage: $0 [--theme light|dark] SPEC.yaml|DIAGRAM.mmd OUT.png [DIAGRAM-FLAGS...]" >&2; exit 2; }
source "$(dirname "$0")/lib.sh"
spec=$1
out=$(realpath -m "$2")
shift 2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmd_of "$spec" "$work/diagram.mmd" "$@"
node "$here/page.mjs" --theme "$theme" "$work/page.html" "$bundle" "$work/diagram.mmd"

size=$(chrome_title "$work/page.html" "$work")
w=$(( ${size%x*} + 40 )); h=$(( ${size#*x} + 40 ))
(( w < 320 )) && w=320
(( h < 200 )) && h=200

mkdir -p "$(dirname "$out")"
"$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --window-size="$w,$h" \
  --screenshot="$out" "file://$work/page.html" >>"$work/chromium.log" 2>&1
[ -s "$out" ] || { echo "$0: chromium wrote no screenshot" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "$out: diagram ${size} px ($theme), window ${w}x${h}"
