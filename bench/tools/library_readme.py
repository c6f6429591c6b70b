#!/usr/bin/env python3
"""Regenerate the generated part of loop-library/README.md: one line per
template (`loopc new --list`), loopc's and loopctl's LES of each rendered
default, and each one's phase graph (`loopc diagram --format markdown
--compact`). The text outside the markers is written by hand.

Usage: bench/tools/library_readme.py [--loopc PATH] [--loopctl PATH]
(defaults: target/debug/loopc, target/refvenv/bin/loopctl, which the
differential tests install from bench/requirements.txt)."""
import json, pathlib, subprocess, sys, tomllib

root = pathlib.Path(__file__).resolve().parents[2]
arg = lambda name, default: sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default
loopc = arg("--loopc", str(root / "target/debug/loopc"))
loopctl = arg("--loopctl", str(root / "target/refvenv/bin/loopctl"))
BEGIN, END = "<!-- begin: bench/tools/library_readme.py -->", "<!-- end: bench/tools/library_readme.py -->"

def run(*args):
    return subprocess.run(args, cwd=root, check=True, capture_output=True, text=True).stdout

templates = []
for line in run(loopc, "new", "--list").splitlines():
    name, summary = line.split(None, 1)
    spec = run(loopc, "new", name)
    path = f"compositions/{name}.yaml" if "\ncomposition:" in spec else f"{name}.yaml"
    templates.append((name, summary.strip(), path))

rows = ["| template | spec | what the loop does | dry run (`--with-bindings`) | loopc LES | loopctl LES |", "|---|---|---|---|---|---|"]
diagrams = []
for name, summary, path in templates:
    file = f"loop-library/{path}"
    ours = json.loads(run(loopc, "score", "--format", "json", file))["scores"][0]["les"]
    theirs = json.loads(run(loopctl, "score", "--spec", file, "--json"))["les"]
    composition = path.startswith("compositions/")
    end = tomllib.loads((root / "templates" / name / "template.toml").read_text()).get("end_state")
    dry = {"succeeded": "succeeds", "awaiting_human": "waits for a person, then succeeds"}.get(end, "each child dry-runs")
    rows.append(f"| `{name}` | `{path}` | {summary} | {dry} | {ours:.1f} | {theirs:.1f} |")
    diagram = run(loopc, "diagram", "--format", "markdown", "--compact", file).strip()
    diagrams.append(f"<details><summary><code>{path}</code></summary>\n\n{diagram}\n\n</details>")

# The compositions' children rendered with values of their own (`[[children]] set`).
listed = {path for _, _, path in templates}
others = sorted(str(p.relative_to(root / "loop-library")) for p in (root / "loop-library").rglob("*.yaml"))
extra = ["", "Rendered as children of a composition, with the values it gives them:", "",
         "| spec | rendered from | loopc LES | loopctl LES |", "|---|---|---|---|"]
for path in (p for p in others if p not in listed):
    file = f"loop-library/{path}"
    ours = json.loads(run(loopc, "score", "--format", "json", file))["scores"][0]["les"]
    theirs = json.loads(run(loopctl, "score", "--spec", file, "--json"))["les"]
    source = "factory-phase" if path.startswith("factory-") else "code-review"
    extra.append(f"| `{path}` | `{source}` | {ours:.1f} | {theirs:.1f} |")
    diagram = run(loopc, "diagram", "--format", "markdown", "--compact", file).strip()
    diagrams.append(f"<details><summary><code>{path}</code></summary>\n\n{diagram}\n\n</details>")

generated = "\n".join([BEGIN, "", *rows, *extra, "", "### Phase graphs", "", *("\n\n".join(diagrams).splitlines()), "", END])
readme = root / "loop-library/README.md"
text = readme.read_text()
start, end = text.index(BEGIN), text.index(END) + len(END)
readme.write_text(text[:start] + generated + text[end:])
print(f"{readme.relative_to(root)}: {len(templates)} templates")
