//! `allow_programs` resolved to files when the sandbox is built, and
//! programs compared with them by file, not by name.
//!
//! A bare entry (`python3`) is the file that name finds on PATH at start-up,
//! as the directory it is in (symlinks of the directory resolved) joined with
//! the name: `/usr/bin/python3` is it, a `./python3` the worker wrote is not,
//! and neither is `python` even when both link to one interpreter (a
//! multi-call binary such as busybox is a different program under each name).
//! An entry with a slash is that file, however it is named.

use std::path::{Path, PathBuf};

/// One `allow_programs` entry and the file it allows.
#[derive(Clone, Debug)]
pub(crate) struct Allowed {
    pub entry: String,
    /// For a bare name: its PATH location; for a path: the canonical file.
    /// `None` when nothing was found at start-up (it allows nothing, except a
    /// path entry that exists by the time a command names it).
    resolved: Option<PathBuf>,
}

pub(crate) fn resolve_all(root: &Path, entries: &[String]) -> Vec<Allowed> {
    entries
        .iter()
        .map(|entry| Allowed {
            entry: entry.clone(),
            resolved: resolve_entry(root, entry),
        })
        .collect()
}

fn resolve_entry(root: &Path, entry: &str) -> Option<PathBuf> {
    if entry.contains('/') {
        std::fs::canonicalize(absolutize(root, entry)).ok()
    } else {
        on_path(root, entry)
    }
}

/// Whether `program` (as in an argv) is one of the allowed files.
pub(crate) fn allowed(root: &Path, list: &[Allowed], program: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    let found = if program.contains('/') {
        let p = absolutize(root, program);
        Some(p)
    } else {
        on_path(root, program)
    };
    let Some(found) = found else { return false };
    let by_dir = in_canonical_dir(&found);
    let canonical = std::fs::canonicalize(&found).ok();
    list.iter().any(|a| {
        if a.entry.contains('/') {
            let want = a
                .resolved
                .clone()
                .or_else(|| std::fs::canonicalize(absolutize(root, &a.entry)).ok());
            want.is_some() && want == canonical
        } else {
            a.resolved.is_some() && a.resolved == by_dir && file_name_is(&found, &a.entry)
        }
    })
}

/// The files of allowed programs inside `root` (tools may not rewrite them).
pub(crate) fn files_inside(root: &Path, list: &[Allowed]) -> Vec<PathBuf> {
    list.iter()
        .filter_map(|a| a.resolved.clone())
        .filter(|p| std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(root)))
        .collect()
}

fn file_name_is(p: &Path, name: &str) -> bool {
    p.file_name().is_some_and(|n| n == name)
}

fn absolutize(root: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

/// `p` with its directory's symlinks resolved and its own name kept.
fn in_canonical_dir(p: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(p.parent()?).ok()?;
    Some(dir.join(p.file_name()?))
}

/// The file `name` runs as a command: the first executable file of that name
/// in PATH's directories, looked up as the child process will (a relative
/// directory is relative to the root, the child's working directory).
fn on_path(root: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                root.to_path_buf()
            } else {
                root.join(dir)
            }
        })
        .map(|dir| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .and_then(|p| in_canonical_dir(&p))
}
