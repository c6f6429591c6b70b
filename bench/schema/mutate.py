#!/usr/bin/env python3
"""Single-field mutants of real LSS specs, for the schema differential.

    python bench/schema/mutate.py --out DIR [--count 6000] [--seed 1]

Sources: every `loop-library/**/*.yaml` of this repository (may be none yet)
and every `../shared/conformance/public/**/*.yaml` (relative to the repo
root), read with the reference loader (reference_verdict.load_file, YAML 1.2
core schema). A source that does not load is skipped (and said so).

Each mutant changes exactly one field of one source: it sets one value,
deletes one key or adds one key. Where a field is is found by walking the
document together with the canonical schemas (`$ref`, `allOf`, `if/then`,
the `oneOf` branch an evaluator's `type` selects), so the mutations aim at
the constraints that apply there. Kinds:

  wrong-type           string <-> integer <-> number <-> boolean <-> null <-> list <-> map
  out-of-range         negative, 0, huge (1e300, 10**30, 2**63, 2**64), fractional
                       where an integer is required, just past minimum/maximum
  boundary             exactly the minimum/maximum/exclusive bound, integral
                       floats (3.0) where an integer is required, -0.0
  length-bound         strings/lists one shorter/longer than minLength/maxLength,
                       minItems/maxItems, and astral-plane (emoji) strings of the
                       boundary length (code points, not bytes, count)
  unknown-enum         a value outside an enum/const: invented, upper-cased,
                       with a trailing space, `-` for `_`
  enum-swap            another allowed enum value (exercises if/then: persistent
                       memory needs a backend, max_iterations needs a value,
                       parallel composition needs merge)
  remove-required      delete a key the applicable schema requires
  remove-optional      delete a key it does not require (anyOf, if/then)
  extra-property       add a key to a mapping: unknown name, `x_` prefix, a
                       near-miss of an existing key (at the root, in workers,
                       evaluators, models, metrics, ...)
  pattern-violation    ids/names upper-cased, digit-first, with a space, a
                       trailing newline, a non-ASCII letter or Unicode digit;
                       bad semver (`1.0`, `v1.0.0`, `01.0.0`, `1.0.0-`); valid
                       semver with pre-release/build; broken reference paths
  empty                "" / [] / {} in place of a value
  evaluator-type-swap  an evaluator's `type` set to each other evaluator type
  duplicate-item       a list with uniqueItems gets a copy of its first item
  yaml-scalar          one value (or an added key) written as an unquoted YAML
                       scalar whose meaning depends on the YAML schema: `yes`,
                       `on`, `0o17`, `0777`, `1_000`, `0b101`, `1:30`, `.inf`,
                       `1e400`, `2024-01-01`, `<<`, `=` ... (these mutants are
                       .yaml: JSON text with one plain scalar, so YAML 1.2 only)

Candidates are gathered for every source and kind, shuffled with --seed, and
taken round-robin over kinds until --count mutants are written; a kind with
fewer candidates gives all it has. Within a kind, round-robin over the
mutation details (so every probe, e.g. each bad semver, is used) and within
a detail over the sources, those valid under the schemas first. A
mutant identical to its source or to an earlier mutant is dropped.
Deterministic: the same sources, --count and --seed give the same files.

Output: DIR/<source-stem>__<kind>__<n>.json (JSON, which is also YAML 1.2;
.yaml for yaml-scalar)
and DIR/manifest.jsonl, one line per mutant: file, source, kind, op
(set/delete/add), pointer (RFC 6901), detail, old and new value.
"""
from __future__ import annotations

import argparse
import collections
import copy
import json
import pathlib
import random
import re
import sys
from typing import Any, Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from reference_verdict import ROOT, SCHEMA_FILES, LoadError, Reference, load_file  # noqa: E402

from jsonschema import Draft202012Validator  # noqa: E402

SOURCE_DIRS = [ROOT / "loop-library", ROOT.parent / "shared" / "conformance" / "public"]

KINDS = [
    "wrong-type",
    "out-of-range",
    "boundary",
    "length-bound",
    "unknown-enum",
    "enum-swap",
    "remove-required",
    "remove-optional",
    "extra-property",
    "pattern-violation",
    "empty",
    "evaluator-type-swap",
    "duplicate-item",
    "yaml-scalar",
]

EVALUATOR_TYPES = ["deterministic", "llm_rubric", "human"]


# --------------------------------------------------------------------------
# Sources


def sources() -> list[pathlib.Path]:
    found = []
    for base in SOURCE_DIRS:
        if base.is_dir():
            found.extend(sorted(p for p in base.rglob("*.yaml") if p.is_file()))
    return found


def stems(paths: list[pathlib.Path]) -> dict[pathlib.Path, str]:
    """A short unique name per source: the stem, or parent.stem on a clash."""
    by_stem = collections.Counter(p.stem for p in paths)
    names: dict[pathlib.Path, str] = {}
    for p in paths:
        name = p.stem if by_stem[p.stem] == 1 else f"{p.parent.name}.{p.stem}"
        while name in names.values():
            name = "_" + name
        names[p] = name
    return names


# --------------------------------------------------------------------------
# Which schema constraints apply where


class Schemas:
    def __init__(self) -> None:
        self.roots = [json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_FILES]
        self._if_cache: dict[int, Draft202012Validator] = {}

    @staticmethod
    def deref(root: dict, ref: str) -> Any:
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _if_matches(self, schema: dict, instance: Any) -> bool:
        v = self._if_cache.get(id(schema))
        if v is None:
            v = self._if_cache[id(schema)] = Draft202012Validator(schema)
        return v.is_valid(instance)

    def applicable(self, pairs: list[tuple[dict, Any]], instance: Any) -> list[tuple[dict, dict]]:
        """Expand (root, schema) pairs through $ref, allOf, if/then and oneOf."""
        out: list[tuple[dict, dict]] = []
        stack = list(reversed(pairs))
        seen: set[int] = set()
        while stack:
            root, s = stack.pop()
            if not isinstance(s, dict) or id(s) in seen:
                continue
            seen.add(id(s))
            out.append((root, s))
            if "$ref" in s:
                stack.append((root, self.deref(root, s["$ref"])))
            for sub in s.get("allOf", []):
                stack.append((root, sub))
            if "if" in s and "then" in s and self._if_matches(s["if"], instance):
                stack.append((root, s["then"]))
            if "oneOf" in s:
                stack.extend((root, b) for b in self._branches(root, s["oneOf"], instance))
            # anyOf (termination_conditions) is left out: its branches' `required`
            # are alternatives, not requirements.
        return out

    def _branches(self, root: dict, branches: list, instance: Any) -> list:
        """The branch an evaluator's `type` selects, else every branch."""
        if isinstance(instance, dict) and isinstance(instance.get("type"), str):
            chosen = [b for b in branches if self._const_type(root, b) == instance["type"]]
            if chosen:
                return chosen
        return branches

    def _const_type(self, root: dict, schema: Any) -> Any:
        if isinstance(schema, dict) and "$ref" in schema:
            schema = self.deref(root, schema["$ref"])
        for part in schema.get("allOf", []) if isinstance(schema, dict) else []:
            const = part.get("properties", {}).get("type", {}).get("const")
            if const is not None:
                return const
        return None

    def children(self, applicable: list[tuple[dict, dict]], container: Any, key: Any) -> list[tuple[dict, Any]]:
        out = []
        for root, s in applicable:
            if isinstance(container, dict):
                props = s.get("properties", {})
                if key in props:
                    out.append((root, props[key]))
                    continue
                matched = False
                for pattern, sub in s.get("patternProperties", {}).items():
                    if re.search(pattern, key):
                        out.append((root, sub))
                        matched = True
                if not matched and isinstance(s.get("additionalProperties"), dict):
                    out.append((root, s["additionalProperties"]))
            elif isinstance(container, list):
                prefix = s.get("prefixItems", [])
                if key < len(prefix):
                    out.append((root, prefix[key]))
                elif isinstance(s.get("items"), dict):
                    out.append((root, s["items"]))
        return out


class Site:
    """One value in a document and the constraints that apply to it."""

    def __init__(self, path: tuple, value: Any, schemas: list[dict]) -> None:
        self.path = path
        self.value = value
        self.schemas = schemas

    def collect(self, key: str) -> list:
        return [s[key] for s in self.schemas if key in s]

    def first(self, key: str) -> Any:
        found = self.collect(key)
        return found[0] if found else None

    @property
    def types(self) -> set:
        out: set = set()
        for t in self.collect("type"):
            out.update([t] if isinstance(t, str) else t)
        return out

    @property
    def enums(self) -> list:
        out = []
        for e in self.collect("enum"):
            out.extend(e)
        for c in self.collect("const"):
            out.append(c)
        return out

    @property
    def required(self) -> set:
        out: set = set()
        for r in self.collect("required"):
            out.update(r)
        return out


def walk(schemas: Schemas, document: dict) -> list[Site]:
    sites: list[Site] = []
    start = [(root, root) for root in schemas.roots]

    def visit(path: tuple, value: Any, pairs: list) -> None:
        applied = schemas.applicable(pairs, value)
        sites.append(Site(path, value, [s for _, s in applied]))
        if isinstance(value, dict):
            for k, v in value.items():
                visit(path + (k,), v, schemas.children(applied, value, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                visit(path + (i,), v, schemas.children(applied, value, i))

    visit((), document, start)
    return sites


# --------------------------------------------------------------------------
# Mutations

DELETE = object()


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def pointer(path: tuple) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class Raw:
    """A plain (unquoted) YAML scalar, written as is: such a mutant is YAML
    (a JSON text with one unquoted scalar), saved as .yaml."""

    PLACEHOLDER = "\u2063raw-scalar\u2063"  # INVISIBLE SEPARATOR: in no source

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"plain `{self.text}`"


class Candidate:
    __slots__ = ("kind", "op", "path", "key", "value", "detail")

    def __init__(self, kind: str, op: str, path: tuple, value: Any, detail: str, key: Any = None) -> None:
        self.kind, self.op, self.path, self.value, self.detail, self.key = kind, op, path, value, detail, key

    @property
    def raw(self) -> Raw | None:
        for x in (self.value, self.key):
            if isinstance(x, Raw):
                return x
        return None

    def apply(self, document: dict) -> dict:
        doc = copy.deepcopy(document)
        value = Raw.PLACEHOLDER if isinstance(self.value, Raw) else copy.deepcopy(self.value)
        if self.op == "add":
            target = doc
            for p in self.path:
                target = target[p]
            target[Raw.PLACEHOLDER if isinstance(self.key, Raw) else self.key] = value
            return doc
        parent = doc
        for p in self.path[:-1]:
            parent = parent[p]
        last = self.path[-1]
        if self.op == "delete":
            del parent[last]
        else:
            parent[last] = value
        return doc

    def render(self, mutant: dict) -> str:
        text = json.dumps(mutant, ensure_ascii=False, indent=1) + "\n"
        raw = self.raw
        if raw is not None:
            quoted = json.dumps(Raw.PLACEHOLDER, ensure_ascii=False)
            assert text.count(quoted) == 1, "placeholder must occur once"
            text = text.replace(quoted, raw.text)
        return text


# Plain scalars whose meaning differs between YAML 1.1, ruamel's "1.2" and the
# YAML 1.2 core schema, or that are not JSON numbers at all.
YAML_VALUE_SPELLINGS = [
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "True", "FALSE", "tRUE",
    "~", "Null", "NULL",
    "0o17", "0x1F", "0777", "+12", "-0", "1_000", "0b101", "-0x1F", "0X1F", "0o8", "1:30",
    "1.", ".5", "+.5", "1e3", "1E3", "12e03", "1.0", "-1.5e-3",
    ".inf", "-.inf", ".NaN", "1e400",
    "2024-01-01", "2024-01-01T10:00:00Z", "2024-1-1", "=", "<<",
]
YAML_KEY_SPELLINGS = ["<<", "1", "true", "~", "on", "1.0", "2024-01-01"]


def type_samples(value: Any) -> list[tuple[str, Any]]:
    """A value of every JSON type, shaped after the original where it helps."""
    samples: list[tuple[str, Any]] = [
        ("string", "mutant value"),
        ("integer", 42),
        ("number", 0.75),
        ("boolean", True),
        ("boolean", False),
        ("null", None),
        ("array", [value] if not isinstance(value, (list, dict)) else ["item"]),
        ("object", {"value": value} if not isinstance(value, dict) else {}),
    ]
    t = json_type(value)
    if t in ("integer", "number"):
        samples.append(("string", json.dumps(value)))  # the quoted number: "0.8"
    if t == "boolean":
        samples.append(("string", "true" if value else "false"))
    if t == "string":
        try:
            samples.append(("number", float(value)) if "." in value else ("integer", int(value)))
        except ValueError:
            pass
        if value in ("true", "false"):
            samples.append(("boolean", value == "true"))
    return samples


def number_candidates(site: Site) -> Iterator[tuple[str, Any, str]]:
    v = site.value
    integer = "integer" in site.types
    mins = [m for m in site.collect("minimum") if isinstance(m, (int, float))]
    maxs = [m for m in site.collect("maximum") if isinstance(m, (int, float))]
    xmins = [m for m in site.collect("exclusiveMinimum") if isinstance(m, (int, float))]
    yield "out-of-range", -1, "negative"
    yield "out-of-range", -0.5, "negative fraction"
    yield "out-of-range", 0, "zero"
    yield "out-of-range", 10**30, "huge integer 10**30"
    yield "out-of-range", 1e300, "huge float 1e300"
    yield "out-of-range", -1e300, "huge negative -1e300"
    yield "out-of-range", 2**63, "2**63 (past i64)"
    yield "out-of-range", 2**64, "2**64 (past u64)"
    yield "out-of-range", -(2**63) - 1, "-2**63-1"
    yield "out-of-range", 1e-300, "tiny positive"
    if integer:
        yield "out-of-range", 0.5, "fractional where integer"
        yield "out-of-range", 1.5, "fractional where integer"
        base = v if isinstance(v, (int, float)) and not isinstance(v, bool) else 3
        yield "out-of-range", base + 0.25, "fractional where integer"
        yield "boundary", float(int(base)), "integral float where integer"
        yield "boundary", 1e16, "integral float 1e16 where integer"
    for m in mins:
        yield "out-of-range", m - 1, f"minimum {m} - 1"
        yield "out-of-range", m - 0.001, f"minimum {m} - 0.001"
        yield "boundary", m, f"exactly minimum {m}"
        yield "boundary", float(m), f"exactly minimum {m} as float"
    for m in maxs:
        yield "out-of-range", m + 1, f"maximum {m} + 1"
        yield "out-of-range", m + 1e-9, f"maximum {m} + 1e-9"
        yield "boundary", m, f"exactly maximum {m}"
        yield "boundary", m - 1e-9, f"maximum {m} - 1e-9"
    for m in xmins:
        yield "out-of-range", m, f"exactly exclusiveMinimum {m}"
        yield "boundary", m + 1e-300, f"exclusiveMinimum {m} + 1e-300"
        yield "boundary", m + 5e-324, f"exclusiveMinimum {m} + smallest subnormal"
    yield "boundary", -0.0, "negative zero"


SEMVER_BAD = ["1.0", "1", "v1.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0+", "1.0.0-alpha..1", "1.0.0.0",
              " 1.0.0", "1.0.0 ", "1.0.0\n", "1.O.0", "1.0.0-al_pha", "\u0661.0.0", "1.0.\uff10",
              # Unicode digits where `\d` stands ([1-9]\d*): Python's \d matches them, ECMA-262's does not
              "1.0.1\u0663", "1\u0663.0.0", "10.2\uff10.0", "1.0.0-rc\u0663"]
SEMVER_GOOD = ["0.0.0", "10.20.30", "1.0.0-alpha.1", "1.0.0-0A.is.legal", "1.0.0+build.5", "1.0.0-rc.1+exp.sha.5114f85",
               "1.0.0-01", "99999999999999999999.0.0"]


def pattern_candidates(site: Site, pattern: str) -> Iterator[tuple[str, Any, str]]:
    v = site.value if isinstance(site.value, str) else "value"
    if pattern.startswith("^(0|[1-9]"):
        for s in SEMVER_BAD:
            yield "pattern-violation", s, f"bad semver {s!r}"
        for s in SEMVER_GOOD:
            yield "boundary", s, f"valid semver {s!r}"
        return
    if v:
        yield "pattern-violation", v.upper(), "upper-cased"
        yield "pattern-violation", v[0].upper() + v[1:], "capitalised"
        yield "pattern-violation", "9" + v, "leading digit"
        yield "pattern-violation", v + "\n", "trailing newline"
        yield "pattern-violation", "\n" + v, "leading newline"
        yield "pattern-violation", v + " ", "trailing space"
        yield "pattern-violation", v.replace("-", " ").replace("_", " ").replace(".", " ") + " x", "with a space"
        yield "pattern-violation", v + "\u00e9", "non-ASCII letter"
        yield "pattern-violation", v + "\u0663", "Unicode (Arabic-Indic) digit"
        yield "pattern-violation", v + "\uff11", "fullwidth digit"
        yield "pattern-violation", v + "\u212a", "Kelvin sign (case-folds to k)"
        yield "pattern-violation", v + "!", "punctuation"
        if "." in v:
            head, _, tail = v.partition(".")
            yield "pattern-violation", head + "s." + tail, "wrong prefix"
            yield "pattern-violation", head + ".", "empty reference"
            yield "pattern-violation", "." + tail, "missing prefix"
            yield "boundary", v + ".sub", "deeper reference"
            yield "pattern-violation", head + ".9" + tail, "digit-first reference"
        else:
            yield "boundary", v + "_2", "valid: `_` and digit"
            yield "boundary", v + "-x", "valid: `-`"


def string_candidates(site: Site) -> Iterator[tuple[str, Any, str]]:
    v = site.value
    for n in site.collect("minLength"):
        if n > 0:
            yield "length-bound", "a" * (n - 1), f"minLength {n} - 1"
            yield "length-bound", "\U0001F600" * (n - 1), f"minLength {n} - 1 emoji (4 UTF-8 bytes each)"
            yield "length-bound", "\u00e9" * (n - 1), f"minLength {n} - 1 two-byte chars"
            yield "boundary", "a" * n, f"exactly minLength {n}"
            yield "boundary", "\U0001F600" * n, f"exactly minLength {n} in emoji"
    for n in site.collect("maxLength"):
        yield "length-bound", "a" * (n + 1), f"maxLength {n} + 1"
        yield "boundary", "a" * n, f"exactly maxLength {n}"
    for p in site.collect("pattern"):
        yield from pattern_candidates(site, p)


def enum_candidates(site: Site) -> Iterator[tuple[str, Any, str]]:
    allowed = site.enums
    v = site.value
    yield "unknown-enum", "bogus_value", "invented value"
    if isinstance(v, str) and v:
        yield "unknown-enum", v.upper(), "upper-cased"
        yield "unknown-enum", v + " ", "trailing space"
        if "_" in v:
            yield "unknown-enum", v.replace("_", "-"), "`-` for `_`"
        yield "unknown-enum", v[:-1], "truncated"
    for other in allowed:
        if other != v or type(other) is not type(v):
            yield "enum-swap", other, f"other allowed value {other!r}"


def list_candidates(site: Site) -> Iterator[tuple[str, Any, str]]:
    v = site.value
    for n in site.collect("minItems"):
        if n > 0 and v:
            yield "length-bound", v[: n - 1], f"minItems {n} - 1"
    for n in site.collect("maxItems"):
        if v:
            yield "length-bound", v + [copy.deepcopy(v[-1])] * (n + 1 - len(v)), f"maxItems {n} + 1"
    if any(site.collect("uniqueItems")) and v:
        yield "duplicate-item", v + [copy.deepcopy(v[0])], "first item repeated"
        if isinstance(v[0], (int, float)) and not isinstance(v[0], bool):
            yield "duplicate-item", v + [float(v[0])], "first item repeated as float"


def extra_keys(site: Site) -> list[tuple[str, Any, str]]:
    v = site.value
    out = [
        ("unknown_field", "extra", "unknown key"),
        ("x_vendor", {"note": "extension"}, "x_-prefixed key"),
        ("description", "an extra description", "plausible unknown key"),
        ("we/ird~0key", "x", "key with `/` and `~` (JSON Pointer escapes)"),
        ("cl\u00e9_\U0001F600", "x", "non-ASCII key"),
        ("", "x", "empty key"),
    ]
    keys = [k for k in v if isinstance(k, str) and k]
    if keys:
        k = keys[len(keys) // 2]
        out.append((k + "s", copy.deepcopy(v[k]), f"near-miss of `{k}`"))
        out.append((k.upper(), copy.deepcopy(v[k]), f"upper-case `{k}`"))
    if site.path == ():
        out.append(("extensions", {"vendor": {"a": 1}}, "root `extensions`"))
        out.append(("x_", 1, "bare `x_` key"))
        out.append(("X_upper", 1, "`X_` (upper) key"))
        out.append(("composition_", {}, "near-miss `composition_`"))
    return [(k, val, d) for k, val, d in out if k not in v]


def candidates_for(document: dict, schemas: Schemas) -> list[Candidate]:
    out: list[Candidate] = []
    for site in walk(schemas, document):
        v, path = site.value, site.path
        if path:
            for tname, sample in type_samples(v):
                if tname != json_type(v):
                    out.append(Candidate("wrong-type", "set", path, sample, f"{json_type(v)} -> {tname}"))
            if isinstance(v, str) and v:
                out.append(Candidate("empty", "set", path, "", "empty string"))
            if isinstance(v, list) and v:
                out.append(Candidate("empty", "set", path, [], "empty list"))
            if isinstance(v, dict) and v:
                out.append(Candidate("empty", "set", path, {}, "empty map"))
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            if numeric or site.types & {"integer", "number"}:
                for kind, new, detail in number_candidates(site):
                    out.append(Candidate(kind, "set", path, new, detail))
            if isinstance(v, str) or "string" in site.types:
                for kind, new, detail in string_candidates(site):
                    out.append(Candidate(kind, "set", path, new, detail))
            if site.enums:
                for kind, new, detail in enum_candidates(site):
                    out.append(Candidate(kind, "set", path, new, detail))
            if isinstance(v, list):
                for kind, new, detail in list_candidates(site):
                    out.append(Candidate(kind, "set", path, new, detail))
            if (
                len(path) == 3
                and path[0] == "evaluators"
                and path[2] == "type"
                and isinstance(v, str)
            ):
                for t in EVALUATOR_TYPES:
                    if t != v:
                        out.append(Candidate("evaluator-type-swap", "set", path, t, f"{v} -> {t}"))
            if not isinstance(v, (list, dict)):
                for spelling in YAML_VALUE_SPELLINGS:
                    out.append(Candidate("yaml-scalar", "set", path, Raw(spelling), f"plain `{spelling}`"))
        if isinstance(v, dict):
            for spelling in YAML_KEY_SPELLINGS:
                if spelling not in v:
                    value = {"p": 1} if spelling == "<<" else "x"
                    out.append(Candidate("yaml-scalar", "add", path, value, f"plain key `{spelling}`", key=Raw(spelling)))
            required = site.required
            for k in v:
                kind = "remove-required" if k in required else "remove-optional"
                out.append(Candidate(kind, "delete", path + (k,), None, f"delete `{k}`"))
            for key, val, detail in extra_keys(site):
                out.append(Candidate("extra-property", "add", path, val, f"add `{key}`: {detail}", key=key))
    return [c for c in out if not (c.op == "set" and c.raw is None and same(c.value, lookup(document, c.path)))]


def lookup(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def show(value: Any, limit: int = 80) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    return value if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--count", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    schemas = Schemas()
    rng = random.Random(args.seed)
    paths = sources()
    names = stems(paths)
    docs: dict[pathlib.Path, dict] = {}
    # pool[kind][source] = candidates
    pool: dict[str, dict[pathlib.Path, list[Candidate]]] = {k: {} for k in KINDS}
    for p in paths:
        try:
            docs[p] = load_file(p)
        except LoadError as e:
            print(f"mutate: skipping {p}: {e}", file=sys.stderr)
            continue
        for c in candidates_for(docs[p], schemas):
            pool[c.kind].setdefault(p, []).append(c)
    if not docs:
        print("mutate: no source loaded", file=sys.stderr)
        return 1

    # Per kind: group the candidates by their detail ("trailing newline",
    # "bad semver '1.0'", ...) so that every probe gets its turn, and within a
    # group interleave the sources, the schema-valid ones first (a mutation of
    # a valid spec shows whether that one change is caught; of an invalid one,
    # mostly that the verdict stays "invalid").
    reference = Reference()
    valid_source = {p: not reference.errors(d) for p, d in docs.items()}

    def interleave(lists: list[list]) -> list:
        merged = []
        lists = [lst[:] for lst in lists]
        while any(lists):
            for lst in lists:
                if lst:
                    merged.append(lst.pop(0))
        return merged

    queues: dict[str, collections.deque] = {}
    for kind in KINDS:
        groups: dict[str, dict[pathlib.Path, list[Candidate]]] = collections.defaultdict(dict)
        for p in sorted(pool[kind]):
            for c in pool[kind][p]:
                groups[c.detail].setdefault(p, []).append(c)
        ordered_groups = []
        for detail in sorted(groups):
            per_source = {p: [(p, c) for c in cs] for p, cs in groups[detail].items()}
            for lst in per_source.values():
                rng.shuffle(lst)
            order = sorted(per_source)
            rng.shuffle(order)
            order.sort(key=lambda p: not valid_source[p])  # stable: valid sources first
            ordered_groups.append(interleave([per_source[p] for p in order]))
        rng.shuffle(ordered_groups)
        queues[kind] = collections.deque(interleave(ordered_groups))

    args.out.mkdir(parents=True, exist_ok=True)
    for old in list(args.out.glob("*__*__*.json")) + list(args.out.glob("*__*__*.yaml")) + [args.out / "manifest.jsonl"]:
        old.unlink(missing_ok=True)

    written = 0
    seen: set[str] = set(json.dumps(d, sort_keys=True) for d in docs.values())
    per_name: collections.Counter = collections.Counter()
    per_kind: collections.Counter = collections.Counter()
    manifest = []
    while written < args.count and any(queues.values()):
        for kind in KINDS:
            if written >= args.count:
                break
            while queues[kind]:
                p, c = queues[kind].popleft()
                mutant = c.apply(docs[p])
                text = c.render(mutant)
                key = text if c.raw is not None else json.dumps(mutant, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                per_name[(names[p], kind)] += 1
                ext = "yaml" if c.raw is not None else "json"
                name = f"{names[p]}__{kind}__{per_name[(names[p], kind)]:03d}.{ext}"
                (args.out / name).write_text(text, encoding="utf-8")
                key_name = c.key.text if isinstance(c.key, Raw) else c.key
                pointer_path = c.path + ((key_name,) if c.op == "add" else ())
                manifest.append(
                    {
                        "file": name,
                        "source": str(p.relative_to(ROOT.parent)),
                        "kind": kind,
                        "op": c.op,
                        "pointer": pointer(pointer_path),
                        "detail": c.detail,
                        "old": show(lookup(docs[p], c.path)) if c.op != "add" else None,
                        "new": (repr(c.value) if isinstance(c.value, Raw) else show(c.value)) if c.op != "delete" else None,
                    }
                )
                written += 1
                per_kind[kind] += 1
                break
    with open(args.out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for line in manifest:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"mutate: {written} mutants from {len(docs)} sources into {args.out}")
    for kind in KINDS:
        print(f"  {kind:20} {per_kind[kind]:5}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
