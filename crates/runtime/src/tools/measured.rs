//! Tool calls measured on the workspace's files ([`changes`]): what a call
//! created, modified and deleted, checked against what no command may
//! change, and undone when a check refuses it.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::{changes, file_id, resolve_in, BlockRule, Blocked, Sandbox, ToolFailure};
use crate::executor::ToolCall;

/// A tool call's result with what it changed in the workspace.
#[derive(Debug)]
pub struct Measured {
    pub value: Value,
    pub changes: Vec<changes::Change>,
    before: changes::Snapshot,
    after: changes::Snapshot,
}

impl Measured {
    /// Put the changed files back as they were; the paths that could not be.
    pub fn undo(&self, sb: &Sandbox) -> Vec<String> {
        changes::undo(&sb.root, &self.before, &self.after, &self.changes)
    }
}

impl Sandbox {
    /// [`Sandbox::call`], measuring what the call changed in the workspace:
    /// for `run_command` the whole root before and after, for the file tools
    /// their file. A `run_command` that changed a read-only file, or created
    /// a symlink that leads outside the root, is undone and blocked.
    pub fn call_measured(&self, call: &ToolCall, allowed_tools: &[String]) -> Result<Measured, ToolFailure> {
        let whole_root = call.tool == "run_command";
        let single = if whole_root || !crate::safety::PATH_WRITING_TOOLS.contains(&call.tool.as_str()) {
            None
        } else {
            call.args.get("path").and_then(Value::as_str).and_then(|p| self.resolve(p).ok())
        };
        if !whole_root && single.is_none() {
            let value = self.call(call, allowed_tools)?;
            return Ok(Measured {
                value,
                changes: Vec::new(),
                before: changes::Snapshot::default(),
                after: changes::Snapshot::default(),
            });
        }
        let take = |keep: bool| match &single {
            Some(file) => changes::snapshot_file(&self.root, file),
            None => changes::snapshot_keeping(&self.root, &self.protected, &|p: &Path| {
                // Git's config and hooks are always kept, so a change to them can be undone.
                keep || self.is_read_only(p) || p.iter().any(|c| c == ".git")
            }),
        };
        let before = take(self.keep_contents);
        // A command that failed (or timed out) may still have changed files:
        // they are measured and checked all the same.
        let result = self.call(call, allowed_tools);
        let after = take(false);
        let value = match result {
            Ok(v) => v,
            Err(ToolFailure::Failed(message)) => serde_json::json!({ "error": message }),
            Err(blocked) => return Err(blocked),
        };
        // Past MAX_FILES a snapshot is partial, and where it stops can move:
        // a diff would invent changes, and an undo delete untouched files.
        let measurable = !before.partial && !after.partial;
        let measured = Measured {
            changes: if measurable {
                changes::diff(&self.root, &before, &after)
            } else {
                Vec::new()
            },
            value,
            before,
            after,
        };
        if whole_root {
            if let Err(blocked) = self.check_changes(&measured.changes, &measured.before) {
                let failed = measured.undo(self);
                let how = if failed.is_empty() {
                    "its changes were undone".to_owned()
                } else {
                    format!("its changes could not all be undone: {}", failed.join(", "))
                };
                return Err(Blocked::new(blocked.rule, format!("{} ({how})", blocked.message)).into());
            }
        }
        Ok(measured)
    }

    fn is_read_only(&self, p: &Path) -> bool {
        file_id(p).is_some_and(|id| self.read_only_ids.contains(&id)) || self.read_only.iter().any(|r| p.starts_with(r))
    }

    /// What no command may change: read-only files, and symlinks out of the root.
    fn check_changes(&self, list: &[changes::Change], before: &changes::Snapshot) -> Result<(), Blocked> {
        for c in list {
            let path = self.root.join(&c.path);
            // A repository's configuration and hooks run code when a person
            // uses git there; a new repository (`git init`) is the worker's own.
            if let Some(git_dir) = Path::new(&c.path).ancestors().find(|a| a.file_name().is_some_and(|n| n == ".git")) {
                if before.has(git_dir) {
                    return Err(Blocked::new(
                        BlockRule::ProtectedPath,
                        format!(
                            "`run_command` changed `{}`: git's configuration and hooks run code when a person uses git",
                            c.path
                        ),
                    ));
                }
            }
            let was_read_only = self.read_only.iter().any(|r| path.starts_with(r));
            if was_read_only {
                return Err(Blocked::new(
                    BlockRule::ProtectedPath,
                    format!("`run_command` changed `{}`, which is read-only in this run", c.path),
                ));
            }
            if let Some(target) = &c.link_target {
                let base = path.parent().unwrap_or(&self.root);
                let lexical = if target.is_absolute() { target.clone() } else { base.join(target) };
                let inside = match fs::canonicalize(&lexical) {
                    Ok(real) => real.starts_with(&self.root),
                    Err(_) => resolve_in(&self.root, &lexical.to_string_lossy()).is_ok(),
                };
                if !inside {
                    return Err(Blocked::new(
                        BlockRule::PathOutsideRoot,
                        format!(
                            "`run_command` created `{}`, a symlink to {} outside the workspace root",
                            c.path,
                            target.display()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
