#!/usr/bin/env bash
# Render `loopc diagram SPEC` to a PNG in headless Chromium, offline, with the
# mermaid bundle pinned in tests/mermaid (file://, no network).
#
#   bench/render/render.sh SPEC.yaml|DIAGRAM.mmd OUT.png
#
# Needs Debian's chromium (apt-get install chromium), node, and a built
# loopc: $LOOPC, else ${CARGO_TARGET_DIR:-target}/debug/loopc. Pass 1 renders
# at 1400x1600 and measures the diagram at its natural size (useMaxWidth off);
# pass 2 screenshots with the window fitted to it (20 px margin), so nothing
# is clipped and docs/images carry no empty canvas. The size is printed.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SPEC.yaml|DIAGRAM.mmd OUT.png" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
spec=$1
out=$(realpath -m "$2")
target=${CARGO_TARGET_DIR:-$repo/target}
loopc=${LOOPC:-$target/debug/loopc}
chromium=${CHROMIUM:-chromium}
command -v "$chromium" >/dev/null || { echo "$0: no $chromium (apt-get install chromium)" >&2; exit 2; }
bundle=$repo/tests/mermaid/node_modules/mermaid/dist/mermaid.min.js
if [ ! -f "$bundle" ]; then
  (cd "$repo/tests/mermaid" && npm ci --no-audit --no-fund)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case $spec in
  *.mmd) cp "$spec" "$work/diagram.mmd" ;;
  *)
    [ -x "$loopc" ] || { echo "$0: no loopc at $loopc (cargo build, or set LOOPC)" >&2; exit 2; }
    "$loopc" diagram "$spec" -o "$work/diagram.mmd"
    ;;
esac
node "$here/page.mjs" "$work/diagram.mmd" "$work/page.html" "$bundle"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --hide-scrollbars --virtual-time-budget=20000)

# Pass 1: render and measure.
"$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --window-size=1400,1600 \
  --dump-dom "file://$work/page.html" >"$work/dom.html" 2>"$work/chromium.log" || true
title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$work/dom.html" | head -1)
case $title in
  "rendered "*) ;;
  *)
    echo "$0: mermaid did not render $spec: $(grep -o 'MERMAID ERROR:[^<]*' "$work/dom.html" || echo "$title")" >&2
    exit 1
    ;;
esac
size=${title#rendered }
w=$(( ${size%x*} + 40 )); h=$(( ${size#*x} + 40 ))
(( w < 320 )) && w=320
(( h < 200 )) && h=200

# Pass 2: the screenshot.
mkdir -p "$(dirname "$out")"
"$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --window-size="$w,$h" \
  --screenshot="$out" "file://$work/page.html" >>"$work/chromium.log" 2>&1
[ -s "$out" ] || { echo "$0: chromium wrote no screenshot" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "$out: diagram ${size} px, window ${w}x${h}"
