#!/usr/bin/env python3
"""Run the `loopc check` vs `loopctl validate` benchmarks (driven by run.sh).

    python3 bench/check/bench.py --loopc BIN --venv DIR --inputs DIR --out DIR
                                 [--spec FILE] [--cargo-bench FILE] [--quick]

Targets (docs/performance.md explains each):
  t1  whole-process check of one 12 KB spec: hyperfine, both tools in one invocation
  t2  1,000 files: one `loopc check DIR` vs loopctl's in-process batch (hyperfine)
  t3  a ~5 MB spec with 17,000 workers: wall time and max RSS of both tools
  t4  hostile inputs: wall time, max RSS, exit status and message of both tools
  t5  the in-process `cargo bench --bench check` numbers (run by run.sh, parsed here)

Wall time and max RSS outside hyperfine come from os.wait4 on the child (the
same rusage GNU time's %e/%M report). loopctl runs under RLIMIT_AS = 4 GiB and
a wall-clock cap (60 s) so that an alias bomb cannot take the machine down.
Writes OUT/results.json and OUT/summary.md, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MIB = 1024 * 1024
LOOPCTL_AS_LIMIT = 4 * 1024 * MIB
LOOPCTL_TIMEOUT = 60.0


# ---------------------------------------------------------------- machine

def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def busiest() -> list[str]:
    """The other processes eating CPU right now (to explain noisy numbers)."""
    out = sh(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"])
    rows = []
    for line in out.splitlines()[:8]:
        pcpu, _, comm = line.strip().partition(" ")
        try:
            if float(pcpu) >= 5.0 and comm.strip() not in ("ps", "python3", "python"):
                rows.append(f"{comm.strip()} {pcpu}%")
        except ValueError:
            pass
    return rows


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem": mem,
        "kernel": platform.release(),
        "uptime": sh(["uptime"]),
        "hyperfine": sh(["hyperfine", "--version"]),
        "python": platform.python_version(),
        "git_head": sh(["git", "-C", str(Path(__file__).resolve().parents[2]), "rev-parse", "--short", "HEAD"]),
        "git_dirty_files": len(sh(["git", "-C", str(Path(__file__).resolve().parents[2]), "status", "--short", "--", "crates", "src"]).splitlines()),
    }


# ---------------------------------------------------------------- running

GNU_TIME = "/usr/bin/time"


def run_once(cmd: list[str], timeout: float | None = None, as_limit: int | None = None) -> dict:
    """Run cmd once: wall seconds, CPU seconds, max RSS (KiB), exit status, output.

    The max RSS is GNU time's %M: a child forked from this Python process
    would report Python's own resident set (the high-water mark survives
    exec), so /usr/bin/time, a small process, forks and measures the command.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:

        def limits() -> None:
            if as_limit:
                resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

        t0 = time.perf_counter()
        p = subprocess.Popen(
            [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=limits,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if timer:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        rss_lines = [ln for ln in rss.read().split("\n") if ln.strip()]
    rss_kib = int(rss_lines[-1]) if rss_lines and rss_lines[-1].strip().isdigit() else 0
    if rss_lines and not rss_lines[-1].strip().isdigit():
        stderr += "\n" + "\n".join(rss_lines)
    exit_code = p.returncode
    m = re.search(r"Command (?:terminated by signal|exited with non-zero status) (\d+)", "\n".join(rss_lines))
    if m and "signal" in m.group(0):
        exit_code = -int(m.group(1))
    return {
        "wall": wall,
        # wait4 on GNU time counts time itself plus the command (time's share is tiny).
        "cpu": ru.ru_utime + ru.ru_stime,
        "rss_kib": rss_kib,
        "exit": exit_code,
        "timed_out": killed.is_set(),
        "stdout": stdout if len(stdout) < 64_000_000 else stdout[:10000] + "\n...\n" + stdout[-10000:],
        "stderr": stderr if len(stderr) < 20000 else stderr[:10000] + "\n...\n" + stderr[-10000:],
    }


def run_many(cmd: list[str], runs: int, warmup: int = 0, **kw) -> dict:
    for _ in range(warmup):
        run_once(cmd, **kw)
    rs = [run_once(cmd, **kw) for _ in range(runs)]
    last = rs[-1]
    return {
        "cmd": cmd,
        "runs": runs,
        "wall_median": statistics.median(r["wall"] for r in rs),
        "wall_min": min(r["wall"] for r in rs),
        "cpu_median": statistics.median(r["cpu"] for r in rs),
        "rss_max_kib": max(r["rss_kib"] for r in rs),
        "exit": last["exit"],
        "timed_out": any(r["timed_out"] for r in rs),
        "stdout": last["stdout"],
        "stderr": last["stderr"],
        "loadavg": loadavg(),
    }


def hyperfine(name: str, out: Path, cmds: list[str], warmup: int, runs: int | None = None, min_runs: int | None = None) -> list[dict]:
    """One hyperfine invocation over cmds; per-command median/mean/user/system."""
    js = out / f"{name}.hyperfine.json"
    args = ["hyperfine", "-N", "-i", "--style", "basic", "--warmup", str(warmup), "--export-json", str(js)]
    if runs:
        args += ["--runs", str(runs)]
    if min_runs:
        args += ["--min-runs", str(min_runs)]
    print(f"[{name}] load {loadavg()}: {' | '.join(cmds)}", file=sys.stderr, flush=True)
    subprocess.run(args + cmds, check=True, stdout=subprocess.DEVNULL)
    res = json.loads(js.read_text())["results"]
    return [
        {
            "command": r["command"],
            "median": r["median"],
            "mean": r["mean"],
            "stddev": r.get("stddev"),
            "min": r["min"],
            "user": r["user"],
            "system": r["system"],
            "runs": len(r["times"]),
            "exit_codes": sorted(set(r.get("exit_codes") or [])),
        }
        for r in res
    ]


# ---------------------------------------------------------------- targets

def t1(a, out: Path) -> dict:
    loopc = [a.loopc, "check", "--no-config", "-q", a.spec]
    loopctl = [a.loopctl, "validate", a.spec]
    # Two reference points for loopc's fixed cost: the bare process, and a
    # check of an empty file (start-up + schema compilation, nothing to check).
    floor = [a.loopc, "--version"]
    empty = [a.loopc, "check", "--no-config", "-q", str(Path(a.inputs) / "hostile" / "empty.yaml")]
    hf = hyperfine(
        "t1", out, [" ".join(loopc), " ".join(loopctl), " ".join(floor), " ".join(empty)], warmup=5, min_runs=20 if a.quick else 40
    )
    rss_c = run_many(loopc, runs=5)
    rss_p = run_many(loopctl, runs=3)
    return {
        "size": Path(a.spec).stat().st_size,
        "loopc": hf[0] | {"rss_max_kib": rss_c["rss_max_kib"]},
        "loopctl": hf[1] | {"rss_max_kib": rss_p["rss_max_kib"]},
        "loopc_version": hf[2],
        "loopc_empty": hf[3],
        "target_s": 0.005,
        "pass": hf[0]["median"] <= 0.005,
        "loadavg_after": loadavg(),
    }


def t2(a, out: Path) -> dict:
    corpus = str(Path(a.inputs) / "corpus")
    loopc = [a.loopc, "check", "--no-config", "-q", corpus]
    batch = str(Path(__file__).resolve().parent / "loopctl_batch.py")
    fn = [a.python, batch, "--mode", "function", corpus]
    cached = [a.python, batch, "--mode", "cached", corpus]
    runs = 3 if a.quick else 5
    hf = hyperfine("t2", out, [" ".join(loopc), " ".join(fn), " ".join(cached)], warmup=1, runs=runs)
    # One more run of each for max RSS and the batch's own counts.
    c = run_once([a.loopc, "check", "--no-config", "--format", "json", corpus])
    f = run_once(fn, timeout=600, as_limit=LOOPCTL_AS_LIMIT)
    k = run_once(cached, timeout=600, as_limit=LOOPCTL_AS_LIMIT)
    best = min((hf[1], f, "function"), (hf[2], k, "cached"), key=lambda x: x[0]["median"])
    nfiles = sum(1 for p in Path(corpus).rglob("*") if p.is_file())
    try:
        sm = json.loads(c["stdout"])["summary"]
        summary = ", ".join(f"{k} {sm[k]}" for k in ("files", "files_with_errors", "errors", "warnings", "infos") if k in sm)
    except (ValueError, KeyError):
        summary = c["stdout"][-200:]
    return {
        "files": nfiles,
        "bytes": sum(p.stat().st_size for p in Path(corpus).rglob("*") if p.is_file()),
        "loopc": hf[0] | {"rss_max_kib": c["rss_kib"], "exit": c["exit"], "summary": summary},
        "loopctl_function": hf[1] | {"rss_max_kib": f["rss_kib"], "counts": f["stdout"].strip()},
        "loopctl_cached": hf[2] | {"rss_max_kib": k["rss_kib"], "counts": k["stdout"].strip()},
        "loopctl_best": best[2],
        "target_s": 0.25,
        "pass": hf[0]["median"] <= 0.25,
        "loadavg_after": loadavg(),
    }


def t3(a, out: Path) -> dict:
    huge = str(Path(a.inputs) / "huge.yaml")
    print(f"[t3] load {loadavg()}: huge spec", file=sys.stderr, flush=True)
    c = run_many([a.loopc, "check", "--no-config", "-q", huge], runs=3 if a.quick else 7, warmup=1)
    p = run_many([a.loopctl, "validate", huge], runs=1 if a.quick else 3, timeout=LOOPCTL_TIMEOUT * 2, as_limit=LOOPCTL_AS_LIMIT)
    for r in (c, p):
        r.pop("stdout"), r.pop("stderr")
    return {
        "bytes": Path(huge).stat().st_size,
        "workers": len(re.findall(r"^  - id: reviewer_", Path(huge).read_text(), re.M)) + 2,  # + localizer, fixer
        "loopc": c,
        "loopctl": p,
        "target_s": 1.0,
        "pass": c["wall_median"] < 1.0,
        "loadavg_after": loadavg(),
    }


LINE_COL = re.compile(r":(\d+):(\d+): (error|warning)\[(L\d+)\]: ([^\n]*)")
PY_EXC = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")
PY_MARK = re.compile(r'", line (\d+), column (\d+)')


def t4(a, out: Path) -> dict:
    rows = []
    for path in sorted((Path(a.inputs) / "hostile").iterdir()):
        print(f"[t4] load {loadavg()}: {path.name}", file=sys.stderr, flush=True)
        c = run_many([a.loopc, "check", "--no-config", "--color", "never", str(path)], runs=3 if a.quick else 10, warmup=1)
        p = run_once([a.loopctl, "validate", str(path)], timeout=LOOPCTL_TIMEOUT, as_limit=LOOPCTL_AS_LIMIT)
        m = LINE_COL.search(c["stdout"])
        clean = bool(m) and c["exit"] == 1 and not c["stderr"].strip()
        traceback = "Traceback (most recent call last)" in p["stderr"]
        exc = [ln for ln in p["stderr"].splitlines() if PY_EXC.match(ln)]
        marks = PY_MARK.findall(p["stderr"])
        first_line = next((ln.strip() for ln in (p["stderr"] + "\n" + p["stdout"]).splitlines() if ln.strip()), "")
        if p["timed_out"]:
            verdict = f"killed after {LOOPCTL_TIMEOUT:.0f} s"
        elif p["exit"] < 0:
            verdict = f"killed by signal {-p['exit']}"
        elif traceback:
            verdict = "traceback: " + (exc[-1][:80] if exc else "?")
        elif p["exit"] == 0:
            verdict = "accepted (exit 0): " + first_line[:60]
        else:
            verdict = f"exit {p['exit']}: " + first_line[:80]
        rows.append(
            {
                "input": path.stem,
                "bytes": path.stat().st_size,
                "loopc": {
                    "wall_median": c["wall_median"],
                    "cpu_median": c["cpu_median"],
                    "rss_max_kib": c["rss_max_kib"],
                    "exit": c["exit"],
                    "line": int(m.group(1)) if m else None,
                    "message": f"{m.group(4)} {m.group(5)}" if m else c["stdout"][:120],
                    "clean": clean,
                },
                "loopctl": {
                    "wall": p["wall"],
                    "rss_kib": p["rss_kib"],
                    "exit": p["exit"],
                    "timed_out": p["timed_out"],
                    "traceback": traceback,
                    "line": int(marks[-1][0]) if marks else None,
                    "verdict": verdict,
                },
                "pass": clean and c["wall_median"] < 0.1 and c["rss_max_kib"] < 50 * 1024,
            }
        )
    return {"rows": rows, "pass": all(r["pass"] for r in rows), "loadavg_after": loadavg()}


BENCH_LINE = re.compile(r"^bench (\S+): (\d+) files?, median ([\d.]+) µs/file, min ([\d.]+), p90 ([\d.]+), (\d+) runs", re.M)


def t5(a) -> dict:
    if not a.cargo_bench or not Path(a.cargo_bench).is_file():
        return {"rows": [], "note": "cargo bench output not given"}
    text = Path(a.cargo_bench).read_text()
    rows = [
        {"name": m[0], "files": int(m[1]), "median_us": float(m[2]), "min_us": float(m[3]), "p90_us": float(m[4]), "runs": int(m[5])}
        for m in BENCH_LINE.findall(text)
    ]
    return {"rows": rows}


# ---------------------------------------------------------------- report

def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.2f} s"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB" if kib >= 10 * 1024 else f"{kib / 1024:.1f} MiB"


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def summary(r: dict) -> str:
    L = []
    m = r["machine"]
    L.append(f"machine: {m['nproc']} cores, {m['cpu']}, {m['mem']}; load at start {r['load_start']}, at end {r['load_end']}")
    L.append(f"loopc at {m['git_head']} (+{m['git_dirty_files']} uncommitted files in crates/ src/), {r['started']}")
    if r.get("busy_start"):
        L.append(f"other processes at start: {', '.join(r['busy_start'])}")
    L.append("")
    if "t1" in r:
        t = r["t1"]
        c, p = t["loopc"], t["loopctl"]
        L.append(f"### Target 1 — whole-process check of one {t['size'] / 1024:.0f} KB spec (hyperfine, one invocation)")
        L.append("")
        L.append("| tool | median | mean ± σ | min | user+sys CPU | max RSS | runs |")
        L.append("|---|---|---|---|---|---|---|")
        for name, x in (
            ("loopc check", c),
            ("loopctl validate", p),
            ("(floor) `loopc --version`", t["loopc_version"]),
            ("(fixed cost) `loopc check` of an empty file", t["loopc_empty"]),
        ):
            rss = mib(x["rss_max_kib"]) if "rss_max_kib" in x else "—"
            L.append(
                f"| {name} | {ms(x['median'])} | {ms(x['mean'])} ± {ms(x['stddev'] or 0)} | {ms(x['min'])} | "
                f"{ms(x['user'] + x['system'])} | {rss} | {x['runs']} |"
            )
        L.append("")
        L.append(
            f"ratio loopctl/loopc (medians): **{p['median'] / c['median']:.1f}×**; target loopc median ≤ 5 ms: "
            f"{ms(c['median'])} → {verdict(t['pass'])}"
        )
        L.append("")
    if "t2" in r:
        t = r["t2"]
        c = t["loopc"]
        L.append(f"### Target 2 — {t['files']} files ({t['bytes'] / MIB:.1f} MiB), one process each (hyperfine, one invocation)")
        L.append("")
        L.append("| tool | median | min | user+sys CPU | max RSS | per file |")
        L.append("|---|---|---|---|---|---|")
        for name, x in (
            ("`loopc check DIR`", c),
            ("loopctl batch, `validate_yaml_file` per file", t["loopctl_function"]),
            ("loopctl batch, schema dicts cached", t["loopctl_cached"]),
        ):
            L.append(
                f"| {name} | {ms(x['median'])} | {ms(x['min'])} | {ms(x['user'] + x['system'])} | {mib(x['rss_max_kib'])} | "
                f"{x['median'] / t['files'] * 1e6:.0f} µs |"
            )
        best = t["loopctl_" + t["loopctl_best"]]
        L.append("")
        L.append(
            f"ratio loopctl fastest batch / loopc (medians): **{best['median'] / c['median']:.0f}×**; "
            f"target ≤ 0.25 s: {ms(c['median'])} → {verdict(t['pass'])}"
        )
        L.append(f"loopc: {c['summary']}; loopctl: {t['loopctl_function']['counts']}")
        L.append("")
    if "t3" in r:
        t = r["t3"]
        c, p = t["loopc"], t["loopctl"]
        L.append(f"### Target 3 — one {t['bytes'] / 1e6:.1f} MB spec, {t['workers']} workers")
        L.append("")
        L.append("| tool | median wall | CPU | max RSS | exit | runs |")
        L.append("|---|---|---|---|---|---|")
        for name, x in (("loopc check", c), ("loopctl validate", p)):
            L.append(
                f"| {name} | {ms(x['wall_median'])} | {ms(x['cpu_median'])} | {mib(x['rss_max_kib'])} | {x['exit']} | {x['runs']} |"
            )
        L.append("")
        L.append(
            f"ratio loopctl/loopc: **{p['wall_median'] / c['wall_median']:.0f}×** time, "
            f"**{p['rss_max_kib'] / c['rss_max_kib']:.1f}×** memory; target < 1 s: {ms(c['wall_median'])} → {verdict(t['pass'])}"
        )
        L.append("")
    if "t4" in r:
        t = r["t4"]
        L.append("### Target 4 — hostile inputs (loopc: median of runs; loopctl: one run, capped at 60 s and 4 GiB)")
        L.append("")
        L.append("| input | loopc wall (CPU) | loopc RSS | loopc says | line | verdict | loopctl wall | loopctl RSS | loopctl says | line |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in t["rows"]:
            c, p = row["loopc"], row["loopctl"]
            msg = c["message"].replace("|", "\\|")
            L.append(
                f"| {row['input']} | {ms(c['wall_median'])} ({ms(c['cpu_median'])}) | {mib(c['rss_max_kib'])} | {msg[:70]} | {c['line']} | "
                f"{verdict(row['pass'])} | {ms(p['wall'])} | {mib(p['rss_kib'])} | {p['verdict'].replace('|', '/')} | {p['line'] or '—'} |"
            )
        L.append("")
        L.append(f"target (< 100 ms, < 50 MiB, error with a line number, every input): {verdict(t['pass'])}")
        L.append("")
    if r.get("t5", {}).get("rows"):
        L.append("### Target 5 — in-process parse+check (`cargo bench --bench check`)")
        L.append("")
        L.append("| bench | files | median µs/file | min | p90 | runs |")
        L.append("|---|---|---|---|---|---|")
        for row in r["t5"]["rows"]:
            L.append(f"| {row['name']} | {row['files']} | {row['median_us']:.1f} | {row['min_us']:.1f} | {row['p90_us']:.1f} | {row['runs']} |")
        L.append("")
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loopc", required=True)
    ap.add_argument("--venv", required=True, type=Path)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--spec", default=str(Path(__file__).resolve().parents[3] / "shared/conformance/public/standards/examples/multi-agent-loop.yaml"))
    ap.add_argument("--cargo-bench", help="file holding the output of `cargo bench --bench check`")
    ap.add_argument("--only", default="t1,t2,t3,t4,t5")
    ap.add_argument("--quick", action="store_true", help="fewer runs (smoke test)")
    a = ap.parse_args()
    a.loopctl = str(a.venv / "bin" / "loopctl")
    a.python = str(a.venv / "bin" / "python")
    if not shutil.which("hyperfine"):
        print("bench.py: hyperfine is not installed (apt-get install -y hyperfine)", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    r: dict = {"machine": machine(), "load_start": loadavg(), "busy_start": busiest(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    only = set(a.only.split(","))
    if "t1" in only:
        r["t1"] = t1(a, a.out)
    if "t2" in only:
        r["t2"] = t2(a, a.out)
    if "t3" in only:
        r["t3"] = t3(a, a.out)
    if "t4" in only:
        r["t4"] = t4(a, a.out)
    if "t5" in only:
        r["t5"] = t5(a)
    r["load_end"] = loadavg()
    (a.out / "results.json").write_text(json.dumps(r, indent=2))
    text = summary(r)
    (a.out / "summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
