#!/usr/bin/env python3
"""The editor schema (schemas/lss.schema.json) against the canonical schemas.

    python bench/schema/editor_schema.py PATH...

PATHs are files or directories (searched for *.yaml, *.yml, *.json). Needs
bench/schema/requirements.txt (jsonschema, ruamel.yaml), e.g. in target/refvenv.

Checks that the editor schema is a valid Draft 2020-12 schema
(Draft202012Validator.check_schema), then gives every file to both sides,
read as loopc reads it (reference_verdict.load_file, YAML 1.2 core schema):
the canonical verdict, valid under schemas/lss-1.0.schema.json AND
schemas/lss-1.1-composition.schema.json (reference_verdict.Reference), and
the editor schema's verdict, with the same validator class (ECMA-262
`pattern`). Prints each disagreement, then

    editor-schema: N files, V valid, I invalid, L not loadable; D disagree

and exits 1 if any file disagrees. tests/editor_schema.rs makes the same
comparison in Rust on the repository's own specs; this is the one with
another validator, and it takes bench/schema/mutate.py's mutants.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_verdict as ref  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def files(paths):
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml", ".json") and q.is_file())
        else:
            yield p


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    schema = json.loads((ROOT / "schemas/lss.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    editor = ref.EcmaDraft202012Validator(schema)
    canonical = ref.Reference()
    counts = {"files": 0, "valid": 0, "invalid": 0, "unloadable": 0, "disagree": 0}
    for path in files(argv):
        counts["files"] += 1
        try:
            document = ref.load_file(path)
        except ref.LoadError:
            counts["unloadable"] += 1
            continue
        theirs = not canonical.errors(document)
        ours = editor.is_valid(document)
        counts["valid" if theirs else "invalid"] += 1
        if ours != theirs:
            counts["disagree"] += 1
            first = next(iter(editor.iter_errors(document)), None)
            print(f"{path}: canonical {'valid' if theirs else 'invalid'}, editor {'valid' if ours else 'invalid'}"
                  + (f" ({first.json_path}: {first.message})" if first else ""))
    print("editor-schema: {files} files, {valid} valid, {invalid} invalid, {unloadable} not loadable; "
          "{disagree} disagree".format(**counts))
    return 1 if counts["disagree"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
