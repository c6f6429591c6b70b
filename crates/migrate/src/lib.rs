//! `loopc migrate`: the older list-form LSS dialect found in upstream
//! history rewritten into LSS 1.0.
//!
//! That dialect wrote `inputs` and `termination_conditions` as lists,
//! feedback as `from`/`to` without prefixes, a model as a bare string,
//! prose-only safety rules with `critical`/`high` severities, and flat
//! `max_usd` cost caps. Each section is rewritten on its own and left alone
//! when it already has the LSS 1.0 shape, so migrating twice changes nothing.
//!
//! The rule of the rewrite: derive what follows from the file itself
//! (a provider from a model's name, `runs_after` from the worker graph, a
//! success condition per evaluator from `all_evaluators_pass`), never invent
//! what only the author knows (a judge model, a description, a safety
//! mechanism for a prose rule). Those stay missing, so `loopc check` points
//! at each one. Every old field without an LSS 1.0 home is kept under
//! `extensions.x_migrated`, keyed by where it was.

mod build;
mod sections;

use loopc_syntax::Node;

use build::{entries, Obj};

/// What one rewrite did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Where in the spec, as a dotted path (`workers.coder.model`).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The migrated spec and what changed on the way.
#[derive(Debug)]
pub struct Migration {
    pub spec: Node,
    /// Rewrites that follow from the file.
    pub changes: Vec<Change>,
    /// What the old file does not say and a person must add (the check of
    /// the result points at each).
    pub left: Vec<Change>,
    /// Fields kept under `extensions.x_migrated` (no LSS 1.0 home).
    pub moved: Vec<String>,
}

impl Migration {
    /// Whether the file was already LSS 1.0 in every section.
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty() && self.moved.is_empty()
    }
}

/// The order of sections in an LSS 1.0 spec.
const SECTIONS: [&str; 14] = [
    "loop_name",
    "version",
    "objective",
    "inputs",
    "memory",
    "workers",
    "evaluators",
    "feedback_channels",
    "optimization_strategy",
    "termination_conditions",
    "metrics",
    "safety_constraints",
    "cost_limits",
    "extensions",
];

/// Migrate the document `root` (the parsed spec).
pub fn migrate(root: &Node) -> Migration {
    let mut cx = sections::Cx::new(root);
    let mut out = Obj::new();
    let parts = sections::rewrite(&mut cx);
    for key in SECTIONS {
        if key == "extensions" {
            continue;
        }
        if let Some(value) = parts.get(key) {
            out.set(key, value.clone());
        }
    }
    // Other top-level keys (`metadata`, `x_…`, LSS 1.1's `composition`) are
    // allowed as they are: LSS 1.0 leaves the top level open.
    for entry in entries(root) {
        if !SECTIONS.contains(&entry.key.as_str()) {
            out.set(&entry.key, entry.value.clone());
        }
    }
    let extensions = cx.extensions();
    if let Some(extensions) = extensions {
        out.set("extensions", extensions);
    }
    Migration {
        spec: out.build(),
        changes: cx.changes,
        left: cx.left,
        moved: cx.moved.iter().map(|(path, _)| path.clone()).collect(),
    }
}
