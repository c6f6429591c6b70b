//! Paths in what a command runs with: every argument that names a path
//! (`/abs`, `..`, `--out=/abs`, `-o/abs`), the code strings of interpreters
//! (split into words), `cd` targets and redirections must stay inside the
//! root, relative paths resolving against the script's working directory.

use std::path::{Component, Path, PathBuf};

use super::super::EXEMPT_PATHS;
use super::{is_interpreter, Cmd, Walker};

/// Programs whose first operand (and `-e` values) is a pattern or a
/// script, not a path: grep's regex, sed's and awk's `/regex/` addresses
/// (which look like paths; what such a script writes only the OS sandbox sees).
const PATTERN_FIRST: &[&str] = &["grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "awk", "gawk", "mawk", "nawk"];

fn looks_like_path(t: &str) -> bool {
    t.starts_with('/') || t.starts_with('~') || t == ".." || t.starts_with("../") || t.contains("/../") || t.ends_with("/..")
}

/// The words of a code string that may name files: split at whitespace,
/// quotes, separators and redirections. A lone `/` is division.
fn code_words(code: &str) -> impl Iterator<Item = &str> {
    code.split(|c: char| c.is_whitespace() || "'\"`;|&<>(),=".contains(c))
        .filter(|t| !t.is_empty() && *t != "/" && *t != "//")
}

impl Walker<'_> {
    /// The path arguments of `cmd` (not a shell: its script is analysed).
    pub(super) fn arg_paths(&mut self, cmd: &Cmd, name: &str) {
        let pattern_first = PATTERN_FIRST.contains(&name);
        let interpreter = is_interpreter(name) && !pattern_first;
        let mut pattern_seen = false;
        let mut after_e = false;
        for a in cmd.args.iter().skip(1) {
            if !a.known {
                continue;
            }
            let t = a.text.as_str();
            if pattern_first {
                let is_pattern = after_e || (!pattern_seen && !t.starts_with('-'));
                after_e = matches!(t, "-e" | "--regexp" | "--expression" | "--source");
                if is_pattern {
                    pattern_seen = true;
                    continue;
                }
            }
            let mut candidates = vec![t];
            if let Some((_, v)) = t.strip_prefix("--").and_then(|l| l.split_once('=')) {
                candidates.push(v);
            } else if let Some(glued) = t
                .strip_prefix('-')
                .filter(|_| !t.starts_with("--"))
                .and_then(|r| r.get(1..).filter(|v| r.is_char_boundary(1) && !v.is_empty()))
            {
                // `-o/abs`, `-I/usr/include`: a short option glued to its value.
                if looks_like_path(glued) {
                    candidates.push(glued);
                }
            }
            if interpreter {
                candidates.extend(code_words(t));
            }
            let in_git = self.cwd.iter().any(|c| c == ".git");
            for c in candidates {
                if in_git || looks_like_path(c) || c.contains(".git/") || c.ends_with(".git") {
                    let c = c.to_owned();
                    self.path("argument", &c);
                }
            }
        }
    }

    /// Check a path the command uses; `Some(path relative to the root)`
    /// when it is inside the root.
    pub(super) fn path(&mut self, what: &str, p: &str) -> Option<PathBuf> {
        if EXEMPT_PATHS.contains(&p) {
            return None;
        }
        if p.starts_with('~') {
            self.outside(format!("{what} `{p}` is in a home directory, outside the workspace root"));
            return None;
        }
        let joined = if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            self.root.join(&self.cwd).join(p)
        };
        match crate::tools::resolve_in(self.root, &joined.to_string_lossy()) {
            Ok(inside) => {
                let rel = relative(self.root, &inside);
                if runs_as_git(&rel) {
                    self.out.problem(super::Problem::Protected(format!(
                        "{what} `{p}` is git's configuration or hooks, which run code when a person uses git"
                    )));
                }
                Some(rel)
            }
            Err(b) => {
                self.outside(format!("{what} `{p}`: {}", b.message));
                None
            }
        }
    }

    /// Whether the directory a glob lists holds a file whose name starts with `-`.
    pub(super) fn glob_may_be_option(&mut self, pattern: &str) -> bool {
        let dir = match pattern.rfind('/') {
            Some(0) => "/",
            Some(k) => &pattern[..k],
            None => ".",
        };
        if dir.contains(['*', '?', '[']) {
            return true;
        }
        let joined = self.root.join(&self.cwd).join(dir);
        if let Some(&known) = self.listings.get(&joined) {
            return known;
        }
        let dashed = crate::tools::resolve_in(self.root, &joined.to_string_lossy())
            .ok()
            .and_then(|d| std::fs::read_dir(d).ok())
            .is_some_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with('-')));
        self.listings.insert(joined, dashed);
        dashed
    }
}

/// Whether `rel` is inside a repository's `.git` (its config, hooks,
/// modules' configs: code that runs when a person uses git).
fn runs_as_git(rel: &Path) -> bool {
    rel.iter().any(|c| c == ".git")
}

/// `inside` (a path under `root`) relative to it, without `.` or `..`.
fn relative(root: &Path, inside: &Path) -> PathBuf {
    let rel = inside.strip_prefix(root).unwrap_or(inside);
    rel.components().filter(|c| matches!(c, Component::Normal(_))).collect()
}
