//! What a tool call changed in the workspace, measured on the files
//! themselves: a snapshot of the root before the call and one after, their
//! difference as created, modified and deleted files with the lines each
//! gained and lost (a line diff), and the way back (the earlier contents)
//! when a check refuses the change.
//!
//! Arguments cannot show what a program writes (`cp`, `mv` of a directory,
//! a path computed at run time, a generated 100,000-line file); the files can.
//! Of git's own directory (`.git`) only what runs code is walked (`config`,
//! `hooks/`); loopc's protected files are not walked.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Most files a snapshot walks; past it the snapshot is partial and says so.
pub const MAX_FILES: usize = 200_000;
/// Largest file whose content a snapshot keeps (for the line diff and undo).
pub const MAX_KEPT_FILE: u64 = 1024 * 1024;
/// Most content a snapshot keeps in all.
pub const MAX_KEPT_TOTAL: u64 = 64 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Modified,
    Deleted,
}

/// One changed path, relative to the root with `/` separators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    /// Lines added and removed (a line diff of the contents; a file whose
    /// earlier content was not kept counts all its lines as added).
    pub added: u64,
    pub removed: u64,
    /// For a created symlink: where it points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<PathBuf>,
}

impl Change {
    pub fn lines(&self) -> u64 {
        self.added + self.removed
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink(PathBuf),
    Other,
}

#[derive(Clone, Debug)]
struct Entry {
    kind: Kind,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    mode: u32,
    content: Option<Vec<u8>>,
}

impl Entry {
    fn same(&self, other: &Entry) -> bool {
        self.kind == other.kind
            && self.len == other.len
            && self.mtime_ns == other.mtime_ns
            && self.ctime_ns == other.ctime_ns
            && self.ino == other.ino
            && self.mode == other.mode
    }
}

/// The root's files at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    entries: BTreeMap<PathBuf, Entry>,
    /// Whether the walk stopped at [`MAX_FILES`].
    pub partial: bool,
}

/// Walk `root` (not `.git`, not the `skip` paths), keeping the contents of
/// all small files when `keep_content`.
pub fn snapshot(root: &Path, skip: &[PathBuf], keep_content: bool) -> Snapshot {
    snapshot_keeping(root, skip, &|_| keep_content)
}

/// [`snapshot`] keeping the content of the files `keep` says.
pub fn snapshot_keeping(root: &Path, skip: &[PathBuf], keep: &dyn Fn(&Path) -> bool) -> Snapshot {
    let mut snap = Snapshot::default();
    let mut kept = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = fs::read_dir(&dir) else { continue };
        let mut names: Vec<_> = read.flatten().collect();
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let path = e.path();
            if skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            let in_git = dir.file_name().is_some_and(|n| n == ".git");
            if in_git && e.file_name() != "config" && e.file_name() != "hooks" {
                continue;
            }
            if snap.entries.len() >= MAX_FILES {
                snap.partial = true;
                return snap;
            }
            let budget = MAX_KEPT_TOTAL.saturating_sub(kept);
            let Some(entry) = entry(&path, |len| keep(&path) && len <= budget) else {
                continue;
            };
            kept += entry.content.as_ref().map_or(0, |c| c.len() as u64);
            if entry.kind == Kind::Dir {
                stack.push(path.clone());
            }
            snap.entries.insert(path.strip_prefix(root).unwrap_or(&path).to_path_buf(), entry);
        }
    }
    snap
}

/// A snapshot of one file of the root (for a tool that changes only it).
pub fn snapshot_file(root: &Path, file: &Path) -> Snapshot {
    let mut snap = Snapshot::default();
    if let Some(e) = entry(file, |_| true) {
        snap.entries.insert(file.strip_prefix(root).unwrap_or(file).to_path_buf(), e);
    }
    snap
}

/// What a snapshot records of `path` (its content when it is a file no
/// larger than [`MAX_KEPT_FILE`] and `keep(len)`); `None` when it is gone.
fn entry(path: &Path, keep: impl Fn(u64) -> bool) -> Option<Entry> {
    let meta = fs::symlink_metadata(path).ok()?;
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        Kind::Symlink(fs::read_link(path).unwrap_or_default())
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    let content = (kind == Kind::File && meta.len() <= MAX_KEPT_FILE && keep(meta.len()))
        .then(|| fs::read(path).ok())
        .flatten();
    Some(Entry {
        kind,
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        ino: meta.ino(),
        mode: meta.mode(),
        content,
    })
}

fn rel_string(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The files changed between `before` and `after` (directories are not
/// changes; the files in them are).
pub fn diff(root: &Path, before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, old) in &before.entries {
        match after.entries.get(path) {
            None if old.kind != Kind::Dir => out.push(Change {
                path: rel_string(path),
                kind: ChangeKind::Deleted,
                added: 0,
                removed: old.content.as_deref().map_or(0, count_lines),
                link_target: None,
            }),
            // A file that became a directory is gone as a file.
            Some(new) if new.kind == Kind::Dir && old.kind != Kind::Dir => out.push(Change {
                path: rel_string(path),
                kind: ChangeKind::Deleted,
                added: 0,
                removed: old.content.as_deref().map_or(0, count_lines),
                link_target: None,
            }),
            Some(new) if !old.same(new) && new.kind != Kind::Dir => {
                let now = read_now(root, path, new);
                let (added, removed) = match (&old.content, &now) {
                    // Same content: a change only when the mode changed (`chmod +x` on a hook).
                    (Some(a), Some(b)) if a == b && old.mode == new.mode => continue,
                    (Some(a), Some(b)) if a == b => (0, 0),
                    (Some(a), Some(b)) => line_diff(a, b),
                    (_, Some(b)) => (count_lines(b), 0),
                    (_, None) => (0, 0),
                };
                out.push(Change {
                    path: rel_string(path),
                    kind: ChangeKind::Modified,
                    added,
                    removed,
                    link_target: symlink_target(new),
                });
            }
            _ => {}
        }
    }
    for (path, new) in &after.entries {
        if before.entries.contains_key(path) || new.kind == Kind::Dir {
            continue;
        }
        let added = read_now(root, path, new).as_deref().map_or(0, count_lines);
        out.push(Change {
            path: rel_string(path),
            kind: ChangeKind::Created,
            added,
            removed: 0,
            link_target: symlink_target(new),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

impl Snapshot {
    /// Whether the snapshot holds `rel` (a path relative to the root).
    pub fn has(&self, rel: &Path) -> bool {
        self.entries.contains_key(rel)
    }
}

fn symlink_target(e: &Entry) -> Option<PathBuf> {
    match &e.kind {
        Kind::Symlink(t) => Some(t.clone()),
        _ => None,
    }
}

/// The content of a file now (the after-snapshot keeps none).
fn read_now(root: &Path, rel: &Path, e: &Entry) -> Option<Vec<u8>> {
    if e.kind != Kind::File {
        return None;
    }
    if let Some(c) = &e.content {
        return Some(c.clone());
    }
    fs::read(root.join(rel)).ok()
}

/// Whether every directory between `root` and `path` is a real directory
/// (not a symlink, not a file), or does not exist yet.
fn real_directories_up_to(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else { return false };
    let mut at = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return false,
            Err(_) => return true,
        }
    }
    true
}

/// Lines of a text, a lone `\r` ending a line too.
fn count_lines(bytes: &[u8]) -> u64 {
    if bytes.is_empty() {
        return 0;
    }
    let mut n = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => n += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => n += 1,
            _ => {}
        }
        i += 1;
    }
    let last = bytes[bytes.len() - 1];
    n + u64::from(last != b'\n' && last != b'\r')
}

fn line_diff(a: &[u8], b: &[u8]) -> (u64, u64) {
    let a = String::from_utf8_lossy(a).replace("\r\n", "\n").replace('\r', "\n");
    let b = String::from_utf8_lossy(b).replace("\r\n", "\n").replace('\r', "\n");
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(&a, &b);
    let (mut added, mut removed) = (0, 0);
    for op in diff.ops() {
        for change in diff.iter_changes(op) {
            match change.tag() {
                similar::ChangeTag::Insert => added += 1,
                similar::ChangeTag::Delete => removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
    }
    (added, removed)
}

/// Put the changed paths back as `before` had them. Returns the paths
/// that could not be restored (a file whose earlier content was not kept).
pub fn undo(root: &Path, before: &Snapshot, after: &Snapshot, changes: &[Change]) -> Vec<String> {
    let mut failed = Vec::new();
    // Deepest first, so a created file goes before its created directory.
    for c in changes.iter().rev() {
        let path = root.join(&c.path);
        // Never through a symlink: a command that swapped a directory for a
        // link out of the root would have the undo write there.
        if !real_directories_up_to(root, &path) {
            failed.push(c.path.clone());
            continue;
        }
        let ok = match c.kind {
            ChangeKind::Created => fs::remove_file(&path).is_ok() || fs::remove_dir_all(&path).is_ok(),
            ChangeKind::Modified | ChangeKind::Deleted => match before.entries.get(Path::new(&c.path)) {
                Some(Entry {
                    kind: Kind::File,
                    content: Some(content),
                    mode,
                    ..
                }) => {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = fs::remove_file(&path);
                    path.parent().is_some_and(|p| fs::create_dir_all(p).is_ok())
                        && fs::write(&path, content).is_ok()
                        && fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777)).is_ok()
                }
                Some(Entry {
                    kind: Kind::Symlink(target),
                    ..
                }) => {
                    let _ = fs::remove_file(&path);
                    std::os::unix::fs::symlink(target, &path).is_ok()
                }
                _ => false,
            },
        };
        if !ok {
            failed.push(c.path.clone());
        }
    }
    // Directories the call created, deepest first, once their files are gone.
    for (path, e) in after.entries.iter().rev() {
        if e.kind == Kind::Dir && !before.entries.contains_key(path) {
            let _ = fs::remove_dir(root.join(path));
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("loopc-changes-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::canonicalize(d).unwrap()
    }

    #[test]
    fn created_modified_deleted_with_line_counts() {
        let root = tmp("diff");
        fs::write(root.join("a.txt"), "1\n2\n3\n").unwrap();
        fs::write(root.join("gone.txt"), "x\ny\n").unwrap();
        fs::create_dir_all(root.join(".git/hooks")).unwrap();
        fs::write(root.join(".git/index"), "ignored").unwrap();
        fs::write(root.join(".git/config"), "[core]\n").unwrap();
        let before = snapshot(&root, &[], true);
        fs::write(root.join("a.txt"), "1\nTWO\n3\n4\n").unwrap();
        fs::remove_file(root.join("gone.txt")).unwrap();
        fs::create_dir_all(root.join("new")).unwrap();
        fs::write(root.join("new/big.txt"), "l\n".repeat(1000)).unwrap();
        fs::write(root.join("cr.txt"), "a\rb\rc").unwrap();
        fs::write(root.join(".git/index"), "changed").unwrap();
        fs::write(root.join(".git/hooks/pre-commit"), "#!/bin/sh\nrm -rf ~\n").unwrap();
        let after = snapshot(&root, &[], false);
        let changes = diff(&root, &before, &after);
        let got: Vec<(&str, ChangeKind, u64, u64)> = changes.iter().map(|c| (c.path.as_str(), c.kind, c.added, c.removed)).collect();
        assert_eq!(
            got,
            vec![
                (".git/hooks/pre-commit", ChangeKind::Created, 2, 0),
                ("a.txt", ChangeKind::Modified, 2, 1),
                ("cr.txt", ChangeKind::Created, 3, 0),
                ("gone.txt", ChangeKind::Deleted, 0, 2),
                ("new/big.txt", ChangeKind::Created, 1000, 0),
            ]
        );
        assert!(undo(&root, &before, &after, &changes).is_empty());
        assert!(!root.join("new").exists(), "the created directory is gone too");
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "1\n2\n3\n");
        assert_eq!(fs::read_to_string(root.join("gone.txt")).unwrap(), "x\ny\n");
        assert!(!root.join("new/big.txt").exists() && !root.join("cr.txt").exists());
        assert!(diff(&root, &before, &snapshot(&root, &[], false)).is_empty());
    }

    #[test]
    fn undo_never_writes_through_a_symlink() {
        let root = tmp("swap");
        let outside = tmp("swap-outside");
        fs::create_dir_all(root.join("keys")).unwrap();
        fs::write(root.join("keys/authorized_keys"), "mine\n").unwrap();
        let before = snapshot(&root, &[], true);
        fs::rename(root.join("keys"), root.join("k2")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("keys")).unwrap();
        let after = snapshot(&root, &[], false);
        let changes = diff(&root, &before, &after);
        let failed = undo(&root, &before, &after, &changes);
        assert!(failed.contains(&"keys/authorized_keys".to_owned()), "{failed:?}");
        assert!(!outside.join("authorized_keys").exists(), "the undo wrote outside the root");
    }

    #[test]
    fn a_mode_change_and_a_file_turned_directory_are_changes() {
        use std::os::unix::fs::PermissionsExt;
        let root = tmp("mode");
        fs::write(root.join("hook"), "x\n").unwrap();
        fs::write(root.join("f"), "y\n").unwrap();
        let before = snapshot(&root, &[], true);
        fs::set_permissions(root.join("hook"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::remove_file(root.join("f")).unwrap();
        fs::create_dir(root.join("f")).unwrap();
        let changes = diff(&root, &before, &snapshot(&root, &[], false));
        let got: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(got, vec![("f", ChangeKind::Deleted), ("hook", ChangeKind::Modified)]);
    }

    #[test]
    fn an_untouched_tree_has_no_changes() {
        let root = tmp("same");
        fs::write(root.join("a.txt"), "1\n").unwrap();
        let before = snapshot(&root, &[], true);
        assert!(diff(&root, &before, &snapshot(&root, &[], false)).is_empty());
    }
}
