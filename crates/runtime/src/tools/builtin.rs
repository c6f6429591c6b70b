//! The built-in tools' implementations ([`super::table::TOOLS`] lists them
//! with their argument schemas). Each resolves its paths through the
//! sandbox first; nothing here touches a path the sandbox did not accept.

use std::fs;
use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::{failed, str_arg, BlockRule, Blocked, Sandbox, ToolFailure, DEFAULT_COMMAND_TIMEOUT, MAX_READ_BYTES};

impl Sandbox {
    pub(super) fn read_file(&self, args: &Value) -> Result<Value, ToolFailure> {
        let path = self.resolve(str_arg(args, "path")?)?;
        let meta = fs::metadata(&path).map_err(|e| failed(&self.display(&path), e))?;
        if meta.is_dir() {
            return Err(ToolFailure::Failed(format!("{} is a directory", self.display(&path))));
        }
        if meta.len() > MAX_READ_BYTES {
            return Err(ToolFailure::Failed(format!(
                "{} is {} bytes, more than read_file returns ({MAX_READ_BYTES})",
                self.display(&path),
                meta.len()
            )));
        }
        // A hard link inside the root to a file outside it reads the outside
        // file: only files whose every link is inside are read.
        let outside = self.links_outside_root(&path);
        if outside > 0 {
            return Err(Blocked::new(
                BlockRule::PathOutsideRoot,
                format!("{} has {outside} hard link(s) outside the workspace root", self.display(&path)),
            )
            .into());
        }
        let bytes = fs::read(&path).map_err(|e| failed(&self.display(&path), e))?;
        Ok(json!({ "content": String::from_utf8_lossy(&bytes) }))
    }

    pub(super) fn write_file(&self, args: &Value, append: bool) -> Result<Value, ToolFailure> {
        let shown = str_arg(args, "path")?;
        let content = str_arg(args, "content")?;
        let path = self.resolve_for_change(shown)?;
        if path == self.root {
            return Err(ToolFailure::Failed("cannot write to the workspace root itself".into()));
        }
        let shown = self.display(&path);
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.is_dir() {
                return Err(ToolFailure::Failed(format!("{shown} is a directory")));
            }
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| failed(&shown, e))?;
            // A directory created concurrently through a symlink would show here.
            let real = fs::canonicalize(parent).map_err(|e| failed(&shown, e))?;
            if !real.starts_with(&self.root) {
                return Err(Blocked::new(BlockRule::PathOutsideRoot, format!("{shown} leads outside the workspace root")).into());
            }
        }
        if append {
            // Appending changes the file in place, under every name it has.
            let outside = self.links_outside_root(&path);
            if outside > 0 {
                return Err(Blocked::new(
                    BlockRule::PathOutsideRoot,
                    format!("{shown} has {outside} hard link(s) outside the workspace root; appending would change that file"),
                )
                .into());
            }
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| failed(&shown, e))?;
            f.write_all(content.as_bytes()).map_err(|e| failed(&shown, e))?;
        } else {
            crate::atomic::write(&path, content.as_bytes(), crate::atomic::Mode::KeepExisting).map_err(|e| failed(&shown, e))?;
        }
        Ok(json!({ "path": shown, "bytes": content.len() }))
    }

    pub(super) fn delete_file(&self, args: &Value) -> Result<Value, ToolFailure> {
        let path = self.resolve_for_change(str_arg(args, "path")?)?;
        let shown = self.display(&path);
        if path == self.root {
            return Err(ToolFailure::Failed("cannot delete the workspace root".into()));
        }
        let meta = fs::symlink_metadata(&path).map_err(|e| failed(&shown, e))?;
        if meta.is_dir() {
            return Err(ToolFailure::Failed(format!("{shown} is a directory; delete_file removes files")));
        }
        fs::remove_file(&path).map_err(|e| failed(&shown, e))?;
        Ok(json!({ "path": shown, "deleted": true }))
    }

    pub(super) fn list_dir(&self, args: &Value) -> Result<Value, ToolFailure> {
        let path = match args.get("path") {
            None | Some(Value::Null) => ".",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(ToolFailure::Failed("`path` must be a string".into())),
        };
        let path = self.resolve(path)?;
        let shown = self.display(&path);
        let mut entries = Vec::new();
        for entry in fs::read_dir(&path).map_err(|e| failed(&shown, e))? {
            let entry = entry.map_err(|e| failed(&shown, e))?;
            let meta = entry.metadata().map_err(|e| failed(&shown, e))?;
            let kind = if meta.file_type().is_symlink() {
                "symlink"
            } else if meta.is_dir() {
                "dir"
            } else if meta.is_file() {
                "file"
            } else {
                "other"
            };
            let mut e = json!({ "name": entry.file_name().to_string_lossy(), "kind": kind });
            if meta.is_file() {
                e["size"] = json!(meta.len());
            }
            entries.push(e);
        }
        entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(json!({ "path": shown, "entries": entries }))
    }

    pub(super) fn run_command_tool(&self, args: &Value) -> Result<Value, ToolFailure> {
        let argv: Vec<String> = match args.get("argv") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| ToolFailure::Failed("`argv` must be a list of strings".into()))?,
            Some(_) => return Err(ToolFailure::Failed("`argv` must be a list of strings".into())),
            None => return Err(ToolFailure::Failed("missing argument `argv`".into())),
        };
        if argv.is_empty() {
            return Err(ToolFailure::Failed("`argv` is empty".into()));
        }
        let timeout = match args.get("timeout_seconds") {
            None | Some(Value::Null) => DEFAULT_COMMAND_TIMEOUT,
            Some(v) => match v.as_f64() {
                Some(s) if s > 0.0 && s.is_finite() && s <= 86_400.0 => Duration::from_secs_f64(s),
                _ => {
                    return Err(ToolFailure::Failed(
                        "`timeout_seconds` must be a positive number of seconds (at most a day)".into(),
                    ))
                }
            },
        };
        if self.shadow.as_ref().is_some_and(|s| s.is_outward(&argv)) {
            return Ok(crate::publish::shadowed(&argv));
        }
        // Within the run's wall-clock limit too.
        let timeout = self
            .deadline
            .map_or(timeout, |d| timeout.min(d.saturating_duration_since(std::time::Instant::now())));
        let out = self.run_command(&argv, timeout)?;
        Ok(json!({ "exit_code": out.exit_code, "stdout": out.stdout, "stderr": out.stderr }))
    }
}
