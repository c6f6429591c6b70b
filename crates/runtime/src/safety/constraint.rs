//! What every constraint type implements: [`Constraint`]. The engine
//! decides *when* a constraint applies (its scope, its workers); the
//! constraint decides *what* it finds. A new type is one file beside this
//! one plus its `mod` line and its arm in `safety::build`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use loopc_plan::{SafetyAction, SafetyCheck};
use serde_json::Value;

use super::Memo;
use crate::executor::ToolCall;

/// What a constraint sees while it checks.
pub(crate) struct Context<'a> {
    pub check: &'a SafetyCheck,
    pub worker: &'a str,
    /// The canonical workspace root (tool paths are relative to it).
    pub root: &'a Path,
    /// Now, in wall-clock milliseconds.
    pub now_ms: i64,
    memo: &'a Mutex<Memo>,
    changes: &'a AtomicU64,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        check: &'a SafetyCheck,
        worker: &'a str,
        root: &'a Path,
        now_ms: i64,
        memo: &'a Mutex<Memo>,
        changes: &'a AtomicU64,
    ) -> Self {
        Context {
            check,
            worker,
            root,
            now_ms,
            memo,
            changes,
        }
    }

    /// The engine's memory (kept with the run across restarts); `f` says
    /// whether it changed it.
    pub fn remember<T>(&self, f: impl FnOnce(&mut Memo) -> (T, bool)) -> T {
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        let (out, changed) = f(&mut memo);
        if changed {
            self.changes.fetch_add(1, Ordering::SeqCst);
        }
        out
    }

    /// Whether the constraint's action is `strip` (then a finding carries the cut output).
    pub fn strips(&self) -> bool {
        self.check.action == SafetyAction::Strip
    }
}

/// A constraint that fired: why, and for `strip` the output with the
/// offending parts removed (`None`: it cannot be cut apart).
pub(crate) struct Found {
    pub message: String,
    pub redacted: Option<Value>,
    /// An action other than the constraint's own (`human_gate` always
    /// escalates; an unenforced type only warns).
    pub action: Option<SafetyAction>,
}

impl Found {
    pub fn new(message: impl Into<String>) -> Self {
        Found {
            message: message.into(),
            redacted: None,
            action: None,
        }
    }
}

/// One safety constraint type.
pub(crate) trait Constraint: Send + Sync {
    /// Checked on every tool call, whatever scope it is declared at (it
    /// guards the worker's actions).
    fn guards_tool_calls(&self) -> bool {
        false
    }
    /// Checked on what every tool call changed in the workspace, whatever
    /// scope it is declared at.
    fn guards_changes(&self) -> bool {
        false
    }
    /// On the files a tool call created, modified or deleted.
    fn changes(&self, _cx: &Context<'_>, _changes: &[crate::tools::changes::Change]) -> Option<Found> {
        None
    }
    /// Before a worker is invoked.
    fn invocation(&self, _cx: &Context<'_>) -> Option<Found> {
        None
    }
    /// On an output (or a value about to be written to memory).
    fn output(&self, _cx: &Context<'_>, _value: &Value) -> Option<Found> {
        None
    }
    /// On a tool call the worker asks for.
    fn tool_call(&self, _cx: &Context<'_>, _call: &ToolCall) -> Option<Found> {
        None
    }
}
