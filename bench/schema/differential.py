#!/usr/bin/env python3
"""Schema differential: loopc's schema verdict against the canonical schemas'.

How to run (from the repo root):

    python3 -m venv target/refvenv
    target/refvenv/bin/pip install -r bench/schema/requirements.txt   # or bench/requirements.txt
    CARGO_TARGET_DIR=/work/target-diff cargo build --release -j1
    target/refvenv/bin/python bench/schema/mutate.py --out target/schema-mutants
    target/refvenv/bin/python bench/schema/differential.py \\
        --loopc /work/target-diff/release/loopc --mutants target/schema-mutants

(`cargo test --test schema_differential` does all of this.)

Two corpora, each checked by ONE `loopc check --format json --no-config`
run and validated by this one Python run (reference_verdict.Reference, in
--jobs worker processes, default one per core):
  - the corpus: every ../shared/conformance/public/**/*.yaml (28 files) and
    loop-library/**/*.y*ml of this repo, as they are;
  - the mutants written by mutate.py (--mutants DIR, with its manifest.jsonl).

Per file, each side's verdict is one of
  valid        reference: no error from either schema;  loopc: no L101/L102
  invalid      reference: >= 1 error;                   loopc: >= 1 L101/L102
  load-error   reference: not one JSON-model document;  loopc: a syntax
               diagnostic L001-L011 (refused before, or besides, the schema)
and the file passes when both say the same. Each disagreement is printed with
its mutation (from the manifest), both verdicts, the reference's first
errors and loopc's L1xx/L0xx messages. As a check on the reference's
strict-JSON fast path, every --loader-sample-th mutant is also read through
ruamel and must give the identical value (a mismatch is a failure).

The reference validates `pattern` as ECMA-262 (see reference_verdict.py);
the summary's `ecma-regex` column counts the files on which Python's `re`
would have answered a pattern check differently, and --python-regex
validates with jsonschema's own `pattern` instead, to show what changes.

Ends with the line `schema-differential: N passed, M failed`; exits 1 if M > 0
(or if fewer than --min-mutants mutants were compared), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from reference_verdict import ROOT, LoadError, Reference, load_file  # noqa: E402

CONFORMANCE = ROOT.parent / "shared" / "conformance" / "public"
SYNTAX_CODES = {f"L{n:03d}" for n in range(1, 12)}
SCHEMA_CODES = {"L101", "L102"}


def corpus_files() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    if CONFORMANCE.is_dir():
        files += sorted(CONFORMANCE.rglob("*.yaml"))
    library = ROOT / "loop-library"
    if library.is_dir():
        files += sorted(p for p in library.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return files


def run_loopc(loopc: str, cwd: pathlib.Path, targets: list[str]) -> dict[pathlib.Path, list[dict]]:
    """One loopc run; diagnostics per resolved file path (files without any are absent)."""
    cmd = [loopc, "check", "--format", "json", "--no-config", "--color", "never", *targets]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"differential: `{' '.join(cmd[:6])} ...` exited {proc.returncode}\n{proc.stderr}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"differential: loopc did not print JSON ({e}):\n{proc.stdout[:2000]}\n{proc.stderr}")
    by_file: dict[pathlib.Path, list[dict]] = collections.defaultdict(list)
    for d in report["diagnostics"]:
        by_file[(cwd / d["file"]).resolve()].append(d)
    by_file["__summary__"] = report["summary"]  # type: ignore[index]
    return by_file


def loopc_verdict(diags: list[dict]) -> str:
    codes = {d["code"] for d in diags}
    if codes & SYNTAX_CODES:
        return "load-error"
    return "invalid" if codes & SCHEMA_CODES else "valid"


def ref_verdict(v: dict) -> str:
    if "load_error" in v:
        return "load-error"
    return "valid" if v["valid"] else "invalid"


def strict_equal(a: Any, b: Any) -> bool:
    """Equality that tells 1, 1.0 and True apart (and compares key order-free)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    return a == b


class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.rows: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def add(self, group: str, ok: bool, verdict: str, ref: dict | None = None) -> None:
        row = self.rows[group]
        row["files"] += 1
        if ref and ref.get("regex_dialect"):
            row["dialect"] += 1
        row[f"ref-{verdict}"] += 1
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            row["disagree"] += 1


_WORKER: Reference | None = None


def _init_worker(python_regex: bool) -> None:
    global _WORKER
    _WORKER = Reference(python_regex=python_regex)


def _verdict(path: pathlib.Path) -> dict:
    assert _WORKER is not None
    return _WORKER.verdict(path)


def reference_verdicts(files: list[pathlib.Path], jobs: int, python_regex: bool) -> list[dict]:
    """The reference verdict of every file, in order, in `jobs` worker processes."""
    if jobs <= 1 or len(files) < 200:
        _init_worker(python_regex)
        return [_verdict(f) for f in files]
    with concurrent.futures.ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(python_regex,)) as pool:
        return list(pool.map(_verdict, files, chunksize=64))


def describe_failure(path: pathlib.Path, ref: dict, diags: list[dict], mutation: dict | None, reference: Reference) -> str:
    lines = [f"DISAGREE {path}"]
    if mutation:
        lines.append(
            f"  mutation: {mutation['kind']} {mutation['op']} {mutation['pointer']} ({mutation['detail']})"
            f" source={mutation['source']}"
        )
        if mutation["op"] != "add":
            lines.append(f"    old: {json.dumps(mutation['old'], ensure_ascii=False)}")
        if mutation["op"] != "delete":
            lines.append(f"    new: {json.dumps(mutation['new'], ensure_ascii=False)}")
    lines.append(f"  reference: {ref_verdict(ref)} ({ref.get('load_error') or str(ref['errors']) + ' errors'})")
    if "load_error" not in ref:
        document = load_file(path)
        for e in reference.errors(document)[:5]:
            lines.append(f"    - {e.json_path}: {e.message[:160]}")
    relevant = [d for d in diags if d["code"] in SYNTAX_CODES | SCHEMA_CODES]
    lines.append(f"  loopc:     {loopc_verdict(diags)} ({len(relevant)} L0xx/L101/L102 diagnostics)")
    for d in relevant[:5]:
        lines.append(f"    - {d['code']} {d['line']}:{d['column']} {d['message'][:160]}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="loopc schema verdict vs the canonical schemas (Python jsonschema).")
    ap.add_argument("--loopc", default=os.environ.get("LOOPC"), help="loopc binary (default: $LOOPC)")
    ap.add_argument("--mutants", type=pathlib.Path, help="directory written by mutate.py")
    ap.add_argument("--min-mutants", type=int, default=0, help="fail if fewer mutants were compared")
    ap.add_argument("--loader-sample", type=int, default=10, help="re-read every Nth mutant via ruamel (0: never)")
    ap.add_argument("--no-corpus", action="store_true", help="skip the corpus (conformance + loop-library)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="reference worker processes")
    ap.add_argument(
        "--python-regex",
        action="store_true",
        help="validate `pattern` with Python's re (jsonschema's own) instead of ECMA-262",
    )
    args = ap.parse_args(argv)
    if not args.loopc:
        ap.error("give --loopc or set LOOPC")
    loopc = str(pathlib.Path(args.loopc).resolve())
    reference = Reference(python_regex=args.python_regex)
    tally = Tally()
    failures: list[str] = []

    # 1. The corpus, as it is.
    if not args.no_corpus:
        files = corpus_files()
        if not files:
            sys.exit(f"differential: no corpus files under {CONFORMANCE} or {ROOT / 'loop-library'}")
        got = run_loopc(loopc, ROOT, [str(f) for f in files])
        if got["__summary__"]["files"] != len(files):  # type: ignore[index]
            failures.append(f"loopc checked {got['__summary__']['files']} corpus files, expected {len(files)}")  # type: ignore[index]
            tally.failed += 1
        for f, ref in zip(files, reference_verdicts(files, 1, args.python_regex)):
            diags = got.get(f.resolve(), [])
            ok = ref_verdict(ref) == loopc_verdict(diags)
            group = "corpus:conformance" if CONFORMANCE in f.parents else "corpus:loop-library"
            tally.add(group, ok, ref_verdict(ref), ref)
            if not ok:
                failures.append(describe_failure(f, ref, diags, None, reference))

    # 2. The mutants.
    mutants_compared = 0
    loader_checked = 0
    if args.mutants:
        directory = args.mutants.resolve()
        manifest: dict[str, dict] = {}
        manifest_path = directory / "manifest.jsonl"
        if manifest_path.exists():
            for line in manifest_path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                manifest[entry["file"]] = entry
        files = sorted(list(directory.glob("*.json")) + list(directory.glob("*.yaml")))
        got = run_loopc(loopc, directory, ["."])
        if got["__summary__"]["files"] != len(files):  # type: ignore[index]
            failures.append(f"loopc checked {got['__summary__']['files']} mutant files, expected {len(files)}")  # type: ignore[index]
            tally.failed += 1
        verdicts = reference_verdicts(files, args.jobs, args.python_regex)
        for i, (f, ref) in enumerate(zip(files, verdicts)):
            diags = got.get(f.resolve(), [])
            mutation = manifest.get(f.name)
            ok = ref_verdict(ref) == loopc_verdict(diags)
            tally.add(f"mutant:{mutation['kind'] if mutation else '?'}", ok, ref_verdict(ref), ref)
            mutants_compared += 1
            if not ok:
                failures.append(describe_failure(f, ref, diags, mutation, reference))
            if args.loader_sample and i % args.loader_sample == 0 and f.suffix == ".json":
                loader_checked += 1
                try:
                    fast: Any = load_file(f)
                except LoadError as e:
                    fast = ("load-error", str(e))
                try:
                    slow: Any = load_file(f, yaml_only=True)
                except LoadError as e:
                    slow = ("load-error", str(e))
                if not strict_equal(fast, slow) and not (isinstance(fast, tuple) and isinstance(slow, tuple)):
                    failures.append(f"LOADER MISMATCH {f}: strict JSON and ruamel (YAML 1.2 core) read it differently")
                    tally.failed += 1

    for text in failures:
        print(text)
    print()
    print(
        f"{'group':30} {'files':>6} {'ref-valid':>9} {'ref-invalid':>11} {'ref-load-error':>14}"
        f" {'ecma-regex':>10} {'disagree':>8}"
    )
    total: collections.Counter = collections.Counter()
    for group in sorted(tally.rows):
        r = tally.rows[group]
        total.update(r)
        print(
            f"{group:30} {r['files']:6} {r['ref-valid']:9} {r['ref-invalid']:11} {r['ref-load-error']:14}"
            f" {r['dialect']:10} {r['disagree']:8}"
        )
    r = total
    print(
        f"{'total':30} {r['files']:6} {r['ref-valid']:9} {r['ref-invalid']:11} {r['ref-load-error']:14}"
        f" {r['dialect']:10} {r['disagree']:8}"
    )
    print("(ecma-regex: files on which a `pattern` check answered differently under Python's re than under ECMA-262)")
    print(f"mutants compared: {mutants_compared}")
    print(f"loader cross-checks (strict JSON vs ruamel): {loader_checked}")
    if mutants_compared < args.min_mutants:
        print(f"differential: only {mutants_compared} mutants compared, fewer than --min-mutants {args.min_mutants}")
        tally.failed += 1
    print(f"schema-differential: {tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
