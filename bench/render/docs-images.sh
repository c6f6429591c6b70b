#!/usr/bin/env bash
# Regenerate docs/images: each diagram the docs show, as GitHub draws it in
# light mode and in dark mode, then shrunk (pngquant and optipng when they
# are installed: apt-get install pngquant optipng).
#
#   bench/render/docs-images.sh
#
# Needs what render.sh needs (chromium, node, a built loopc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/docs/images
mkdir -p "$out"

# name, spec, loopc diagram flags
images=(
  "ci-self-healing|loop-library/ci-self-healing.yaml|"
  "ci-self-healing-compact|loop-library/ci-self-healing.yaml|--compact"
  "triage-then-repair|loop-library/compositions/triage-then-repair.yaml|"
)
for entry in "${images[@]}"; do
  IFS='|' read -r name spec flags <<<"$entry"
  read -ra extra <<<"$flags"
  for theme in light dark; do
    png=$out/$name-$theme.png
    "$here/render.sh" --theme "$theme" "$repo/$spec" "$png" "${extra[@]}"
    if command -v pngquant >/dev/null; then
      pngquant --force --skip-if-larger --quality 70-95 --output "$png" -- "$png" || true
    fi
    if command -v optipng >/dev/null; then
      optipng -quiet -o2 "$png"
    fi
  done
done
ls -l "$out"
