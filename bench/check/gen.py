#!/usr/bin/env python3
"""Generate the inputs of the `loopc check` benchmarks (stdlib only).

    python3 bench/check/gen.py OUT_DIR [--repo DIR] [--conformance DIR]

writes
    OUT_DIR/corpus/      1,000 spec files: copies of the conformance corpus and
                         the team's loop-library, each group keeping its folder
                         layout so that composition `ref`s resolve, each file a
                         variant (unique `loop_name`, a comment naming the copy)
    OUT_DIR/huge.yaml    loop-library/code-repair.yaml with 17,000 more workers
                         (unique ids), about 5 MB, schema-valid LSS
    OUT_DIR/hostile/     the hostile inputs of target 4
and prints a JSON summary (file counts, bytes).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

CORPUS_FILES = 1000
HUGE_WORKERS = 17_000


def sources(repo: Path, conformance: Path) -> list[tuple[Path, Path]]:
    """(absolute source, path relative to the copy's root), sorted."""
    out = []
    for base, prefix in ((conformance, Path("public")), (repo / "loop-library", Path("team/loop-library"))):
        for p in sorted(base.rglob("*.yaml")):
            out.append((p, prefix / p.relative_to(base)))
    return out


LOOP_NAME = re.compile(rb"^(loop_name:[ \t]*)([^\s#]+)", re.M)


def variant(data: bytes, copy: int) -> bytes:
    data = LOOP_NAME.sub(lambda m: m.group(1) + m.group(2).strip(b"\"'") + b"-v%03d" % copy, data, count=1)
    return b"# benchmark copy %03d\n" % copy + data


def gen_corpus(out: Path, repo: Path, conformance: Path) -> dict:
    srcs = sources(repo, conformance)
    # Plain specs first so that a partial last copy holds no dangling refs.
    srcs.sort(key=lambda s: ("composition" in str(s[1]), str(s[1])))
    root = out / "corpus"
    if root.exists():
        shutil.rmtree(root)
    n = 0
    total = 0
    copy = 0
    while n < CORPUS_FILES:
        for src, rel in srcs:
            if n == CORPUS_FILES:
                break
            dst = root / ("g%03d" % copy) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            data = variant(src.read_bytes(), copy)
            dst.write_bytes(data)
            total += len(data)
            n += 1
        copy += 1
    return {"corpus_files": n, "corpus_bytes": total, "corpus_sources": len(srcs), "corpus_copies": copy}


WORKER = """\
  - id: reviewer_{i:05d}
    role: Review shard {i} of the patch
    model:
      provider: {provider}
      name: {model}
    depends_on: [localizer]
    inputs:
      - from: workers.localizer
    outputs:
      name: review_{i:05d}
      format: json
    timeout_seconds: {timeout}
"""

MODELS = [("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4"), ("openai", "gpt-4.1-mini")]


def gen_huge(out: Path, repo: Path) -> dict:
    base = (repo / "loop-library" / "code-repair.yaml").read_text(encoding="utf-8")
    marker = "\nevaluators:\n"
    head, tail = base.split(marker, 1)
    parts = [head.rstrip("\n") + "\n"]
    for i in range(HUGE_WORKERS):
        provider, model = MODELS[i % len(MODELS)]
        parts.append(WORKER.format(i=i, provider=provider, model=model, timeout=120 + i % 600))
    parts.append(marker)
    # One gate evaluator checks every reviewer, so that none is an unchecked
    # or unused worker (L411/L419): the spec is clean, not a warning flood.
    parts.append("  - id: review_gate\n    type: deterministic\n    runs_after:\n")
    parts.extend(f"      - reviewer_{i:05d}\n" for i in range(HUGE_WORKERS))
    parts.append("    implementation: evaluators.review_gate\n    aggregation: min\n")
    metric = (
        "  - name: review_pass_rate\n    definition: Share of the review shards that pass\n"
        "    source: evaluators.review_gate\n    unit: ratio\n    target: 1\n"
    )
    assert "\nmetrics:\n" in tail
    tail = tail.replace("\nmetrics:\n", "\nmetrics:\n" + metric, 1)
    text = "".join(parts) + tail
    path = out / "huge.yaml"
    path.write_text(text, encoding="utf-8")
    return {"huge_bytes": path.stat().st_size, "huge_workers": HUGE_WORKERS + 2}


def alias_bomb() -> bytes:
    lines = ["a0: &a0 [" + ", ".join(["x"] * 9) + "]"]
    for k in range(1, 9):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k-1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def gen_hostile(out: Path, repo: Path) -> dict:
    spec = (repo / "loop-library" / "code-repair.yaml").read_bytes()
    lines = spec.split(b"\n")
    # Line numbers (1-based) where each defect sits, for the report.
    broken_at = 30  # inside `workers:`
    broken = b"\n".join(lines[: broken_at - 1] + [b"  - id: [localizer, {unclosed"] + lines[broken_at - 1 :])
    dup_at = 3
    dup = b"\n".join(lines[: dup_at - 1] + [b"loop_name: code-repair-again"] + lines[dup_at - 1 :])
    nul = spec.replace(b"role: Rank the functions", b"role: Rank the\x00functions", 1)
    latin1 = spec.replace(b"objective: >", b"# r\xe9paration du code (Latin-1)\nobjective: >", 1)
    cases = {
        "empty": b"",
        "root-list": b"- loop_name: a\n- loop_name: b\n",
        "broken-yaml": broken,
        "duplicate-key": dup,
        "multi-document": spec + b"---\n" + spec,
        "nul-byte": nul,
        "latin1": latin1,
        "deep-nesting": b"[" * 100_000 + b"\n",
        "alias-bomb": alias_bomb(),
    }
    d = out / "hostile"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in cases.items():
        (d / f"{name}.yaml").write_bytes(data)
    return {"hostile": sorted(cases)}


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--repo", type=Path, default=here.parent.parent)
    ap.add_argument("--conformance", type=Path, default=here.parent.parent.parent / "shared" / "conformance" / "public")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    summary.update(gen_corpus(a.out, a.repo, a.conformance))
    summary.update(gen_huge(a.out, a.repo))
    summary.update(gen_hostile(a.out, a.repo))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
