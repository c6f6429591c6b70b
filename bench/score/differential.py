#!/usr/bin/env python3
"""Differential test: loopc-score vs the reference `loopctl score --json`.

How to run (from the workspace root):

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install le-loopctl==0.5.0
    CARGO_TARGET_DIR=/work/target-score cargo build -p loopc-score --example score_json -j1
    /tmp/refvenv/bin/python bench/score/differential.py \
        --score-json /work/target-score/debug/examples/score_json [--count 400] [--seed 4]

Sources: every *.yaml under loop-library/ (this repo) and
../shared/conformance/public/. Each is loaded with PyYAML (as the reference
does), written to a temp dir as JSON, and mutated into --count variants that
delete or alter the fields the scorer reads, switch between the canonical and
the list-form termination_conditions, add `les_scores` in several shapes, and
inject ill-typed values the reference crashes on. The reference runs once per
file (`loopctl score --spec F --json`); the Rust example scores all files in
one process and prints the default and the reference-parity LES.

A file passes when the parity LES is within 0.1 of the reference's, or when
both the reference fails ("Score failed") and loopc-score predicts that
failure (parity_les null). Where the default LES differs from the parity LES
(on purpose: the corrected defects), the reasons are tallied. Prints
`N passed, M failed` and exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "loop-library", ROOT.parent / "shared" / "conformance" / "public"]

CATS = ["effectiveness", "speed", "cost", "robustness", "scalability", "safety", "adaptability", "autonomy"]
SCORED_KEYS = ["evaluators", "metrics", "termination_conditions", "cost_limits", "safety_constraints",
               "workers", "inputs", "memory", "feedback_channels", "optimization_strategy",
               "taxonomy_level", "metadata"]


# ---------------------------------------------------------------- mutations
def m_delete(d, r):
    keys = [k for k in SCORED_KEYS if k in d]
    if not keys:
        return None
    del d[r.choice(keys)]
    return d


def _set_budget(d, n):
    t = d.get("termination_conditions")
    if isinstance(t, dict):
        fl = t.setdefault("failure", [])
        if not isinstance(fl, list):
            return None
        fl[:] = [c for c in fl if not (isinstance(c, dict) and c.get("type") == "max_iterations")]
        fl.append({"type": "max_iterations", "value": n, "action": "halt"})
    elif isinstance(t, list):
        t[:] = [c for c in t if not (isinstance(c, dict) and c.get("type") == "max_iterations")]
        t.append({"type": "max_iterations", "value": n})
    else:
        d["termination_conditions"] = {"failure": [{"type": "max_iterations", "value": n}]}
    return d


def m_budget(d, r):
    return _set_budget(d, r.choice([0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 15, 20, 21, 50, 100, 3.7, "8", -2]))


def m_budget_elsewhere(d, r):
    t = d.get("termination_conditions")
    if isinstance(t, dict):
        t["failure"] = [c for c in (t.get("failure") or []) if isinstance(c, dict) and c.get("type") != "max_iterations"]
    elif isinstance(t, list):
        t[:] = [c for c in t if isinstance(c, dict) and c.get("type") != "max_iterations"]
    which = r.choice(["cost", "opt", "both", "none", "valueless"])
    if which in ("cost", "both"):
        d.setdefault("cost_limits", {})
        if isinstance(d["cost_limits"], dict):
            d["cost_limits"]["max_iterations"] = r.choice([0, 2, 5, 12, 30])
    if which in ("opt", "both"):
        d.setdefault("optimization_strategy", {})
        if isinstance(d["optimization_strategy"], dict):
            d["optimization_strategy"]["max_steps"] = r.choice([0, 3, 8, 25, False])
    if which == "valueless" and isinstance(t, dict):
        t.setdefault("failure", []).append({"type": "max_iterations"})
    return d


def m_to_list(d, r):
    t = d.get("termination_conditions")
    if not isinstance(t, dict):
        return None
    out = []
    for c in t.get("success") or []:
        if isinstance(c, dict):
            out.append({"type": r.choice(["quality_threshold", "all_tests_pass"]), "value": c.get("value", 0.8)})
    for c in t.get("failure") or []:
        if isinstance(c, dict):
            out.append({k: v for k, v in c.items() if k in ("type", "value")})
    if r.random() < 0.3:
        out.append({"type": "stall", "window_iterations": 3})
    d["termination_conditions"] = out
    return d


def m_to_dict(d, r):
    t = d.get("termination_conditions")
    if not isinstance(t, list):
        return None
    out = {"success": [], "failure": []}
    for c in t:
        if isinstance(c, dict) and c.get("type") in ("quality_threshold", "all_tests_pass"):
            out["success"].append({"metric": "q", "operator": "gte", "value": c.get("value", 1.0)})
        elif isinstance(c, dict):
            out["failure"].append(c)
    if r.random() < 0.5:
        out["stall"] = [{"metric": "q", "window_iterations": 3, "min_improvement": 0.01, "action": "halt"}]
    d["termination_conditions"] = {k: v for k, v in out.items() if v}
    return d


def m_success_list(d, r):
    t = d.get("termination_conditions")
    if not isinstance(t, list):
        d["termination_conditions"] = t = [{"type": "max_iterations", "value": r.choice([4, 12])}]
    for _ in range(r.randint(1, 3)):
        t.append({"type": r.choice(["quality_threshold", "all_tests_pass", "safety_violation"]), "value": 0.9})
    return d


def m_success_dict(d, r):
    t = d.get("termination_conditions")
    if not isinstance(t, dict):
        return None
    choice = r.choice(["drop", "empty", "many", "stall_drop", "stall_add"])
    if choice == "drop":
        t.pop("success", None)
    elif choice == "empty":
        t["success"] = []
    elif choice == "many":
        t["success"] = [{"metric": "a", "operator": "gte", "value": 0.7}, {"metric": "b", "operator": "gte", "value": 0.9}]
    elif choice == "stall_drop":
        t.pop("stall", None)
    else:
        t["stall"] = [{"metric": "a", "window_iterations": 2, "min_improvement": 0.0, "action": "halt"}]
    return d


def m_cost(d, r):
    c = d.get("cost_limits")
    if not isinstance(c, dict):
        c = d["cost_limits"] = {}
    for k in ("token_soft_cap", "max_total_tokens", "cumulative_usd", "max_cost_usd"):
        if r.random() < 0.3:
            c.pop(k, None)
    if r.random() < 0.6:
        c[r.choice(["token_soft_cap", "max_total_tokens"])] = r.choice(
            [0, 5000, 10000, 10001, 12000, 50000, 50001, 100000, 100001, 250000, "12000", 7.9])
    if r.random() < 0.6:
        c[r.choice(["cumulative_usd", "max_cost_usd"])] = r.choice(
            [0, 0.25, 0.5, 0.51, 1, 2, 2.5, 10, 10.5, 50, "1.5"])
    return d


def _resize(lst, n, r):
    if not lst:
        return None
    out = [copy.deepcopy(lst[i % len(lst)]) for i in range(n)]
    for i, x in enumerate(out):
        if isinstance(x, dict) and "id" in x:
            x["id"] = f"{x['id']}_{i}"
    return out


def m_resize(d, r):
    key = r.choice(["workers", "evaluators", "metrics", "feedback_channels", "safety_constraints"])
    lst = d.get(key)
    if not isinstance(lst, list):
        return None
    new = _resize(lst, r.choice([0, 1, 2, 3, 4, 5, 7, 10]), r)
    if new is None:
        return None
    d[key] = new
    return d


def m_evaluator_fields(d, r):
    evs = d.get("evaluators")
    if not isinstance(evs, list) or not evs:
        return None
    for ev in evs:
        if not isinstance(ev, dict):
            continue
        x = r.random()
        if x < 0.2:
            ev.pop("rubric", None)
        elif x < 0.4 and isinstance(ev.get("rubric"), dict):
            ev["rubric"].pop(r.choice(["pass_threshold", "dimensions"]), None)
        elif x < 0.6:
            ev["threshold"] = r.choice([0.5, 0, None])
        elif x < 0.7:
            ev["rubric"] = {"dimensions": [], "pass_threshold": None}
    return d


def m_safety_actions(d, r):
    cs = d.get("safety_constraints")
    if not isinstance(cs, list) or not cs:
        d["safety_constraints"] = cs = [{"id": "g0", "type": "output_filter"}]
    for c in cs:
        if isinstance(c, dict):
            c["action"] = r.choice(["halt", "quarantine", "escalate", "escalate_human", "warn", "strip", None])
    return d


def m_level(d, r):
    d["taxonomy_level"] = r.choice([0, 1, 2, 3, 4, 5, 6, 10, -1, 2.5, True, False])
    return d


def m_inputs(d, r):
    choice = r.choice(["schema", "list", "none", "empty"])
    n = r.choice([0, 1, 2, 3, 4, 5, 6])
    if choice == "schema":
        d["inputs"] = {"schema": {f"f{i}": {"type": "string"} for i in range(n)}}
    elif choice == "list":
        d["inputs"] = [{"name": f"f{i}"} for i in range(n)]
    elif choice == "none":
        d.pop("inputs", None)
    else:
        d["inputs"] = {}
    return d


def m_memory(d, r):
    d["memory"] = r.choice([{}, None, "", {"type": "ephemeral"}, "vector", 0, [1]])
    return d


def m_optimizer(d, r):
    o = d.get("optimization_strategy")
    if not isinstance(o, dict):
        o = d["optimization_strategy"] = {}
    o["type"] = r.choice(["reflection", "prompt_refinement", "evolutionary", "beam_search",
                          "parameter_search", "memory_update", "manual", "structural", None])
    return d


def m_les_scores(d, r):
    shape = r.choice(["full", "full", "partial", "nulls", "strings", "list", "string", "number", "bad"])
    if shape == "full":
        d["les_scores"] = {c: round(r.uniform(-0.2, 1.2), 3) for c in CATS}
    elif shape == "partial":
        d["les_scores"] = {c: round(r.uniform(0, 1), 2) for c in r.sample(CATS, r.randint(1, 4))}
    elif shape == "nulls":
        d["les_scores"] = {c: None for c in r.sample(CATS, 3)}
    elif shape == "strings":
        d["les_scores"] = {c: str(round(r.uniform(0, 1), 2)) for c in r.sample(CATS, 2)}
    elif shape == "list":
        d["les_scores"] = r.choice([["speed", "cost"], [0.5, 0.6], []])
    elif shape == "string":
        d["les_scores"] = r.choice(["speed=0.9", "excellent", ""])
    elif shape == "number":
        d["les_scores"] = r.choice([0, 85, True])
    else:
        d["les_scores"] = {"speed": "fast"}
    return d


def m_ill_typed(d, r):
    """Shapes the reference cannot score (and a few it scores oddly)."""
    k = r.choice(["evaluators_str", "evaluators_strs", "evaluators_map", "constraints_map", "cost_list",
                  "level_str", "level_null", "budget_word", "workers_str", "metrics_str", "inputs_str",
                  "feedback_num", "term_items_str", "opt_str", "rubric_str", "cost_bool", "tokens_bool"])
    if k == "evaluators_str":
        d["evaluators"] = "pytest"
    elif k == "evaluators_strs":
        d["evaluators"] = ["pytest", "ruff"]
    elif k == "evaluators_map":
        d["evaluators"] = {"tests": {"id": "tests", "threshold": 1}}
    elif k == "constraints_map":
        d["safety_constraints"] = {"g": {"action": "halt"}}
    elif k == "cost_list":
        d["cost_limits"] = [{"cumulative_usd": 1}]
    elif k == "level_str":
        d["taxonomy_level"] = r.choice(["3", "high"])
    elif k == "level_null":
        d["taxonomy_level"] = None
    elif k == "budget_word":
        _set_budget(d, r.choice(["ten", "10.0", [10]]))
    elif k == "workers_str":
        d["workers"] = "solo-agent"
    elif k == "metrics_str":
        d["metrics"] = "accuracy"
    elif k == "inputs_str":
        d["inputs"] = "a task description"
    elif k == "feedback_num":
        d["feedback_channels"] = 2
    elif k == "term_items_str":
        d["termination_conditions"] = ["max_iterations", {"type": "max_iterations", "value": 4}]
    elif k == "opt_str":
        d["optimization_strategy"] = "reflection"
    elif k == "rubric_str":
        if isinstance(d.get("evaluators"), list) and d["evaluators"] and isinstance(d["evaluators"][0], dict):
            d["evaluators"][0]["rubric"] = "strict"
        else:
            return None
    elif k == "cost_bool":
        d.setdefault("cost_limits", {})
        if not isinstance(d["cost_limits"], dict):
            return None
        d["cost_limits"]["cumulative_usd"] = r.choice([True, False])
        d["cost_limits"].pop("max_cost_usd", None)
    elif k == "tokens_bool":
        d.setdefault("cost_limits", {})
        if not isinstance(d["cost_limits"], dict):
            return None
        d["cost_limits"]["token_soft_cap"] = True
    return d


MUTATIONS = [m_delete, m_budget, m_budget_elsewhere, m_to_list, m_to_dict, m_success_list, m_success_dict,
             m_cost, m_resize, m_evaluator_fields, m_safety_actions, m_level, m_inputs, m_memory,
             m_optimizer, m_les_scores, m_ill_typed]


# ---------------------------------------------------------------- running
def load_sources():
    docs = []
    for src in SOURCES:
        if not src.is_dir():
            continue
        for p in sorted(src.rglob("*.yaml")):
            try:
                doc = yaml.safe_load(p.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                continue
            if isinstance(doc, dict):
                docs.append((p.relative_to(src.parent).as_posix(), json.loads(json.dumps(doc, default=str))))
    return docs


def run_ref(loopctl, path):
    p = subprocess.run([loopctl, "score", "--spec", str(path), "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(p.stdout)["les"], None


def score_with_cli(loopc, directory, files):
    """Score every file with the real CLI, once in default and once in
    reference-parity mode, as the same records the example binary prints."""
    def run(*extra):
        p = subprocess.run([loopc, "score", "--format", "json", *extra, str(directory)], capture_output=True, text=True)
        if p.returncode not in (0, 1):
            raise SystemExit(f"loopc score failed ({p.returncode}): {p.stderr}")
        return {str(pathlib.Path(s["file"]).resolve()): s for s in json.loads(p.stdout)["scores"]}
    default, parity = run(), run("--reference-parity")
    records = []
    for f in files:
        key = str(pathlib.Path(f).resolve())
        d, q = default[key], parity[key]
        records.append({"file": str(f), "les": d["les"], "notes": d.get("notes", []),
                        "parity_les": None if q.get("reference_error") else q["les"],
                        "reference_error": q.get("reference_error")})
    return records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=400, help="mutated variants (besides the sources)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--loopctl", default=str(pathlib.Path(sys.executable).parent / "loopctl"))
    ap.add_argument("--score-json", default="/work/target-score/debug/examples/score_json")
    ap.add_argument("--loopc", help="score with this loopc binary's CLI (`loopc score --format json`) instead of --score-json")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    r = random.Random(args.seed)
    sources = load_sources()
    if not sources:
        print("no source specs found", file=sys.stderr)
        return 2
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="les-diff-"))
    files = []
    for i, (name, doc) in enumerate(sources):
        f = tmp / f"src-{i:03d}.json"
        f.write_text(json.dumps(doc), encoding="utf-8")
        files.append((f, name))
    made = 0
    while made < args.count:
        name, base = r.choice(sources)
        doc = copy.deepcopy(base)
        applied = []
        for _ in range(r.randint(1, 4)):
            m = r.choice(MUTATIONS)
            out = m(doc, r)
            if out is not None:
                doc = out
                applied.append(m.__name__[2:])
        if not applied:
            continue
        f = tmp / f"var-{made:04d}.json"
        f.write_text(json.dumps(doc), encoding="utf-8")
        files.append((f, f"{name} + {','.join(applied)}"))
        made += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        refs = list(pool.map(lambda fn: run_ref(args.loopctl, fn[0]), files))
    if args.loopc:
        ours = score_with_cli(args.loopc, tmp, [f for f, _ in files])
    else:
        out = subprocess.run([args.score_json, *[str(f) for f, _ in files]], capture_output=True, text=True, check=True)
        ours = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(ours) == len(files)

    passed = failed = exact = both_fail = differs = 0
    reasons: dict[str, int] = {}
    for (f, name), (ref_les, ref_err), mine in zip(files, refs, ours):
        par = mine.get("parity_les")
        if ref_les is None and par is None:
            ok = True
            both_fail += 1
        elif ref_les is not None and par is not None and abs(ref_les - par) <= 0.1 + 1e-9:
            ok = True
            exact += ref_les == par
        else:
            ok = False
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {f.name} ({name}): reference {ref_les if ref_err is None else 'error: ' + ref_err}, "
                  f"loopc parity {par} ({mine.get('reference_error')})")
        if par is None or mine["les"] != par:
            differs += 1
            for n in mine.get("notes", []):
                key = n.split(":")[0].split(";")[0][:70]
                if "reference loopctl score" in key:
                    continue
                reasons[key] = reasons.get(key, 0) + 1
    total = passed + failed
    print(f"{len(sources)} source specs, {made} variants; reference scored {total - both_fail}, "
          f"failed on {both_fail} (predicted by loopc); {exact} parity scores identical")
    print(f"default differs from parity on {differs} files (corrected defects); notes seen there:")
    for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {v:4d}  {k}")
    if failed or args.keep:
        print(f"files kept in {tmp}")
    else:
        shutil.rmtree(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
