//! The editor schema, `schemas/lss.schema.json`: one JSON Schema for
//! yaml-language-server (and `loopc lsp`'s hover) that accepts exactly what
//! loopc's schema check accepts, with hover text on every field.
//!
//! It is generated here, from the two canonical schemas and the hover text in
//! `schemas/descriptions/lss.yaml`; `LOOPC_BLESS=1 cargo test --test
//! editor_schema` writes it. The tests check that the committed file is what
//! the generator makes, that every property and `$defs` entry has a
//! `description` and a `markdownDescription`, that removing the annotations
//! gives back the canonical schemas exactly, and that it gives loopc's verdict
//! on every spec of the repository and of the conformance corpus.
//!
//! loopc validates every document against both canonical schemas (LSS 1.0,
//! and the LSS 1.1 composition schema, which constrains only `composition`).
//! Merging them into one document is exact: the composition schema is
//! `type: object` (which LSS 1.0 requires already) plus
//! `properties.composition` and its `$defs`; LSS 1.0 has no `composition`
//! property and allows any other key (`additionalProperties: true`), so adding
//! `properties.composition` to it constrains that key as the composition
//! schema does and nothing else. Its `$defs` names are new to LSS 1.0, and
//! every `$ref` is local (`#/$defs/...`), so they resolve the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use loopc_syntax::{Node, Value as Yaml};
use serde_json::Value;

const EDITOR: &str = "schemas/lss.schema.json";
const DESCRIPTIONS: &str = "schemas/descriptions/lss.yaml";
const LSS_1_0: &str = "schemas/lss-1.0.schema.json";
const LSS_1_1: &str = "schemas/lss-1.1-composition.schema.json";
/// Where the editor schema is published (the modeline in the README names it).
const EDITOR_ID: &str = "https://raw.githubusercontent.com/loopc/loopc/main/schemas/lss.schema.json";
/// The rules' documentation, for the links of `see:`.
const RULES_URL: &str = "https://github.com/loopc/loopc/blob/main/docs/rules.md";

/// The keywords the generator adds. None of them takes part in validation.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "markdownDescription",
    "examples",
    "enumDescriptions",
    "markdownEnumDescriptions",
    "defaultSnippets",
];
/// Keywords whose value is a map of name to subschema.
const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "$defs", "dependentSchemas"];
/// Keywords whose value is one subschema.
const SCHEMA_ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of subschemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------ JSON in order

/// A JSON value that keeps the order of object keys (serde_json's map here
/// sorts them), so that the editor schema reads in the canonical schema's order.
#[derive(Clone, Debug, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn from_node(node: &Node) -> J {
        match &node.value {
            Yaml::Null => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::Int(*i),
            Yaml::Float(f) => J::Float(*f),
            Yaml::String(s) => J::Str(s.clone()),
            Yaml::Seq(items) => J::Arr(items.iter().map(J::from_node).collect()),
            Yaml::Map(map) => J::Obj(map.entries.iter().map(|e| (e.key.clone(), J::from_node(&e.value))).collect()),
        }
    }

    fn load(path: &str) -> J {
        let parsed = loopc_syntax::load(path, read(path).as_bytes(), &loopc_syntax::Limits::default());
        assert!(parsed.errors.is_empty(), "{path}: {:?}", parsed.errors);
        J::from_node(parsed.root.as_ref().expect("a document"))
    }

    fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn entries_mut(&mut self) -> &mut Vec<(String, J)> {
        match self {
            J::Obj(entries) => entries,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node at a JSON pointer (`/` alone is the root).
    fn pointer(&self, pointer: &str) -> Option<&J> {
        pointer
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .try_fold(self, |node, step| match node {
                J::Obj(_) => node.get(&unescape(step)),
                J::Arr(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// A small object on one line: `{ "type": "number" }`.
    fn inline(&self) -> String {
        let J::Obj(entries) = self else { unreachable!() };
        let fields: Vec<String> = entries
            .iter()
            .map(|(k, v)| {
                let mut value = String::new();
                v.write(&mut value, 0);
                format!("{}: {value}", serde_json::to_string(k).unwrap())
            })
            .collect();
        format!("{{ {} }}", fields.join(", "))
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, J::Arr(_) | J::Obj(_))
    }

    /// JSON text: two-space indentation, a list of scalars on one line.
    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => out.push_str(&i.to_string()),
            J::Float(f) => out.push_str(&serde_json::Number::from_f64(*f).expect("a finite number").to_string()),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Arr(items) if items.iter().all(J::is_scalar) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, indent);
                }
                out.push(']');
            }
            J::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, indent + 2);
                    item.write(out, indent + 2);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            J::Obj(entries) if entries.is_empty() => out.push_str("{}"),
            J::Obj(entries) if entries.iter().all(|(_, v)| v.is_scalar()) && self.inline().len() <= 72 => out.push_str(&self.inline()),
            J::Obj(entries) => {
                out.push_str("{\n");
                for (i, (key, value)) in entries.iter().enumerate() {
                    pad(out, indent + 2);
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push_str(": ");
                    value.write(out, indent + 2);
                    out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn escape(step: &str) -> String {
    step.replace('~', "~0").replace('/', "~1")
}

fn unescape(step: &str) -> String {
    step.replace("~1", "/").replace("~0", "~")
}

// ------------------------------------------------------------------ the hover text

/// One entry of `schemas/descriptions/lss.yaml` (its header says what each key means).
#[derive(Clone, Debug, Default)]
struct Entry {
    title: Option<String>,
    text: String,
    example: Option<String>,
    see: Vec<String>,
    values: Vec<(String, String)>,
    examples: Option<J>,
    snippets: Option<J>,
}

impl Entry {
    fn parse(pointer: &str, value: &J) -> Entry {
        let text = |v: &J, what: &str| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| panic!("{DESCRIPTIONS}: `{pointer}`: {what} must be a non-empty string"))
                .to_string()
        };
        let J::Obj(fields) = value else {
            return Entry {
                text: text(value, "an entry"),
                ..Entry::default()
            };
        };
        let mut entry = Entry::default();
        for (key, v) in fields {
            match key.as_str() {
                "title" => entry.title = Some(text(v, "title")),
                "text" => entry.text = text(v, "text"),
                "example" => entry.example = Some(text(v, "example") + "\n"),
                "see" => match v {
                    J::Arr(codes) => entry.see = codes.iter().map(|c| text(c, "a rule code")).collect(),
                    _ => panic!("{DESCRIPTIONS}: `{pointer}`: see must be a list of rule codes"),
                },
                "values" => match v {
                    J::Obj(values) => entry.values = values.iter().map(|(k, t)| (k.clone(), text(t, "a value's text"))).collect(),
                    _ => panic!("{DESCRIPTIONS}: `{pointer}`: values must map each value to its text"),
                },
                "examples" => entry.examples = Some(v.clone()),
                "snippets" => {
                    let J::Arr(snippets) = v else {
                        panic!("{DESCRIPTIONS}: `{pointer}`: snippets must be a list")
                    };
                    let snippets = snippets
                        .iter()
                        .map(|s| {
                            let (Some(label), Some(description), Some(body)) = (s.get("label"), s.get("description"), s.get("body")) else {
                                panic!("{DESCRIPTIONS}: `{pointer}`: a snippet has label, description and body")
                            };
                            J::Obj(vec![
                                ("label".into(), label.clone()),
                                ("description".into(), description.clone()),
                                ("body".into(), body.clone()),
                            ])
                        })
                        .collect();
                    entry.snippets = Some(J::Arr(snippets));
                }
                other => panic!("{DESCRIPTIONS}: `{pointer}`: unknown key `{other}`"),
            }
        }
        assert!(!entry.text.is_empty(), "{DESCRIPTIONS}: `{pointer}` has no text");
        entry
    }

    /// What a property that borrows this entry's text takes of it.
    fn borrowed(&self) -> Entry {
        Entry {
            text: self.text.clone(),
            example: self.example.clone(),
            see: self.see.clone(),
            ..Entry::default()
        }
    }

    fn description(&self) -> String {
        match self.see.as_slice() {
            [] => self.text.clone(),
            codes => format!("{} See loopc explain {}.", self.text, codes.join(", ")),
        }
    }

    fn markdown(&self) -> String {
        let mut out = self.text.clone();
        if let Some(example) = &self.example {
            out.push_str("\n\n```yaml\n");
            out.push_str(example);
            out.push_str("```");
        }
        if !self.see.is_empty() {
            let links: Vec<String> = self
                .see
                .iter()
                .map(|c| format!("[{c}]({RULES_URL}#{})", c.to_ascii_lowercase()))
                .collect();
            out.push_str(&format!("\n\nSee `loopc explain` {}.", links.join(", ")));
        }
        out
    }
}

/// The hover text, and the schema it annotates (before annotation), for
/// the fallbacks that need to look at it.
struct Hovers<'a> {
    entries: BTreeMap<String, Entry>,
    schema: &'a J,
    used: BTreeSet<String>,
}

impl Hovers<'_> {
    /// The entry for `pointer`: its own, or, for a property without one, the
    /// same property of the schema whose `allOf`/`anyOf`/`if`/`then`/... branch
    /// it is in, or the `$defs` entry its `$ref` names.
    fn find(&mut self, pointer: &str) -> Option<Entry> {
        if let Some(entry) = self.entries.get(pointer) {
            self.used.insert(pointer.to_string());
            return Some(entry.clone());
        }
        let (parent, name) = property_of(pointer)?;
        let mut owner = parent;
        loop {
            let steps: Vec<&str> = owner.rsplitn(3, '/').collect();
            match steps.as_slice() {
                [last, ..] if ["if", "then", "else", "not"].contains(last) => owner = &owner[..owner.len() - last.len() - 1],
                [index, list, ..] if SCHEMA_LISTS.contains(list) && index.parse::<usize>().is_ok() => {
                    owner = &owner[..owner.len() - index.len() - list.len() - 2]
                }
                _ => break,
            }
        }
        if owner != parent {
            let sibling = format!("{owner}/properties/{name}");
            if self.schema.pointer(&sibling).is_some() {
                if let Some(entry) = self.find(&sibling) {
                    return Some(entry.borrowed());
                }
            }
        }
        let target = self.schema.pointer(pointer)?.get("$ref")?.as_str()?.strip_prefix('#')?.to_string();
        self.find(&target).map(|e| e.borrowed())
    }
}

/// `(parent, name)` when `pointer` is a `properties` entry.
fn property_of(pointer: &str) -> Option<(&str, &str)> {
    let (rest, name) = pointer.rsplit_once('/')?;
    let parent = rest.strip_suffix("/properties")?;
    Some((parent, name))
}

/// Whether the test requires hover text at `pointer`: the root, every
/// `properties` entry and every `$defs` entry.
fn needs_text(pointer: &str) -> bool {
    pointer == "/"
        || pointer
            .rsplit_once('/')
            .is_some_and(|(rest, _)| rest.ends_with("/properties") || rest.ends_with("/$defs"))
}

/// The pointers of the subschemas of the schema object at `pointer`.
fn children(pointer: &str, entries: &[(String, J)]) -> Vec<String> {
    let base = if pointer == "/" { "" } else { pointer };
    let mut out = Vec::new();
    for (key, value) in entries {
        match value {
            J::Obj(items) if SCHEMA_MAPS.contains(&key.as_str()) => {
                out.extend(items.iter().map(|(name, _)| format!("{base}/{key}/{}", escape(name))))
            }
            J::Obj(_) if SCHEMA_ONE.contains(&key.as_str()) => out.push(format!("{base}/{key}")),
            J::Arr(items) if SCHEMA_LISTS.contains(&key.as_str()) => out.extend((0..items.len()).map(|i| format!("{base}/{key}/{i}"))),
            _ => {}
        }
    }
    out
}

fn pointer_mut<'a>(schema: &'a mut J, pointer: &str) -> &'a mut J {
    pointer
        .split('/')
        .skip(1)
        .filter(|s| !s.is_empty())
        .fold(schema, |node, step| match node {
            J::Obj(entries) => {
                let step = unescape(step);
                &mut entries.iter_mut().find(|(k, _)| *k == step).expect("a pointer of the walk").1
            }
            J::Arr(items) => &mut items[step.parse::<usize>().unwrap()],
            _ => unreachable!(),
        })
}

fn annotate(schema: &mut J, pointer: &str, hovers: &mut Hovers<'_>, rules: &str, missing: &mut Vec<String>) {
    let node = pointer_mut(schema, pointer);
    let J::Obj(_) = node else { return };
    match hovers.find(pointer) {
        Some(entry) => apply(node, pointer, &entry, rules),
        None if needs_text(pointer) => missing.push(pointer.to_string()),
        None => {}
    }
    let J::Obj(entries) = &*node else { unreachable!() };
    for child in children(pointer, entries) {
        annotate(schema, &child, hovers, rules, missing);
    }
}

fn apply(node: &mut J, pointer: &str, entry: &Entry, rules: &str) {
    for code in &entry.see {
        assert!(
            rules.contains(&format!("\n### {code}\n")),
            "{DESCRIPTIONS}: `{pointer}` sees {code}, which docs/rules.md does not have"
        );
    }
    let entries = node.entries_mut();
    entries.retain(|(k, _)| !ANNOTATIONS.contains(&k.as_str()));
    let mut front = Vec::new();
    if let Some(title) = &entry.title {
        front.push(("title".to_string(), J::Str(title.clone())));
    }
    front.push(("description".to_string(), J::Str(entry.description())));
    front.push(("markdownDescription".to_string(), J::Str(entry.markdown())));
    let mut back = Vec::new();
    if let Some(examples) = &entry.examples {
        back.push(("examples".to_string(), examples.clone()));
    }
    if !entry.values.is_empty() {
        let Some(J::Arr(allowed)) = entries.iter().find(|(k, _)| k == "enum").map(|(_, v)| v) else {
            panic!("{DESCRIPTIONS}: `{pointer}` has values, but the schema there has no enum")
        };
        let mut texts = Vec::new();
        for value in allowed {
            let name = match value {
                J::Str(s) => s.clone(),
                J::Null => "null".to_string(),
                other => format!("{other:?}"),
            };
            let text = entry.values.iter().find(|(k, _)| *k == name).map(|(_, t)| t.clone());
            texts.push(J::Str(
                text.unwrap_or_else(|| panic!("{DESCRIPTIONS}: `{pointer}`: no text for the value `{name}`")),
            ));
        }
        for (name, _) in &entry.values {
            let known = allowed
                .iter()
                .any(|v| v.as_str() == Some(name) || (name == "null" && *v == J::Null));
            assert!(known, "{DESCRIPTIONS}: `{pointer}`: `{name}` is not a value of the enum");
        }
        back.push(("enumDescriptions".to_string(), J::Arr(texts.clone())));
        back.push(("markdownEnumDescriptions".to_string(), J::Arr(texts)));
    }
    if let Some(snippets) = &entry.snippets {
        back.push(("defaultSnippets".to_string(), snippets.clone()));
    }
    // After the root's `$schema` and `$id`, before everything else.
    let mut rest = std::mem::take(entries);
    let lead = rest.iter().take_while(|(k, _)| k == "$schema" || k == "$id").count();
    let tail = rest.split_off(lead);
    *entries = rest.into_iter().chain(front).chain(tail).chain(back).collect();
}

/// The editor schema, as text: the generator.
fn generate() -> String {
    let mut schema = J::load(LSS_1_0);
    let composition = J::load(LSS_1_1);
    // The composition schema is a type, one property and its definitions.
    let J::Obj(top) = &composition else {
        panic!("{LSS_1_1}: not an object")
    };
    for (key, _) in top {
        let known = ["$schema", "$id", "title", "description", "type", "properties", "$defs"];
        assert!(known.contains(&key.as_str()), "{LSS_1_1}: `{key}` is new: merge it by hand");
    }
    assert_eq!(composition.get("type"), schema.get("type"), "{LSS_1_1}: the root types differ");
    assert_eq!(composition.get("$schema"), schema.get("$schema"), "{LSS_1_1}: another draft");
    let Some(J::Obj(properties)) = composition.get("properties") else {
        panic!("{LSS_1_1}: no properties")
    };
    let Some(J::Obj(definitions)) = composition.get("$defs") else {
        panic!("{LSS_1_1}: no $defs")
    };
    // Merging moves the composition `$defs` into another document: sound
    // while every reference is a local `#/...` one.
    fn refs<'a>(node: &'a J, out: &mut Vec<&'a str>) {
        match node {
            J::Obj(entries) => entries.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref" | "$dynamicRef", J::Str(target)) => out.push(target),
                _ => refs(v, out),
            }),
            J::Arr(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut targets = Vec::new();
    refs(&schema, &mut targets);
    refs(&composition, &mut targets);
    assert!(
        targets.iter().all(|t| t.starts_with("#/")),
        "a reference that is not local: {targets:?}"
    );
    let top = schema.entries_mut();
    for (key, value) in top.iter_mut() {
        if key == "$id" {
            // The editor schema is a document of its own; every `$ref` is local.
            *value = J::Str(EDITOR_ID.to_string());
        }
    }
    for (section, additions) in [("properties", properties), ("$defs", definitions)] {
        let (_, existing) = top
            .iter_mut()
            .find(|(k, _)| k == section)
            .unwrap_or_else(|| panic!("{LSS_1_0}: no {section}"));
        let existing = existing.entries_mut();
        for (name, value) in additions {
            assert!(
                existing.iter().all(|(k, _)| k != name),
                "`{section}/{name}` is in both canonical schemas"
            );
            existing.push((name.clone(), value.clone()));
        }
    }
    let mut entries = BTreeMap::new();
    let J::Obj(file) = J::load(DESCRIPTIONS) else {
        panic!("{DESCRIPTIONS}: not a mapping")
    };
    for (pointer, value) in &file {
        entries.insert(pointer.clone(), Entry::parse(pointer, value));
    }
    let base = schema.clone();
    let mut hovers = Hovers {
        entries,
        schema: &base,
        used: BTreeSet::new(),
    };
    let rules = read("docs/rules.md");
    let mut missing = Vec::new();
    annotate(&mut schema, "/", &mut hovers, &rules, &mut missing);
    assert!(missing.is_empty(), "{DESCRIPTIONS} has no text for:\n  {}", missing.join("\n  "));
    let unused: Vec<&String> = hovers.entries.keys().filter(|k| !hovers.used.contains(*k)).collect();
    assert!(unused.is_empty(), "{DESCRIPTIONS}: no such place in the schema: {unused:?}");
    let mut out = String::new();
    schema.write(&mut out, 0);
    out.push('\n');
    out
}

// ------------------------------------------------------------------ the tests

#[test]
fn editor_schema_is_current() {
    let generated = generate();
    if std::env::var_os("LOOPC_BLESS").is_some() {
        std::fs::write(root().join(EDITOR), &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(root().join(EDITOR)).unwrap_or_default();
    assert!(
        generated == committed,
        "{EDITOR} is stale: run `LOOPC_BLESS=1 cargo test --test editor_schema` and commit it"
    );
}

fn editor() -> Value {
    serde_json::from_str(&read(EDITOR)).expect("the editor schema is JSON")
}

/// Every schema object of `schema` with its pointer, depth first (the root is `/`).
fn schemas(schema: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(pointer: String, schema: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        let Value::Object(map) = schema else { return };
        out.push((if pointer.is_empty() { "/".to_string() } else { pointer.clone() }, schema));
        for (key, value) in map {
            match value {
                Value::Object(items) if SCHEMA_MAPS.contains(&key.as_str()) => {
                    for (name, sub) in items {
                        walk(format!("{pointer}/{key}/{}", escape(name)), sub, out);
                    }
                }
                Value::Object(_) if SCHEMA_ONE.contains(&key.as_str()) => walk(format!("{pointer}/{key}"), value, out),
                Value::Array(items) if SCHEMA_LISTS.contains(&key.as_str()) => {
                    for (i, sub) in items.iter().enumerate() {
                        walk(format!("{pointer}/{key}/{i}"), sub, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(String::new(), schema, &mut out);
    out
}

/// `schema` without its annotations (at schema positions only: `description`
/// is also the name of an input field's property, and `examples` of an
/// inputs property).
fn strip(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        let value = match value {
            Value::Object(items) if SCHEMA_MAPS.contains(&key.as_str()) => {
                Value::Object(items.iter().map(|(name, sub)| (name.clone(), strip(sub))).collect())
            }
            Value::Object(_) if SCHEMA_ONE.contains(&key.as_str()) => strip(value),
            Value::Array(items) if SCHEMA_LISTS.contains(&key.as_str()) => Value::Array(items.iter().map(strip).collect()),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

#[test]
fn every_property_and_definition_has_hover_text() {
    let schema = editor();
    let mut described = 0;
    let mut problems = Vec::new();
    for (pointer, node) in schemas(&schema) {
        if !needs_text(&pointer) {
            continue;
        }
        for key in ["description", "markdownDescription"] {
            match node.get(key).and_then(Value::as_str) {
                Some(text) if !text.trim().is_empty() => {}
                _ => problems.push(format!("{pointer}: no {key}")),
            }
        }
        // A hover, not a page: the plain text stays short.
        if let Some(text) = node.get("description").and_then(Value::as_str) {
            if text.len() > 420 {
                problems.push(format!("{pointer}: description of {} characters", text.len()));
            }
        }
        described += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The root, 15 top-level properties, 72 definitions and their properties:
    // a walk that finds fewer has lost its way.
    assert!(described > 200, "only {described} places described");
    println!("{described} properties and definitions described");
}

#[test]
fn without_annotations_it_is_the_canonical_schemas() {
    let canonical: Value = serde_json::from_str(&read(LSS_1_0)).unwrap();
    let composition: Value = serde_json::from_str(&read(LSS_1_1)).unwrap();
    let mut ours = strip(&editor());
    let mut expected = strip(&canonical);
    // The editor schema is its own document; all references are local.
    assert_eq!(ours["$id"], EDITOR_ID);
    assert_eq!(expected["$id"], "https://loop-engineering.org/schema/lss-1.0.schema.json");
    ours.as_object_mut().unwrap().remove("$id");
    expected.as_object_mut().unwrap().remove("$id");
    // Take the LSS 1.1 part out again: `properties.composition` and the composition `$defs`.
    let mut taken = serde_json::json!({"type": ours["type"].clone(), "properties": {}, "$defs": {}});
    let property = ours["properties"]
        .as_object_mut()
        .unwrap()
        .remove("composition")
        .expect("composition");
    taken["properties"]["composition"] = property;
    for name in composition["$defs"].as_object().unwrap().keys() {
        let def = ours["$defs"]
            .as_object_mut()
            .unwrap()
            .remove(name)
            .expect("a composition definition");
        taken["$defs"][name] = def;
    }
    assert!(ours == expected, "{EDITOR} without annotations and LSS 1.1 is not {LSS_1_0}");
    let mut composition = strip(&composition);
    for key in ["$schema", "$id"] {
        composition.as_object_mut().unwrap().remove(key);
    }
    assert!(taken == composition, "the LSS 1.1 part of {EDITOR} is not {LSS_1_1}");
}

#[test]
fn editor_schema_is_a_valid_2020_12_schema() {
    let schema = editor();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("{EDITOR}: {e}"));
    jsonschema::draft202012::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("{EDITOR}: {e}"));
}

/// Every YAML and JSON file below `dir`.
fn documents(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = read.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            documents(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn same_verdict_as_loopc_on_every_spec() {
    let validator = jsonschema::draft202012::options().build(&editor()).unwrap();
    let mut files = Vec::new();
    for dir in ["loop-library", "tests/fixtures", "../shared/conformance/public"] {
        documents(&root().join(dir), &mut files);
    }
    let (mut valid, mut invalid, mut disagree) = (0, 0, Vec::new());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let parsed = loopc_syntax::load(path.clone(), &bytes, &loopc_syntax::Limits::default());
        let Some(node) = parsed.root.filter(|_| parsed.errors.is_empty()) else {
            continue;
        };
        let json = node.to_json();
        let loopc = loopc_check::schema::is_valid(&json);
        if validator.is_valid(&json) != loopc {
            disagree.push(format!("{} (loopc: {loopc})", path.display()));
        }
        if loopc {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        disagree.is_empty(),
        "the editor schema and loopc disagree on:\n{}",
        disagree.join("\n")
    );
    assert!(valid > 20 && invalid > 20, "{valid} valid and {invalid} invalid documents");
    println!("same verdict on {} documents: {valid} valid, {invalid} invalid", valid + invalid);
}

#[test]
fn examples_in_the_hover_text_are_valid() {
    // A section's example is a mapping of its one top-level key; checked
    // against the editor schema with the root's `required` list dropped.
    let schema = editor();
    let mut partial = schema.clone();
    partial.as_object_mut().unwrap().remove("required");
    let validator = jsonschema::draft202012::options().build(&partial).unwrap();
    let mut checked = 0;
    for (pointer, node) in schemas(&schema) {
        let Some(markdown) = node.get("markdownDescription").and_then(Value::as_str) else {
            continue;
        };
        for block in markdown.split("```yaml\n").skip(1) {
            let yaml = block.split("```").next().unwrap();
            let parsed = loopc_syntax::load(PathBuf::from(&pointer), yaml.as_bytes(), &loopc_syntax::Limits::default());
            assert!(parsed.errors.is_empty(), "{pointer}: the example is not YAML: {:?}", parsed.errors);
            let json = parsed.root.unwrap().to_json();
            let keys: Vec<&String> = json.as_object().map(|m| m.keys().collect()).unwrap_or_default();
            let [key] = keys.as_slice() else {
                panic!("{pointer}: an example is one top-level section")
            };
            let property = &schema["properties"][key.as_str()];
            let here = format!("/properties/{key}") == pointer || property["$ref"].as_str() == Some(&format!("#{pointer}"));
            assert!(here, "{pointer}: the example is of `{key}`, which is elsewhere");
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{pointer}: the example is invalid:\n{}", errors.join("\n"));
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} examples");
}
