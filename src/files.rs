//! Which files a `check` (or `score`) run reads.
//!
//! A path given as a file is always read ([`Origin::Named`]). A directory
//! is walked recursively; a file in it counts when it matches an `include`
//! glob and no `exclude` glob (relative to the directory given), and hidden
//! directories, `target/` and `node_modules/` are skipped. Files found by
//! the walk ([`Origin::Found`]) are checked only when they are LSS
//! documents (`loopc_check::discovery`).

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

pub struct FileFilter {
    include: GlobSet,
    exclude: GlobSet,
}

fn build(globs: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|e| format!("bad glob `{glob}`: {e}"))?);
    }
    builder.build().map_err(|e| e.to_string())
}

impl FileFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        Ok(FileFilter {
            include: build(include)?,
            exclude: build(exclude)?,
        })
    }

    fn wants(&self, relative: &Path) -> bool {
        self.include.is_match(relative) && !self.exclude.is_match(relative)
    }
}

const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// How a file came to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Named on the command line: checked as an LSS spec whatever it is.
    Named,
    /// Found in a directory: checked only when it is an LSS document.
    Found,
}

impl FileFilter {
    /// Whether a named file passes `include`/`exclude` (relative to the
    /// working directory): the pre-commit hooks' `--only-lss` applies the
    /// configuration to the files pre-commit names.
    pub fn wants_named(&self, path: &Path) -> bool {
        let cwd = std::env::current_dir().unwrap_or_default();
        let relative = path.strip_prefix(&cwd).unwrap_or(path);
        let relative = relative.strip_prefix(".").unwrap_or(relative);
        self.wants(relative)
    }
}

/// A path that could not be read: the path as given and the message shown
/// for it (which names the path).
#[derive(Clone, Debug)]
pub struct IoError {
    pub path: PathBuf,
    pub message: String,
}

impl IoError {
    pub fn new(path: &Path, message: String) -> Self {
        IoError {
            path: path.to_path_buf(),
            message,
        }
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Expand `paths` into files, sorted and without repeats (a file both
/// named and found counts as named). Errors are paths that do not exist or
/// cannot be read.
pub fn collect(paths: &[PathBuf], filter: &FileFilter) -> (Vec<(PathBuf, Origin)>, Vec<IoError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => errors.push(IoError::new(path, format!("{}: {e}", path.display()))),
            Ok(meta) if meta.is_dir() => {
                let mut found = Vec::new();
                walk(path, path, filter, &mut found, &mut errors);
                files.extend(found.into_iter().map(|f| (f, Origin::Found)));
            }
            Ok(_) => files.push((path.clone(), Origin::Named)),
        }
    }
    files.sort();
    files.dedup_by(|later, earlier| later.0 == earlier.0);
    (files, errors)
}

fn walk(root: &Path, dir: &Path, filter: &FileFilter, files: &mut Vec<PathBuf>, errors: &mut Vec<IoError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(IoError::new(dir, format!("{}: {e}", dir.display()))),
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(root, &path, filter, files, errors);
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            if filter.wants(relative) {
                files.push(path);
            }
        }
    }
}

/// The path as users should see it: relative to the working directory when
/// it is inside it, with `/` separators.
pub fn display_path(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    let text = shown.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

/// Start the thread pool that checks the files of a batch. Its threads get
/// the main thread's 8 MiB stack (rayon's default is 2 MiB), so a file checks
/// the same alone and in a directory. Called only when there is a batch: a
/// single file is checked on the main thread, without starting threads.
pub fn start_batch_pool() {
    // Already started (a second batch in the same process): nothing to do.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build_global();
}
