#!/usr/bin/env python3
"""Reference schema verdict for LSS files: the answer loopc's L101/L102 must match.

    python bench/schema/reference_verdict.py [--python-regex] FILE...

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

Regular expressions: Draft 2020-12 says `pattern` is an ECMA-262 regular
expression, but jsonschema (Python) runs it through Python's `re`, which
differs on exactly the constructs the LSS schemas use: `$` also matches
before a final "\n" (so `"my-loop\n"` would pass `^[a-z][a-z0-9-]*$`), and
`\d` matches any Unicode digit (so `"1.0.1\u0663"` would pass the semver
pattern). The JSON-Schema-Test-Suite checks both (optional/ecmascript-regex)
and python-jsonschema is known to fail them. So the reference validators are
Draft202012Validator with ONE keyword replaced: `pattern` compiles the
ECMA-262 pattern into an equivalent Python one (`$` -> `\Z`, `\d` ->
`[0-9]`, `\w` -> `[A-Za-z0-9_]`, `\s` -> ECMA white space and line
terminators, `.` -> not a line terminator; see `ecma_to_python`). Every
other keyword is jsonschema's own. `patternProperties` and
`additionalProperties` keep Python's `re`: the schemas' only such pattern,
`^x_`, means the same in both dialects (asserted at start-up). Each verdict
line carries `"regex_dialect": k` when k pattern checks on that file would
have gone the other way under Python's `re`; `--python-regex` restores
jsonschema's own `pattern` (to reproduce the difference).

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
 9. A `%YAML 1.1` directive does not switch to YAML 1.1 rules (nor does it
    in loopc): the core schema always applies.
10. Speed only, same result: a `.json` file that is strict JSON (RFC 8259,
    no duplicate keys, no NaN/Infinity) is read with Python's `json` module
    instead of ruamel, ~50x faster. JSON is YAML 1.2, and every JSON scalar
    resolves under the core schema exactly as `json` reads it (`1.0` float,
    `10` int, `true` bool, `null` None, big integers exact). A `.json` file
    that is not strict JSON goes through ruamel like any YAML file.
    bench/schema/differential.py re-reads a sample of the mutants through
    ruamel and fails if the two loaders ever disagree (strict equality: 1,
    1.0 and true are all different).
"""
from __future__ import annotations

import json
import math
import pathlib
import re
import sys
from typing import Any, Iterator

from jsonschema import Draft202012Validator, ValidationError, validators
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


# The fast path's hooks raise ValueError ("not strict JSON"): the file is then
# read as YAML, which decides (`NaN` unquoted, for one, is a YAML string).
def _reject_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"`{text}` is not a finite number")
    return value


def _unique_pairs(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key `{key}`")
        out[key] = value
    return out


def load_json_strict(text: str) -> Any:
    """Strict JSON with the YAML 1.2 core schema's result, or ValueError if not strict JSON."""
    root = json.loads(
        text,
        object_pairs_hook=_unique_pairs,
        parse_constant=_reject_constant,
        parse_float=_finite_float,
    )
    if not isinstance(root, dict):
        raise ValueError("root is not a mapping")
    return root


def load_file(path: str | pathlib.Path, yaml_only: bool = False) -> Any:
    """Load a file (see the header); `yaml_only` skips the strict-JSON fast path."""
    data = pathlib.Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8: {e}") from None
    if "\0" in text:
        raise LoadError("NUL byte")
    if str(path).endswith(".json") and not yaml_only:
        try:
            return load_json_strict(text)
        except (ValueError, RecursionError):
            pass  # not strict JSON: read it as YAML, as loopc does
    return load_text(text)


# --------------------------------------------------------------------------
# ECMA-262 `pattern`

# ECMA-262 WhiteSpace and LineTerminator code points (what `\s` matches).
ECMA_SPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ESCAPES_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[A-Za-z0-9_]",
    "W": "[^A-Za-z0-9_]",
    "s": f"[{ECMA_SPACE}]",
    "S": f"[^{ECMA_SPACE}]",
}
_ESCAPES_INSIDE = {"d": "0-9", "w": "A-Za-z0-9_", "s": ECMA_SPACE}


def ecma_to_python(pattern: str) -> str:
    """An ECMA-262 (non-multiline, non-unicode) pattern as a Python `re` pattern
    that matches the same strings, for the constructs where the two differ:
    `$`, `.`, `\d \D \w \W \s \S`. Raises ValueError on one it cannot
    translate faithfully (`\b`, `\B`, `\D \W \S` inside a class, `\Z`)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise ValueError(f"trailing backslash in {pattern!r}")
            n = pattern[i + 1]
            if in_class and n in _ESCAPES_INSIDE:
                out.append(_ESCAPES_INSIDE[n])
            elif not in_class and n in _ESCAPES_OUTSIDE:
                out.append(_ESCAPES_OUTSIDE[n])
            elif n in "bBDWSZAz" :
                raise ValueError(f"cannot translate `\\{n}` in {pattern!r}")
            else:
                out.append(c + n)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # ECMA: `[]` is an empty class
                raise ValueError(f"cannot translate an empty class in {pattern!r}")
        elif c == "$":
            out.append(r"\Z")
        elif c == ".":
            out.append("[^\n\r\u2028\u2029]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


_ECMA_CACHE: dict[str, tuple[re.Pattern, re.Pattern]] = {}
DIALECT_HITS = [0]  # pattern checks where Python's `re` would have answered otherwise


def _ecma_pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "string"):
        return
    compiled = _ECMA_CACHE.get(patrn)
    if compiled is None:
        compiled = _ECMA_CACHE[patrn] = (re.compile(ecma_to_python(patrn)), re.compile(patrn))
    ecma = compiled[0].search(instance) is not None
    if ecma != (compiled[1].search(instance) is not None):
        DIALECT_HITS[0] += 1
    if not ecma:
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


EcmaDraft202012Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def _pattern_property_keys(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from _pattern_property_keys(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _pattern_property_keys(value)


class Reference:
    """Both canonical validators, compiled once."""

    def __init__(self, python_regex: bool = False) -> None:
        cls = Draft202012Validator if python_regex else EcmaDraft202012Validator
        self.validators = []
        for path in SCHEMA_FILES:
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            for key in _pattern_property_keys(schema):
                # patternProperties/additionalProperties use Python's `re`: only
                # sound while the pattern means the same in both dialects.
                assert ecma_to_python(key) == key, f"{path.name}: patternProperties {key!r} differs in ECMA-262"
            self.validators.append(cls(schema))

    def errors(self, document: Any) -> list:
        return [e for v in self.validators for e in v.iter_errors(document)]

    def verdict(self, path: str | pathlib.Path) -> dict:
        try:
            document = load_file(path)
        except LoadError as e:
            return {"file": str(path), "valid": False, "errors": 0, "load_error": str(e)}
        DIALECT_HITS[0] = 0
        n = len(self.errors(document))
        out = {"file": str(path), "valid": n == 0, "errors": n}
        if DIALECT_HITS[0]:
            out["regex_dialect"] = DIALECT_HITS[0]
        return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    python_regex = "--python-regex" in argv
    reference = Reference(python_regex=python_regex)
    for path in argv:
        if path != "--python-regex":
            print(json.dumps(reference.verdict(path), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
