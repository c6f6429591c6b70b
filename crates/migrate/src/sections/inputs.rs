//! `inputs` (a list of fields → `inputs.schema`) and `memory` (tiers → one
//! memory with a type and backend).

use loopc_syntax::{Node, Value};

use super::{show, Cx};
use crate::build::{entries, str_at, text, Obj};

/// Keys an LSS 1.0 input field may have.
const FIELD_KEYS: [&str; 11] = [
    "type",
    "description",
    "required",
    "max_length",
    "min_length",
    "pattern",
    "values",
    "default",
    "minimum",
    "maximum",
    "items",
];

pub(super) fn inputs(cx: &mut Cx<'_>, n: &Node) -> Node {
    if let Some(schema) = n.get("schema") {
        for field in entries(schema) {
            if let Some(default) = field.value.get("default") {
                cx.defaults.insert(field.key.clone(), default.clone());
            }
        }
        return n.clone();
    }
    let Some(list) = n.as_seq() else { return n.clone() };
    let mut schema = Obj::new();
    for item in list {
        let Some(name) = str_at(item, "name") else {
            cx.keep("inputs[]", item);
            continue;
        };
        let path = format!("inputs.{name}");
        let mut field = Obj::new();
        for entry in entries(item) {
            let key = entry.key.as_str();
            let value = &entry.value;
            match key {
                "name" => {}
                "type" | "items" => match value.as_str().and_then(field_type) {
                    Some(t) => {
                        if value.as_str() != Some(t) {
                            cx.change(format!("{path}.{key}"), format!("`{}` → `{t}`", show(value)));
                        }
                        field.set(key, text(t));
                    }
                    None => cx.keep(format!("{path}.{key}"), value),
                },
                "range" => match value.as_seq() {
                    Some([low, high]) => {
                        field.set("minimum", low.clone());
                        field.set("maximum", high.clone());
                        cx.change(format!("{path}.range"), "→ `minimum` and `maximum`");
                    }
                    _ => cx.keep(format!("{path}.range"), value),
                },
                _ if FIELD_KEYS.contains(&key) => field.set(key, value.clone()),
                _ => cx.keep(format!("{path}.{key}"), value),
            }
        }
        if let Some(default) = item.get("default") {
            cx.defaults.insert(name.to_owned(), default.clone());
        }
        if !field.has("description") {
            cx.left(format!("{path}.description"), "what the input is");
        }
        if !field.has("type") {
            cx.left(format!("{path}.type"), "its type (string, number, boolean, enum, array, object)");
        }
        schema.set(name, field.build());
    }
    cx.change("inputs", "a list of fields → `inputs.schema`, a mapping of field names");
    Obj::new().put("schema", schema.build()).build()
}

/// The LSS 1.0 input type of an older one (`path`, `uri` → `string`;
/// `integer`, `float` → `number`).
fn field_type(old: &str) -> Option<&'static str> {
    Some(match old.trim().to_ascii_lowercase().as_str() {
        "string" | "str" | "text" | "path" | "uri" | "url" | "file" => "string",
        "number" | "integer" | "int" | "float" | "double" => "number",
        "boolean" | "bool" => "boolean",
        "enum" => "enum",
        "array" | "list" => "array",
        "object" | "dict" | "map" => "object",
        _ => return None,
    })
}

/// Old memories: a mapping of tiers (`episodic`, `semantic`, …) each with a
/// backend and retention, or a list of stores. LSS 1.0 has one memory: its
/// `type` is the longest retention any tier had, its backend the tier's own
/// when LSS names it, `composite` when several tiers persist.
pub(super) fn memory(cx: &mut Cx<'_>, n: &Node) -> Node {
    if n.get("type")
        .and_then(Node::as_str)
        .is_some_and(|t| ["ephemeral", "session", "persistent"].contains(&t))
    {
        return n.clone();
    }
    let tiers: Vec<&Node> = match &n.value {
        Value::Map(map) => map.entries.iter().map(|e| &e.value).collect(),
        Value::Seq(items) => items.iter().collect(),
        _ => return n.clone(),
    };
    let retention = |t: &Node| {
        let words = [str_at(t, "retention"), str_at(t, "type")];
        if words.iter().flatten().any(|w| w.contains("persist") || *w == "file") {
            2
        } else if words.iter().flatten().any(|w| w.contains("session")) {
            1
        } else {
            0
        }
    };
    let longest = tiers.iter().map(|t| retention(t)).max().unwrap_or(0);
    let kind = ["ephemeral", "session", "persistent"][longest];
    let mut out = Obj::new().put("type", text(kind));
    if kind == "persistent" {
        let lasting: Vec<&&Node> = tiers.iter().filter(|t| retention(t) == 2).collect();
        let backends: Vec<Option<&'static str>> = lasting.iter().map(|t| str_at(t, "backend").and_then(backend)).collect();
        let chosen = match backends.as_slice() {
            [one] => *one,
            [] => None,
            _ => Some("composite"),
        };
        match chosen {
            Some(b) => out.set("backend", text(b)),
            None => cx.left(
                "memory.backend",
                "no LSS backend (redis, postgres, vector, composite) matches the old one",
            ),
        }
    }
    cx.change("memory", format!("{} tier(s) → one `{kind}` memory", tiers.len()));
    cx.keep("memory", n);
    out.build()
}

fn backend(old: &str) -> Option<&'static str> {
    let old = old.to_ascii_lowercase();
    Some(if old.contains("vector") || old.contains("embedding") {
        "vector"
    } else if old.contains("postgres") || old.contains("sql") {
        "postgres"
    } else if old.contains("redis") || old.contains("key_value") || old.contains("cache") {
        "redis"
    } else {
        return None;
    })
}
