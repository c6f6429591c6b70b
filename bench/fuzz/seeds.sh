#!/usr/bin/env bash
# The seed corpus of the fuzz target: the loop library, the public
# conformance corpus and every rule fixture, each file once (by content).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/fuzz/in}"
mkdir -p "$out"
dirs=()
for d in "$repo/loop-library" "$repo/../shared/conformance/public" "$repo/tests/fixtures/rules" "$repo/tests/fixtures/fuzz"; do
    [ -d "$d" ] && dirs+=("$d")
done
find "${dirs[@]}" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) 2>/dev/null |
while read -r f; do
    cp "$f" "$out/$(sha256sum "$f" | cut -c1-16)"
done
echo "$(ls "$out" | wc -l) seeds in $out"
