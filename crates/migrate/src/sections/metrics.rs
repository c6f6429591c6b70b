//! `metrics`: `formula` → `definition`, a `source` for each, units LSS
//! knows, plus the metrics that rewritten success conditions test.

use loopc_syntax::Node;

use super::{show, Cx};
use crate::build::{entries, is_number, node, seq, str_at, text, Obj};

const METRIC_KEYS: [&str; 7] = ["name", "primary", "definition", "source", "unit", "target", "regression_threshold"];
const UNITS: [&str; 6] = ["ratio", "count", "usd", "seconds", "tokens", "percent"];

pub(super) fn metrics(cx: &mut Cx<'_>, n: Option<&Node>) -> Option<Node> {
    let old = n.and_then(Node::as_seq).unwrap_or(&[]);
    if n.is_some() && n.and_then(Node::as_seq).is_none() {
        return n.cloned();
    }
    let mut out: Vec<Node> = old.iter().map(|m| metric(cx, m)).collect();
    for new in std::mem::take(&mut cx.new_metrics) {
        if !out.iter().any(|m| str_at(m, "name") == str_at(&new, "name")) {
            let name = str_at(&new, "name").unwrap_or_default().to_owned();
            cx.change(format!("metrics.{name}"), "added for a success condition");
            out.push(new);
        }
    }
    let has_primary = out.iter().any(|m| m.get("primary").and_then(Node::as_bool) == Some(true));
    if let (false, Some(primary)) = (has_primary, cx.success_metric.clone()) {
        if let Some(i) = out.iter().position(|m| str_at(m, "name") == Some(primary.as_str())) {
            out[i] = with_primary(&out[i]);
            cx.change(format!("metrics.{primary}.primary"), "the metric success first tests");
        }
    }
    (n.is_some() || !out.is_empty()).then(|| seq(out))
}

fn with_primary(m: &Node) -> Node {
    let mut out = Obj::new();
    for e in entries(m) {
        out.set(&e.key, e.value.clone());
        if e.key == "name" {
            out.set("primary", node(loopc_syntax::Value::Bool(true)));
        }
    }
    out.build()
}

fn metric(cx: &mut Cx<'_>, m: &Node) -> Node {
    let written = str_at(m, "name").unwrap_or("?");
    let name = written.replace('-', "_").to_ascii_lowercase();
    let path = format!("metrics.{name}");
    if name != written {
        cx.change(&path, format!("name `{written}` → `{name}`"));
    }
    let mut out = Obj::new().put("name", text(&name));
    for key in ["primary", "definition", "source"] {
        if let Some(v) = m.get(key) {
            out.set(key, v.clone());
        }
    }
    if !out.has("definition") {
        match ["formula", "description", "method"]
            .iter()
            .find_map(|k| Some((*k, m.get(k)?.as_str()?)))
        {
            Some((key, definition)) => {
                out.set("definition", text(definition));
                cx.change(format!("{path}.{key}"), "→ `definition`");
            }
            None => cx.left(format!("{path}.definition"), "what the metric measures"),
        }
    }
    if !out.has("source") {
        let source = source_of(cx, &name, m);
        cx.change(format!("{path}.source"), format!("`{source}`"));
        out.set("source", text(source));
    }
    unit(cx, &path, m, &mut out);
    if let Some(t) = m.get("regression_threshold") {
        out.set("regression_threshold", t.clone());
    }
    for e in entries(m) {
        if !METRIC_KEYS.contains(&e.key.as_str()) && !["formula", "description", "method", "type"].contains(&e.key.as_str()) {
            cx.keep(format!("{path}.{}", e.key), &e.value);
        }
    }
    out.build()
}

/// Where a metric comes from: the evaluator its name or formula starts
/// with, else the runtime's own measurements (`telemetry.<name>`).
fn source_of(cx: &Cx<'_>, name: &str, m: &Node) -> String {
    let formula = str_at(m, "formula").unwrap_or("");
    let evaluator = cx.evaluators.iter().find(|e| {
        name.starts_with(e.as_str())
            || formula
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .any(|w| w == e.as_str())
    });
    match evaluator {
        Some(e) => format!("evaluators.{e}"),
        None => format!("telemetry.{name}"),
    }
}

/// LSS units; minutes, hours and days become seconds (the target too).
fn unit(cx: &mut Cx<'_>, path: &str, m: &Node, out: &mut Obj) {
    let written = str_at(m, "unit").map(str::to_ascii_lowercase);
    let scale = match written.as_deref() {
        Some(u) if UNITS.contains(&u) => {
            out.set("unit", text(u));
            1.0
        }
        Some("minutes" | "minute") => 60.0,
        Some("hours" | "hour") => 3600.0,
        Some("days" | "day") => 86_400.0,
        Some("sessions" | "iterations" | "steps" | "items") => {
            out.set("unit", text("count"));
            cx.change(
                format!("{path}.unit"),
                format!("`{}` → `count`", written.as_deref().unwrap_or_default()),
            );
            1.0
        }
        Some("dollars") => {
            out.set("unit", text("usd"));
            1.0
        }
        None if str_at(m, "type") == Some("counter") => {
            out.set("unit", text("count"));
            cx.change(format!("{path}.unit"), "`count` (a counter)");
            1.0
        }
        None if str_at(m, "formula").is_some_and(|f| f.contains('/')) => {
            out.set("unit", text("ratio"));
            cx.change(format!("{path}.unit"), "`ratio` (its formula divides)");
            1.0
        }
        other => {
            cx.left(
                format!("{path}.unit"),
                format!("a unit LSS knows ({}), not `{}`", UNITS.join(", "), other.unwrap_or("(none)")),
            );
            1.0
        }
    };
    if scale != 1.0 {
        out.set("unit", text("seconds"));
        cx.change(
            format!("{path}.unit"),
            format!("`{}` → `seconds`", written.as_deref().unwrap_or_default()),
        );
    }
    if let Some(target) = m.get("target") {
        match target.as_f64().filter(|_| is_number(target)) {
            Some(t) if scale != 1.0 => out.set("target", node(loopc_syntax::Value::Float(t * scale))),
            Some(_) => out.set("target", target.clone()),
            None => {
                cx.keep(format!("{path}.target"), target);
                cx.change(
                    format!("{path}.target"),
                    format!("`{}` is not a number; kept under extensions", show(target)),
                );
            }
        }
    }
}
