#!/usr/bin/env bash
# The interpreter's own overhead per iteration, with `script` executors (no
# model, no process per step), with and without durable checkpointing, and
# one 10,000-iteration run. Prints a table; medians of 5 runs.
#
#   bench/runtime/run.sh            (builds loopc --release first)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q
LOOPC="$PWD/target/release/loopc"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

spec() { # $1 = max_iterations
  sed "s/__MAX__/$1/" bench/runtime/spec.yaml > "$work/spec-$1.yaml"
}
# The workspace is a directory of its own: the state directory may not be inside it.
mkdir -p "$work/ws"
cat > "$work/bindings.toml" <<TOML
[sandbox]
root = "ws"
[executors.replay]
kind = "script"
file = "$PWD/bench/runtime/responses.json"
[bind]
default = "replay"
TOML

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # $1 iterations, $2 sync mode -> median seconds of 5 runs
  local n=$1 mode=$2
  spec "$n"
  for _ in 1 2 3 4 5; do
    rm -rf "$work/state"
    /usr/bin/time -f "%e" -o "$work/t" "$LOOPC" run "$work/spec-$n.yaml" --bindings "$work/bindings.toml" \
      --state-dir "$work/state" --sync "$mode" --quiet --input task=bench > /dev/null || true
    tail -n1 "$work/t"
  done | median
}

printf "%-34s %10s %14s\n" "case" "median s" "per iteration"
for mode in off normal full; do
  for n in 1 201; do t[$n]=$(measure "$n" "$mode"); done
  per=$(awk -v a="${t[201]}" -v b="${t[1]}" 'BEGIN {printf "%.3f ms", (a-b)/200*1000}')
  printf "%-34s %10s %14s\n" "200 iterations, sync=$mode" "${t[201]}" "$per"
done
spec 10000
rm -rf "$work/state"
/usr/bin/time -f "%e s, %M KiB max RSS" -o "$work/t" "$LOOPC" run "$work/spec-10000.yaml" --bindings "$work/bindings.toml" \
  --state-dir "$work/state" --sync normal --quiet --input task=bench --format json > "$work/report.json" || true
printf "%-34s %s (%s)\n" "10,000 iterations, sync=normal" "$(tail -n1 "$work/t")" "$(python3 -c "import json;r=json.load(open('$work/report.json'))[0];print(r['status'],r['iterations'],'iterations:',r['reason'])")"
