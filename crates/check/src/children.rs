//! Resolving and checking the specs that a composition's children name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What became of one child `ref`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChildOutcome {
    Valid {
        path: PathBuf,
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
