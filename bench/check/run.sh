#!/usr/bin/env bash
# Benchmarks of `loopc check` against `loopctl validate` (PyPI le-loopctl 0.5.0),
# all targets measured in one run; see docs/performance.md.
#
#   bash bench/check/run.sh [--quick] [--only t1,t2,t3,t4,t5] [--no-build]
#
# Does everything: installs hyperfine if missing (apt), creates the venv for
# loopctl under target/bench-venv if missing, builds loopc in release
# (CARGO_TARGET_DIR, default /work/target-bench if /work exists, else
# target/), generates the inputs into a temp dir, runs the targets and prints
# the summary table. Results (JSON, hyperfine exports, summary.md) go to
# $BENCH_OUT (default target/bench-check/). Expect ~5 minutes on 2 cores,
# most of it loopctl.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

quick=()
only=t1,t2,t3,t4,t5
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --only) only=$2; shift ;;
    --no-build) build=0 ;;
    *) echo "usage: bench/check/run.sh [--quick] [--only t1,...] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then CARGO_TARGET_DIR=/work/target-bench; else CARGO_TARGET_DIR=$repo/target; fi
fi
export CARGO_TARGET_DIR
out=${BENCH_OUT:-$repo/target/bench-check}
venv=$repo/target/bench-venv
conformance=$repo/../shared/conformance/public
spec=$conformance/standards/examples/multi-agent-loop.yaml
test -f "$spec" || { echo "run.sh: $spec is missing (../shared/conformance beside the repo)" >&2; exit 2; }

say() { printf '\n== %s (load %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

if ! command -v hyperfine >/dev/null; then
  say "installing hyperfine"
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
fi

if [ ! -x "$venv/bin/loopctl" ]; then
  say "creating $venv with le-loopctl==0.5.0"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q le-loopctl==0.5.0
fi

if [ "$build" = 1 ]; then
  say "building loopc (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo build --release --quiet
fi
loopc=$CARGO_TARGET_DIR/release/loopc

inputs=$(mktemp -d "${TMPDIR:-/tmp}/loopc-bench.XXXXXX")
trap 'rm -rf "$inputs"' EXIT
say "generating inputs in $inputs"
python3 bench/check/gen.py "$inputs" --repo "$repo" --conformance "$conformance" >&2

mkdir -p "$out"
cargo_bench=()
case ",$only," in
  *,t5,*)
    say "cargo bench --bench check"
    runs=300; [ ${#quick[@]} -gt 0 ] && runs=50
    LOOPC_BENCH_RUNS=$runs cargo bench --quiet --bench check | tee "$out/cargo-bench.txt" >&2
    cargo_bench=(--cargo-bench "$out/cargo-bench.txt")
    ;;
esac

say "running targets $only"
python3 bench/check/bench.py --loopc "$loopc" --venv "$venv" --inputs "$inputs" --out "$out" \
  --spec "$spec" --only "$only" "${cargo_bench[@]}" "${quick[@]}"
echo >&2
echo "results: $out/results.json, $out/summary.md" >&2
