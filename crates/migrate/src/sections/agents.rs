//! `workers`: a model written as a string, worker-level temperature,
//! `dependencies`, and the `inputs`/`outputs` LSS 1.0 requires.

use loopc_syntax::Node;

use super::Cx;
use crate::build::{entries, seq, str_at, text, Obj};

/// Keys an LSS 1.0 worker may have, besides the ones rewritten here.
const WORKER_KEYS: [&str; 6] = ["id", "role", "tools", "timeout_seconds", "retries", "cost_budget_usd"];

/// Model settings the old dialect wrote on the worker.
const MODEL_KEYS: [&str; 3] = ["temperature", "max_tokens", "top_p"];

/// The ids a worker depends on, whichever key the file used.
pub(super) fn dependencies(w: &Node) -> Vec<&str> {
    ["depends_on", "dependencies"]
        .iter()
        .filter_map(|k| w.get(k)?.as_seq())
        .flatten()
        .filter_map(Node::as_str)
        .collect()
}

pub(super) fn workers(cx: &mut Cx<'_>, n: &Node) -> Node {
    let Some(list) = n.as_seq() else { return n.clone() };
    seq(list.iter().map(|w| worker(cx, w)).collect())
}

fn worker(cx: &mut Cx<'_>, w: &Node) -> Node {
    let id = str_at(w, "id").unwrap_or("?").to_owned();
    let path = format!("workers.{id}");
    let mut out = Obj::new();
    for entry in entries(w) {
        let key = entry.key.as_str();
        match key {
            "model" => out.set("model", model(cx, &format!("{path}.model"), &entry.value, Some(w))),
            "depends_on" | "dependencies" => {
                if key == "dependencies" {
                    cx.change(format!("{path}.dependencies"), "→ `depends_on`");
                }
                out.set("depends_on", entry.value.clone());
            }
            "inputs" | "outputs" => out.set(key, entry.value.clone()),
            _ if WORKER_KEYS.contains(&key) => out.set(key, entry.value.clone()),
            _ if MODEL_KEYS.contains(&key) => {}
            _ => cx.keep(format!("{path}.{key}"), &entry.value),
        }
    }
    if !out.has("inputs") {
        let deps = dependencies(w);
        let from: Vec<String> = if deps.is_empty() {
            required_inputs(cx)
        } else {
            deps.iter().map(|d| format!("workers.{d}")).collect()
        };
        if from.is_empty() {
            cx.left(format!("{path}.inputs"), "what the worker reads (`from: inputs.…` or `workers.…`)");
        } else {
            let refs = from.iter().map(|f| Obj::new().put("from", text(f)).build()).collect();
            out.set("inputs", seq(refs));
            cx.change(format!("{path}.inputs"), format!("wired from {}", from.join(", ")));
        }
    }
    if !out.has("outputs") {
        out.set(
            "outputs",
            Obj::new()
                .put("name", text(format!("{id}_output")))
                .put("format", text("text"))
                .build(),
        );
        cx.change(format!("{path}.outputs"), format!("`{id}_output`, text (name its real output)"));
    }
    if !out.has("cost_budget_usd") {
        if let Some(cap) = cx.worker_caps.get(&id).cloned() {
            out.set("cost_budget_usd", cap);
            cx.change(format!("{path}.cost_budget_usd"), "from `cost_limits.per_worker_caps`");
        }
    }
    out.build()
}

/// The inputs a first worker reads: the required ones, or all of them.
fn required_inputs(cx: &Cx<'_>) -> Vec<String> {
    let Some(inputs) = cx.root.get("inputs") else { return Vec::new() };
    let fields: Vec<(String, bool)> = match inputs.as_seq() {
        Some(list) => list
            .iter()
            .filter_map(|i| Some((str_at(i, "name")?.to_owned(), i.get("required")?.as_bool() == Some(true))))
            .chain(
                list.iter()
                    .filter(|i| i.get("required").is_none())
                    .filter_map(|i| Some((str_at(i, "name")?.to_owned(), false))),
            )
            .collect(),
        None => entries(inputs.get("schema").unwrap_or(inputs))
            .iter()
            .map(|e| (e.key.clone(), e.value.get("required").and_then(Node::as_bool) == Some(true)))
            .collect(),
    };
    let required: Vec<&String> = fields.iter().filter(|(_, r)| *r).map(|(n, _)| n).collect();
    let chosen: Vec<&String> = if required.is_empty() {
        fields.iter().map(|(n, _)| n).collect()
    } else {
        required
    };
    chosen.iter().map(|n| format!("inputs.{n}")).collect()
}

/// A model object from a bare name (`claude-sonnet-4` → provider
/// `anthropic`), with the settings the old file wrote beside it on `owner`.
pub(super) fn model(cx: &mut Cx<'_>, path: &str, m: &Node, owner: Option<&Node>) -> Node {
    let settings = |mut out: Obj, cx: &mut Cx<'_>| {
        for key in MODEL_KEYS {
            if let Some(v) = owner.and_then(|o| o.get(key)) {
                if !out.has(key) {
                    out.set(key, v.clone());
                    cx.change(
                        format!("{path}.{key}"),
                        format!("moved into the model from the {}", owner_kind(path)),
                    );
                }
            }
        }
        out.build()
    };
    if m.get("name").is_some() {
        let mut out = Obj::new();
        for e in entries(m) {
            out.set(&e.key, e.value.clone());
        }
        return settings(out, cx);
    }
    let Some(name) = m.as_str() else { return m.clone() };
    let mut out = Obj::new();
    match provider(name) {
        Some(p) => {
            out.set("provider", text(p));
            cx.change(path, format!("`{name}` → provider `{p}`, name `{name}`"));
        }
        None => cx.left(format!("{path}.provider"), format!("the provider of `{name}`")),
    }
    out.set("name", text(name));
    settings(out, cx)
}

fn owner_kind(path: &str) -> &'static str {
    if path.starts_with("evaluators") {
        "evaluator"
    } else {
        "worker"
    }
}

/// The provider a model name belongs to, where its name says so.
fn provider(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    let n = n.rsplit('/').next().unwrap_or(&n);
    let starts = |p: &[&str]| p.iter().any(|p| n.starts_with(p));
    Some(if starts(&["claude"]) {
        "anthropic"
    } else if starts(&["gpt", "o1", "o3", "o4", "chatgpt", "codex", "text-embedding"]) {
        "openai"
    } else if starts(&["gemini", "gemma"]) {
        "google"
    } else if starts(&["mistral", "mixtral", "codestral", "devstral"]) {
        "mistral"
    } else if starts(&["llama"]) {
        "meta"
    } else if starts(&["command"]) {
        "cohere"
    } else if starts(&["deepseek"]) {
        "deepseek"
    } else if starts(&["grok"]) {
        "xai"
    } else if starts(&["qwen"]) {
        "alibaba"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn providers_from_names() {
        assert_eq!(super::provider("claude-sonnet-4-6"), Some("anthropic"));
        assert_eq!(super::provider("gpt-5.3-codex"), Some("openai"));
        assert_eq!(super::provider("openai/o3-mini"), Some("openai"));
        assert_eq!(super::provider("house-model-7"), None);
    }
}
