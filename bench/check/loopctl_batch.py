#!/usr/bin/env python3
"""loopctl's fastest in-process batch: validate every spec under DIR in ONE process.

    python loopctl_batch.py [--mode function|cached] DIR

`loopctl validate FILE` is `loopforge.validate.validate_yaml_file(path,
lss_version="1.0")` (loopctl/cli.py, cmd_validate) behind argparse and a fresh
interpreter. Here the interpreter, the imports and the function are paid for
once:

  function  calls validate_yaml_file(path) for each file, exactly as the CLI
            does (it re-reads the bundled schema JSON and builds a
            Draft202012Validator per call);
  cached    the same function with the schema dict loaded once per LSS
            version; the version is chosen as validate_yaml_file chooses it
            (composition key or metadata.schema_version 1.1 -> 1.1), so the
            verdicts are identical. This saves the per-file schema read.

A file that makes the function raise (e.g. a YAML error) counts as `raised`,
as the CLI would traceback on it. Prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from loopforge.validate import load_schema, validate_spec, validate_yaml_file


def make_cached():
    schemas = {v: load_schema(lss_version=v) for v in ("1.0", "1.1")}

    # validate_yaml_file with the schema chosen up front needs the document
    # first; reproduce its body with the preloaded schemas (same calls).
    def validate(path: Path) -> list[str]:
        with path.open(encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        if not isinstance(spec, dict):
            return [f"Root element must be a mapping: {path}"]
        version = "1.1" if spec.get("composition") else "1.0"
        meta = spec.get("metadata") or {}
        if meta.get("schema_version") == "1.1":
            version = "1.1"
        return validate_spec(spec, schema=schemas[version], lss_version=version)

    return validate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["function", "cached"], default="function")
    ap.add_argument("dir", type=Path)
    a = ap.parse_args()
    files = sorted(p for ext in ("*.yaml", "*.yml", "*.json") for p in a.dir.rglob(ext))
    validate = validate_yaml_file if a.mode == "function" else make_cached()
    counts = {"files": len(files), "valid": 0, "invalid": 0, "raised": 0, "errors": 0}
    for path in files:
        try:
            errors = validate(path)
        except Exception:  # noqa: BLE001 - the CLI would traceback; count it
            counts["raised"] += 1
            continue
        counts["errors"] += len(errors)
        counts["invalid" if errors else "valid"] += 1
    counts["mode"] = a.mode
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
