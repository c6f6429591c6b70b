#!/usr/bin/env python3
"""Reference schema verdict for LSS files: the answer loopc's L101/L102 must match.

    python bench/schema/reference_verdict.py FILE...

prints one JSON line per file, in the order given:

    {"file": "...", "valid": true, "errors": 0}
    {"file": "...", "valid": false, "errors": 3}
    {"file": "...", "valid": false, "errors": 0, "load_error": "duplicate key `id` ..."}

`valid` means valid under BOTH canonical schemas, each checked with
jsonschema's Draft202012Validator: schemas/lss-1.0.schema.json always, and
schemas/lss-1.1-composition.schema.json always too (it only constrains a
`composition` key, so it is vacuous for a document without one). `errors` is
the number of errors `iter_errors` yields, both schemas added up. A file that
cannot be loaded as one JSON-model document gets `load_error` (and loopc is
expected to refuse it with a syntax diagnostic, L001-L011).

Loading: ruamel.yaml's pure-Python parser, `YAML(typ="safe", pure=True)`,
with its resolver and constructor replaced so that the result is exactly the
YAML 1.2 *core schema* (spec 10.3.2), as loopc reads it. JSON files are read
the same way (JSON is YAML 1.2). Every normalisation, with the reason:

 1. Plain scalars are resolved by the core schema's regular expressions and
    nothing else: null = `~ null Null NULL` and empty; bool = `true True TRUE
    false False FALSE`; int = `[-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+`;
    float = `[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `.inf`
    and `.nan` spellings. ruamel's own "1.2" resolver goes further, and each
    extra is a plain string under the core schema, kept in its original
    spelling:
      - timestamps: `2024-01-01` and `2024-01-01T10:00:00Z` would become
        datetime.date / datetime.datetime; here they are the strings
        "2024-01-01" / "2024-01-01T10:00:00Z". No datetime object is ever
        built, so none has to be turned back into text (which would lose
        spellings such as `2024-1-1T1:00:00`).
      - `0b101` binary and `1_000` underscore-separated numbers would be
        ints (5, 1000): here strings.
      - signed hex/octal `-0x1F`, `+0o17` would be ints: here strings.
      - `=` would get the YAML 1.1 `!!value` tag (and fail to construct).
    As in the core schema, `yes no on off y n` are strings, `1.0` is a float,
    `0777` is the decimal int 777 and `0o17` is 15.
 2. `<<` is an ordinary string key: the core schema has no merge type, so
    no merge-key flattening happens.
 3. Mapping keys become JSON object keys (strings). A scalar key keeps its
    spelling: `1: x` gives key "1", `null: x` gives "null", `~: x` gives "~"
    (loopc does the same). A sequence or mapping used as a key is a load
    error (loopc: L011).
 4. A duplicate key (after 3) is a load error: YAML 1.2 forbids it (loopc:
    L002). ruamel would raise too; we raise our own error for the message.
 5. Explicit tags: only the core ones (`!!str !!int !!float !!bool !!null
    !!seq !!map`) are accepted, and a tagged scalar must match its tag's
    regular expression above (`!!float` also takes int spellings and gives a
    float). Any other tag (`!!timestamp`, `!!binary`, `!!set`, `!!merge`,
    local `!foo`, ...) is a load error (loopc: L011).
 6. Non-finite numbers (`.inf`, `.nan`, or a float literal beyond the f64
    range such as `1e400`) are a load error: JSON, the data model the
    schemas are written for, has no such values (loopc: L011). Integers of
    any size are kept exactly.
 7. An empty stream, more than one document, or a root that is not a
    mapping is a load error (loopc: L004, L003, L005).
 8. Aliases are expanded (the same Python object appears twice), which is
    what validating the JSON equivalent means.
"""
from __future__ import annotations

import json
import math
import pathlib
import re
import sys
from typing import Any

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import BaseResolver

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_FILES = [ROOT / "schemas" / "lss-1.0.schema.json", ROOT / "schemas" / "lss-1.1-composition.schema.json"]

T = "tag:yaml.org,2002:"

# YAML 1.2.2, 10.3.2 "Tag Resolution" (core schema), verbatim.
CORE_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
CORE_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
CORE_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
CORE_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class LoadError(Exception):
    """The file is not one JSON-model document (see the header, 3-7)."""


class CoreResolver(BaseResolver):
    """Implicit resolution by the YAML 1.2 core schema and nothing else."""

    def __init__(self, version: Any = None, loader: Any = None, loadumper: Any = None) -> None:
        # `version` (from a %YAML directive) is ignored: always the 1.2 core schema.
        BaseResolver.__init__(self, loader if loader is not None else loadumper)

    @property
    def processing_version(self) -> Any:  # keeps ruamel's constructors on their 1.2 paths
        return (1, 2)


CoreResolver.add_implicit_resolver_base(T + "null", CORE_NULL, ["~", "n", "N", ""])
CoreResolver.add_implicit_resolver_base(T + "bool", CORE_BOOL, list("tTfF"))
CoreResolver.add_implicit_resolver_base(T + "int", CORE_INT, list("-+0123456789"))
CoreResolver.add_implicit_resolver_base(T + "float", CORE_FLOAT, list("-+0123456789."))


def _mark(node: Any) -> str:
    m = node.start_mark
    return f"line {m.line + 1}, column {m.column + 1}"


class CoreConstructor(SafeConstructor):
    """Only the JSON data model: see the header, 2-6."""

    yaml_constructors: dict = {}

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if not isinstance(node, MappingNode):
            raise LoadError(f"expected a mapping at {_mark(node)}")
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:  # no flatten_mapping: `<<` is a plain key
            if not isinstance(key_node, ScalarNode):
                raise LoadError(f"a {key_node.id} used as a mapping key at {_mark(key_node)}")
            self._check_scalar(key_node)
            key = key_node.value  # the spelling, for strings and other scalars alike
            if key in mapping:
                raise LoadError(f"duplicate key `{key}` at {_mark(key_node)}")
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def _check_scalar(self, node: Any) -> None:
        tag = str(node.tag)
        if tag == T + "str":
            return
        text = node.value
        ok = {
            T + "null": CORE_NULL,
            T + "bool": CORE_BOOL,
            T + "int": CORE_INT,
        }.get(tag)
        if ok is not None:
            if not ok.match(text):
                raise LoadError(f"`{text}` is not a valid !!{tag[len(T):]} at {_mark(node)}")
        elif tag == T + "float":
            if not (CORE_FLOAT.match(text) or CORE_INT.match(text)):
                raise LoadError(f"`{text}` is not a valid !!float at {_mark(node)}")
        else:
            raise LoadError(f"unsupported tag `{tag}` at {_mark(node)}")

    def construct_core_scalar(self, node: Any) -> Any:
        self._check_scalar(node)
        tag = str(node.tag)
        text = node.value
        if tag == T + "null":
            return None
        if tag == T + "bool":
            return text in ("true", "True", "TRUE")
        if tag == T + "int":
            return self.construct_yaml_int(node)
        if tag == T + "float":
            value = float(self.construct_yaml_int(node)) if CORE_INT.match(text) else self.construct_yaml_float(node)
            if not math.isfinite(value):
                raise LoadError(f"`{text}` is not a finite number at {_mark(node)}")
            return value
        return text

    def construct_undefined(self, node: Any) -> Any:
        raise LoadError(f"unsupported tag `{node.tag}` at {_mark(node)}")


for _suffix in ("null", "bool", "int", "float", "str"):
    CoreConstructor.add_constructor(T + _suffix, CoreConstructor.construct_core_scalar)
CoreConstructor.add_constructor(T + "seq", SafeConstructor.construct_yaml_seq)
CoreConstructor.add_constructor(T + "map", SafeConstructor.construct_yaml_map)
CoreConstructor.add_constructor(None, CoreConstructor.construct_undefined)


def _yaml() -> YAML:
    y = YAML(typ="safe", pure=True)
    y.Resolver = CoreResolver
    y.Constructor = CoreConstructor
    return y


def _check_json_model(value: Any, where: str = "") -> None:
    """Belt and braces: after loading, only JSON types may remain."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LoadError(f"non-finite number at {where or '/'}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_model(item, f"{where}/{i}")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise LoadError(f"non-string key {k!r} at {where or '/'}")
            _check_json_model(item, f"{where}/{k}")
        return
    raise LoadError(f"{type(value).__name__} at {where or '/'} is not JSON data")


def load_text(text: str) -> Any:
    """Load one document as the YAML 1.2 core schema does; raise LoadError."""
    try:
        docs = list(_yaml().load_all(text))
    except LoadError:
        raise
    except (YAMLError, ValueError, RecursionError) as e:
        raise LoadError(f"invalid YAML: {' '.join(str(e).split())}") from None
    if not docs:
        raise LoadError("empty file: no YAML document")
    if len(docs) > 1:
        raise LoadError("more than one YAML document")
    root = docs[0]
    if not isinstance(root, dict):
        raise LoadError(f"the document root is {type(root).__name__}, not a mapping")
    _check_json_model(root)
    return root


def load_file(path: str | pathlib.Path) -> Any:
    data = pathlib.Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8: {e}") from None
    if "\0" in text:
        raise LoadError("NUL byte")
    return load_text(text)


class Reference:
    """Both canonical validators, compiled once."""

    def __init__(self) -> None:
        self.validators = []
        for path in SCHEMA_FILES:
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            self.validators.append(Draft202012Validator(schema))

    def errors(self, document: Any) -> list:
        return [e for v in self.validators for e in v.iter_errors(document)]

    def verdict(self, path: str | pathlib.Path) -> dict:
        try:
            document = load_file(path)
        except LoadError as e:
            return {"file": str(path), "valid": False, "errors": 0, "load_error": str(e)}
        n = len(self.errors(document))
        return {"file": str(path), "valid": n == 0, "errors": n}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    reference = Reference()
    for path in argv:
        print(json.dumps(reference.verdict(path), ensure_ascii=False), flush=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
