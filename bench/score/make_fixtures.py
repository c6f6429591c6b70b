#!/usr/bin/env python3
"""Convert the conformance specs to JSON fixtures for the loopc-score tests.

Run from the workspace root with an interpreter that has PyYAML (the loader
the reference `loopctl score` uses, so the fixtures hold exactly what it sees):

    /tmp/refvenv/bin/python bench/score/make_fixtures.py [../shared/conformance/public]

Writes crates/score/tests/fixtures/conformance/<path>.json plus index.tsv
(path, sha256 of the YAML source), which the tests compare with MANIFEST.tsv
so stale fixtures are caught.
"""
import hashlib
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "conformance" / "public"
OUT = ROOT / "crates" / "score" / "tests" / "fixtures" / "conformance"


def main() -> int:
    rows = []
    for path in sorted(SRC.rglob("*.yaml")):
        rel = path.relative_to(SRC).as_posix()
        raw = path.read_bytes()
        doc = yaml.safe_load(raw)
        dest = OUT / (rel + ".json")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
        rows.append(f"{rel}\t{hashlib.sha256(raw).hexdigest()}")
    (OUT / "index.tsv").write_text("path\tsha256\n" + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} fixtures to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
