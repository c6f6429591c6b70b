//! Resolving and checking the specs that a composition's children name.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// What became of one child `ref`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChildOutcome {
    Valid {
        path: PathBuf,
        bounds: crate::graph::LoopBounds,
        interface: ChildInterface,
    },
    Missing {
        tried: Vec<PathBuf>,
    },
    /// Unreadable, or checked with errors; `first` is the first error as
    /// `file:line:col: message`.
    Invalid {
        path: PathBuf,
        errors: usize,
        first: String,
    },
    /// The child is one of the specs currently being composed.
    Cycle {
        path: PathBuf,
    },
}

/// What adapters may name in a child: `outputs.<worker id or output
/// name>` and `inputs.<field>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChildInterface {
    /// Worker ids, then the workers' `outputs.name`s.
    pub outputs: Vec<String>,
    /// The fields of `inputs.schema`.
    pub inputs: Vec<String>,
}

impl ChildInterface {
    pub fn of(spec: &loopc_ir::Spec) -> Self {
        let ids = spec.workers.iter().filter_map(|w| w.id.as_ref());
        let names = spec.workers.iter().filter_map(|w| w.output_name.as_ref());
        ChildInterface {
            outputs: ids.chain(names).map(|n| n.value.clone()).collect(),
            inputs: spec
                .inputs
                .as_ref()
                .map(|i| i.fields.iter().map(|f| f.name.value.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Candidate locations of `reference` written in `base_file`: next to the
/// file, then in each enclosing directory up to the repository root (the
/// nearest directory holding `.git` or `loopc.toml`, else the filesystem root).
pub fn candidates(base_file: &Path, reference: &str) -> Vec<PathBuf> {
    let reference = Path::new(reference);
    if reference.is_absolute() {
        return vec![reference.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut dir = match base_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    loop {
        out.push(dir.join(reference));
        if dir.join(".git").exists() || dir.join("loopc.toml").exists() {
            break;
        }
        // A relative path is walked up to the working directory, not above it.
        dir = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ if dir != Path::new(".") && dir.is_relative() => Path::new("."),
            _ => break,
        };
    }
    out
}

/// Memo of child outcomes by canonical path, shared by all files checked in
/// one run (children are typically shared by several compositions).
#[derive(Default)]
pub(crate) struct ChildCache {
    outcomes: Mutex<HashMap<PathBuf, ChildOutcome>>,
}

impl ChildCache {
    pub(crate) fn get(&self, path: &Path) -> Option<ChildOutcome> {
        self.outcomes.lock().expect("cache lock").get(path).cloned()
    }

    pub(crate) fn put(&self, path: PathBuf, outcome: ChildOutcome) {
        self.outcomes.lock().expect("cache lock").insert(path, outcome);
    }
}

/// A path for messages: `..` folded away lexically and, when inside the
/// working directory, relative to it, so output does not depend on where
/// the checkout lives.
pub fn shown(path: &Path) -> String {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir if matches!(normal.components().next_back(), Some(Component::Normal(_))) => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(relative) = normal.strip_prefix(&cwd) {
            normal = relative.to_path_buf();
        }
    }
    normal.to_string_lossy().replace('\\', "/")
}
