//! One module per section; `Cx` carries what sections learn of each other
//! (ids, input defaults, caps) and the record of what changed.

mod agents;
mod checks;
mod inputs;
mod limits;
mod metrics;
mod safety;
mod termination;

use std::collections::HashMap;

use loopc_syntax::{Node, Value};

use crate::build::{entries, int, is_number, str_at, text, Obj};
use crate::Change;

pub(crate) struct Cx<'a> {
    pub(crate) root: &'a Node,
    /// Worker ids in order, and the ids no other worker depends on (the
    /// last workers of an iteration: what evaluators run after).
    pub(crate) workers: Vec<String>,
    pub(crate) sinks: Vec<String>,
    pub(crate) evaluators: Vec<String>,
    /// Input defaults, to resolve `${inputs.x}` in numeric fields.
    pub(crate) defaults: HashMap<String, Node>,
    /// `cost_limits.per_worker_caps`: a worker's `cost_budget_usd`.
    pub(crate) worker_caps: HashMap<String, Node>,
    /// Failure rules that the old `cost_limits` held (wall clock, iterations).
    pub(crate) limit_failures: Vec<Node>,
    /// Metrics that rewritten success conditions need.
    pub(crate) new_metrics: Vec<Node>,
    /// The metric the first success condition tests.
    pub(crate) success_metric: Option<String>,
    pub(crate) changes: Vec<Change>,
    /// What only the author can supply.
    pub(crate) left: Vec<Change>,
    pub(crate) moved: Vec<(String, Node)>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(root: &'a Node) -> Self {
        let ids = |section: &str| -> Vec<String> {
            root.get(section)
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|n| str_at(n, "id").map(str::to_owned))
                .collect()
        };
        let workers = ids("workers");
        let depended: Vec<String> = root
            .get("workers")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .flat_map(|w| agents::dependencies(w).into_iter().map(str::to_owned))
            .collect();
        let sinks = workers.iter().filter(|w| !depended.contains(w)).cloned().collect();
        Cx {
            root,
            sinks,
            workers,
            evaluators: ids("evaluators"),
            defaults: HashMap::new(),
            worker_caps: HashMap::new(),
            limit_failures: Vec::new(),
            new_metrics: Vec::new(),
            success_metric: None,
            changes: Vec::new(),
            left: Vec::new(),
            moved: Vec::new(),
        }
    }

    pub(crate) fn change(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.changes.push(Change {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Something the file does not say and the author must add.
    pub(crate) fn left(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.left.push(Change {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Keep an old field with no LSS 1.0 home under `extensions.x_migrated`.
    pub(crate) fn keep(&mut self, path: impl Into<String>, value: &Node) {
        self.moved.push((path.into(), value.clone()));
    }

    /// The spec's own `extensions`, plus `x_migrated` when fields moved.
    pub(crate) fn extensions(&self) -> Option<Node> {
        let mut out = Obj::new();
        for entry in self.root.get("extensions").map(entries).unwrap_or(&[]) {
            out.set(&entry.key, entry.value.clone());
        }
        if !self.moved.is_empty() {
            let mut moved = Obj::new();
            for (path, value) in &self.moved {
                moved.set(path, value.clone());
            }
            out.set("x_migrated", moved.build());
        }
        (!out.is_empty()).then(|| out.build())
    }

    /// A number, or `${inputs.name}` whose input has a numeric default.
    pub(crate) fn number(&mut self, path: &str, n: &Node) -> Option<Node> {
        if is_number(n) {
            return Some(n.clone());
        }
        let name = n.as_str()?.trim().strip_prefix("${inputs.")?.strip_suffix('}')?;
        let value = self.defaults.get(name).filter(|d| is_number(d))?.clone();
        self.change(path, format!("`${{inputs.{name}}}` → {} (the input's default)", show(&value)));
        Some(value)
    }

    pub(crate) fn is_worker(&self, id: &str) -> bool {
        self.workers.iter().any(|w| w == id)
    }

    pub(crate) fn is_evaluator(&self, id: &str) -> bool {
        self.evaluators.iter().any(|e| e == id)
    }
}

/// A scalar as it reads in a message.
pub(crate) fn show(n: &Node) -> String {
    match &n.value {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}

/// Every section, rewritten in the order they depend on each other.
pub(crate) fn rewrite(cx: &mut Cx<'_>) -> HashMap<&'static str, Node> {
    let root = cx.root;
    let mut out = HashMap::new();
    for key in ["loop_name", "objective"] {
        if let Some(n) = root.get(key) {
            out.insert(key, n.clone());
        }
    }
    if let Some(v) = root.get("version") {
        out.insert("version", version(cx, v));
    }
    let mut put = |key: &'static str, value: Option<Node>| {
        if let Some(value) = value {
            out.insert(key, value);
        }
    };
    put("inputs", root.get("inputs").map(|n| inputs::inputs(cx, n)));
    put(
        "memory",
        Some(match root.get("memory") {
            Some(n) => inputs::memory(cx, n),
            None => {
                cx.change("memory", "absent → `type: ephemeral` (nothing is kept between iterations)");
                Obj::new().put("type", text("ephemeral")).build()
            }
        }),
    );
    put("cost_limits", root.get("cost_limits").map(|n| limits::cost_limits(cx, n)));
    put("workers", root.get("workers").map(|n| agents::workers(cx, n)));
    put("evaluators", root.get("evaluators").map(|n| checks::evaluators(cx, n)));
    put("feedback_channels", root.get("feedback_channels").map(|n| checks::feedback(cx, n)));
    put(
        "optimization_strategy",
        root.get("optimization_strategy").map(|n| limits::optimization(cx, n)),
    );
    put(
        "termination_conditions",
        root.get("termination_conditions").map(|n| termination::termination(cx, n)),
    );
    put("metrics", metrics::metrics(cx, root.get("metrics")));
    put(
        "safety_constraints",
        root.get("safety_constraints").map(|n| safety::constraints(cx, n)),
    );
    out
}

/// `"1.0"` and `1.0` → `"1.0.0"`: LSS versions are semver strings.
fn version(cx: &mut Cx<'_>, v: &Node) -> Node {
    let written = match &v.value {
        Value::String(s) => s.trim().to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        _ => return v.clone(),
    };
    let parts: Vec<&str> = written.split('.').collect();
    let numeric = parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || parts.len() > 3 || (parts.len() == 3 && matches!(v.value, Value::String(_))) {
        return v.clone();
    }
    let mut full = parts.clone();
    full.resize(3, "0");
    let semver = full.join(".");
    cx.change("version", format!("`{written}` → `\"{semver}\"` (LSS versions are semver strings)"));
    text(semver)
}

/// The integer of a number node (`5.0` → 5), when it is whole.
pub(crate) fn whole(n: &Node) -> Option<i64> {
    match n.value {
        Value::Int(i) => Some(i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    }
}

pub(crate) fn int_node(n: &Node) -> Option<Node> {
    whole(n).map(int)
}
