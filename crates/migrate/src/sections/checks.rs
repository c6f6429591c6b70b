//! `evaluators` (free-form types → deterministic, llm_rubric or human;
//! `runs_after`; rubric dimensions from a list of names) and
//! `feedback_channels` (`from`/`to` → prefixed `source`/`destination`).

use loopc_syntax::Node;

use super::agents::model;
use super::{show, Cx};
use crate::build::{entries, node, seq, slug, str_at, text, texts, Obj};

const EVALUATOR_TYPES: [&str; 3] = ["deterministic", "llm_rubric", "human"];

pub(super) fn evaluators(cx: &mut Cx<'_>, n: &Node) -> Node {
    let Some(list) = n.as_seq() else { return n.clone() };
    seq(list.iter().map(|e| evaluator(cx, e)).collect())
}

/// The LSS 1.0 kind of an old evaluator type: a judge that reads a rubric,
/// a person, or (everything else: commands, metrics, allowlists, oracles)
/// a deterministic check that the bindings implement.
fn kind(old: &str) -> &'static str {
    match old {
        "llm_rubric" | "rubric" | "llm_judge" | "llm" => "llm_rubric",
        "human" | "human_gate" | "human_review" | "manual" => "human",
        _ => "deterministic",
    }
}

fn evaluator(cx: &mut Cx<'_>, e: &Node) -> Node {
    let id = str_at(e, "id").unwrap_or("?").to_owned();
    let path = format!("evaluators.{id}");
    let old = str_at(e, "type").unwrap_or("");
    let kind = if EVALUATOR_TYPES.contains(&old) { old } else { kind(old) };
    let mut out = Obj::new();
    if let Some(v) = e.get("id") {
        out.set("id", v.clone());
    }
    out.set("type", text(kind));
    if old != kind {
        cx.change(format!("{path}.type"), format!("`{old}` → `{kind}`"));
    }
    match e.get("runs_after") {
        Some(r) => out.set("runs_after", r.clone()),
        None if !cx.sinks.is_empty() => {
            let after = cx.sinks.clone();
            cx.change(
                format!("{path}.runs_after"),
                format!("[{}], the last workers of an iteration", after.join(", ")),
            );
            out.set("runs_after", texts(&after));
        }
        None => cx.left(format!("{path}.runs_after"), "which workers' output it checks"),
    }
    if let Some(a) = e.get("aggregation") {
        out.set("aggregation", a.clone());
    }
    let own: &[&str] = match kind {
        "llm_rubric" => {
            rubric(cx, &path, e, &mut out);
            &["rubric", "model", "dimensions", "pass_threshold", "temperature"]
        }
        "human" => {
            for key in ["timeout_seconds", "queue", "instructions"] {
                if let Some(v) = e.get(key) {
                    out.set(key, v.clone());
                }
            }
            if !out.has("timeout_seconds") {
                cx.left(format!("{path}.timeout_seconds"), "how long a person has to answer");
            }
            &["timeout_seconds", "queue", "instructions"]
        }
        _ => {
            let implementation = str_at(e, "implementation").map_or_else(|| format!("evaluators.{id}"), str::to_owned);
            if e.get("implementation").is_none() {
                cx.change(
                    format!("{path}.implementation"),
                    format!("`{implementation}`: bind it to the old check in the bindings"),
                );
            }
            out.set("implementation", text(implementation));
            &["implementation"]
        }
    };
    for entry in entries(e) {
        let key = entry.key.as_str();
        if !["id", "type", "runs_after", "aggregation"].contains(&key) && !own.contains(&key) {
            cx.keep(format!("{path}.{key}"), &entry.value);
        }
    }
    out.build()
}

/// An LSS 1.0 rubric: kept when the file has one, else built from a list
/// of dimension names (equal weights, scale 0–1) and a numeric threshold.
fn rubric(cx: &mut Cx<'_>, path: &str, e: &Node, out: &mut Obj) {
    match e.get("model") {
        Some(m) => out.set("model", model(cx, &format!("{path}.model"), m, Some(e))),
        None => cx.left(format!("{path}.model"), "the judge model (a different one from the maker's)"),
    }
    if let Some(r) = e.get("rubric").filter(|r| r.get("dimensions").is_some()) {
        out.set("rubric", r.clone());
        return;
    }
    let names: Vec<&str> = e
        .get("dimensions")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect();
    let threshold = e
        .get("pass_threshold")
        .and_then(|t| cx.number(&format!("{path}.pass_threshold"), t));
    if names.is_empty() || threshold.is_none() {
        let what = if names.is_empty() {
            "the rubric's dimensions"
        } else {
            "a numeric pass threshold"
        };
        cx.left(format!("{path}.rubric"), what);
        if let Some(r) = e.get("rubric") {
            cx.keep(format!("{path}.rubric"), r);
        }
        return;
    }
    let weights = equal_weights(names.len());
    let dimensions = names
        .iter()
        .zip(weights)
        .map(|(name, weight)| {
            Obj::new()
                .put("name", text(*name))
                .put("weight", node(loopc_syntax::Value::Float(weight)))
                .put(
                    "scale",
                    seq(vec![node(loopc_syntax::Value::Int(0)), node(loopc_syntax::Value::Int(1))]),
                )
                .put("criteria", text(name.replace('_', " ")))
                .build()
        })
        .collect();
    let threshold = threshold.unwrap_or_else(|| node(loopc_syntax::Value::Null));
    cx.change(
        format!("{path}.rubric"),
        format!(
            "{} dimensions of equal weight, scale 0–1, pass at {} (write each one's criteria)",
            names.len(),
            show(&threshold)
        ),
    );
    out.set(
        "rubric",
        Obj::new()
            .put("dimensions", seq(dimensions))
            .put("pass_threshold", threshold)
            .build(),
    );
}

/// `n` weights of four decimals that add up to exactly 1.
fn equal_weights(n: usize) -> Vec<f64> {
    let each = (10_000 / n) as f64 / 10_000.0;
    let mut weights = vec![each; n];
    let rest = 1.0 - each * (n - 1) as f64;
    if let Some(last) = weights.last_mut() {
        *last = (rest * 10_000.0).round() / 10_000.0;
    }
    weights
}

const CHANNEL_KEYS: [&str; 4] = ["fields", "max_tokens", "when", "template_ref"];

pub(super) fn feedback(cx: &mut Cx<'_>, n: &Node) -> Node {
    let Some(list) = n.as_seq() else { return n.clone() };
    let mut ids: Vec<String> = list.iter().filter_map(|c| str_at(c, "id").map(str::to_owned)).collect();
    seq(list.iter().enumerate().map(|(i, c)| channel(cx, i, c, &mut ids)).collect())
}

fn channel(cx: &mut Cx<'_>, index: usize, c: &Node, ids: &mut Vec<String>) -> Node {
    let from = str_at(c, "source").or_else(|| str_at(c, "from"));
    let to = str_at(c, "destination").or_else(|| str_at(c, "to"));
    let id = match str_at(c, "id") {
        Some(id) => id.to_owned(),
        None => {
            let base = str_at(c, "name")
                .map(|n| slug(n, '_'))
                .unwrap_or_else(|| format!("{}_to_{}", slug(from.unwrap_or("feedback"), '_'), slug(to.unwrap_or("loop"), '_')));
            let unique = (1..)
                .map(|k| if k == 1 { base.clone() } else { format!("{base}_{k}") })
                .find(|c| !ids.contains(c));
            let id = unique.unwrap_or(base);
            ids.push(id.clone());
            cx.change(format!("feedback_channels[{index}].id"), format!("`{id}`"));
            id
        }
    };
    let path = format!("feedback_channels.{id}");
    let mut out = Obj::new().put("id", text(&id));
    match from.and_then(|f| prefixed_source(cx, f)) {
        Some(source) => {
            if Some(source.as_str()) != str_at(c, "source") {
                cx.change(format!("{path}.source"), format!("`{}` → `{source}`", from.unwrap_or_default()));
            }
            out.set("source", text(source));
        }
        None => cx.left(
            format!("{path}.source"),
            format!("`{}` names no evaluator or worker", from.unwrap_or("(none)")),
        ),
    }
    match to
        .map(|t| prefixed_destination(cx, t))
        .or_else(|| Some(default_destination(cx, from?)))
    {
        Some(Some(destination)) => {
            if Some(destination.as_str()) != str_at(c, "destination") {
                let was = to.map_or("(none)".to_owned(), |t| format!("`{t}`"));
                cx.change(format!("{path}.destination"), format!("{was} → `{destination}`"));
            }
            out.set("destination", text(destination));
        }
        _ => cx.left(
            format!("{path}.destination"),
            format!("`{}` names no worker", to.unwrap_or("(none)")),
        ),
    }
    let format = match str_at(c, "format") {
        Some(f @ ("structured" | "template" | "human_queue")) => f,
        Some(_) => "template",
        None => "structured",
    };
    if str_at(c, "format") != Some(format) {
        cx.change(format!("{path}.format"), format!("`{format}`"));
    }
    out.set("format", text(format));
    for entry in entries(c) {
        let key = entry.key.as_str();
        if CHANNEL_KEYS.contains(&key) {
            out.set(key, entry.value.clone());
        } else if !["id", "name", "source", "from", "destination", "to", "format"].contains(&key) {
            cx.keep(format!("{path}.{key}"), &entry.value);
        }
    }
    out.build()
}

fn prefixed_source(cx: &Cx<'_>, name: &str) -> Option<String> {
    if name.starts_with("evaluators.") || name.starts_with("workers.") {
        return Some(name.to_owned());
    }
    let id = name.split('.').next().unwrap_or(name);
    if cx.is_evaluator(id) {
        Some(format!("evaluators.{id}"))
    } else if cx.is_worker(id) {
        Some(format!("workers.{id}"))
    } else {
        None
    }
}

fn prefixed_destination(cx: &Cx<'_>, name: &str) -> Option<String> {
    if name.starts_with("workers.") || name.starts_with("optimization_strategy") {
        return Some(name.to_owned());
    }
    cx.is_worker(name).then(|| format!("workers.{name}"))
}

/// Feedback without a destination goes back to the workers the evaluator
/// checked (the first of them).
fn default_destination(cx: &Cx<'_>, from: &str) -> Option<String> {
    let evaluator = cx
        .root
        .get("evaluators")?
        .as_seq()?
        .iter()
        .find(|e| str_at(e, "id") == Some(from))?;
    let first = match evaluator.get("runs_after").and_then(Node::as_seq) {
        Some(after) => after.iter().filter_map(Node::as_str).find(|w| *w != "*")?.to_owned(),
        None => cx.sinks.first()?.clone(),
    };
    Some(format!("workers.{first}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_add_up() {
        for n in 1..=7 {
            let w = super::equal_weights(n);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{n}: {w:?}");
        }
        assert_eq!(super::equal_weights(3), [0.3333, 0.3333, 0.3334]);
    }
}
