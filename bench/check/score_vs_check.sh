#!/usr/bin/env bash
# Issue targets that compare loopc with itself, on the 1,000-file corpus:
#   - `loopc score DIR` takes at most 1.5x the time of `loopc check DIR`;
#   - the phase-graph analysis adds at most 20 % to check's time
#     (in-process: `cargo bench --bench check`, front: vs check: rows).
#
#   bash bench/check/score_vs_check.sh      (after cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/../.."
LOOPC=${LOOPC:-$PWD/target/release/loopc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/check/gen.py "$work" > /dev/null
hyperfine -N -i --warmup 3 -r 20 --export-json "$work/h.json" \
  "$LOOPC check --no-config --quiet $work/corpus" \
  "$LOOPC score $work/corpus" > /dev/null
python3 - "$work/h.json" <<'PY'
import json, sys
check, score = json.load(open(sys.argv[1]))["results"]
ratio = score["median"] / check["median"]
print(f"check 1,000 files: median {check['median']*1000:.1f} ms")
print(f"score 1,000 files: median {score['median']*1000:.1f} ms")
print(f"score / check: {ratio:.2f} (target <= 1.5): {'pass' if ratio <= 1.5 else 'FAIL'}")
PY
LOOPC_BENCH_CORPUS="$work/corpus" LOOPC_BENCH_RUNS=30 cargo bench -q --bench check 2>/dev/null | grep -E "corpus" | tee "$work/bench.txt"
python3 - "$work/bench.txt" <<'PY'
import re, sys
rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"bench (\w+):corpus: \d+ files, median ([\d.]+)", open(sys.argv[1]).read())}
if "front" in rows and "check" in rows:
    extra = rows["check"] / rows["front"] - 1
    print(f"analysis adds {extra*100:.1f} % to the front end (target <= 20 %): {'pass' if extra <= 0.2 else 'FAIL'}")
PY
