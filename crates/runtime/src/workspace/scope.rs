//! The diff-scope gate (`[workspace] allowed_paths` / `forbidden_paths`):
//! after each iteration, every file its real diff touches — changed,
//! added, deleted or new and untracked, however it was written (a tool
//! call, a command executor, an evaluator) — must match `allowed_paths`
//! (when any are given) and none of `forbidden_paths`.
//!
//! Globs are globset's (`*` and `?` stay within one path segment, `**`
//! spans segments, `{a,b}` and `[ab]` as usual), relative to the sandbox
//! root: `src/**`, `**/*.lock`, `.github/**`. A file changed outside the
//! root (in the worktree above it) is always out of scope.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::{WorkspaceConfig, WorkspaceError};

/// The compiled globs.
#[derive(Clone, Debug)]
pub struct DiffScope {
    allowed: Option<GlobSet>,
    forbidden: GlobSet,
    forbidden_patterns: Vec<String>,
}

/// What a diff did outside its scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outside {
    /// Files matching a forbidden glob, with the first glob they match.
    pub forbidden: Vec<(String, String)>,
    /// Files no allowed glob matches (or outside the root).
    pub not_allowed: Vec<String>,
}

impl Outside {
    pub fn is_empty(&self) -> bool {
        self.forbidden.is_empty() && self.not_allowed.is_empty()
    }
}

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.forbidden.is_empty() {
            let files: Vec<String> = self
                .forbidden
                .iter()
                .map(|(file, glob)| format!("{file} (matches {glob})"))
                .collect();
            parts.push(format!("forbidden files changed: {}", files.join(", ")));
        }
        if !self.not_allowed.is_empty() {
            parts.push(format!("files changed outside allowed_paths: {}", self.not_allowed.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

fn glob(field: &'static str, pattern: &str) -> Result<Glob, WorkspaceError> {
    let trimmed = pattern.trim_start_matches("./");
    GlobBuilder::new(trimmed)
        .literal_separator(true)
        .build()
        .map_err(|e| WorkspaceError::Glob {
            field,
            pattern: pattern.to_owned(),
            message: e.kind().to_string(),
        })
}

fn set(field: &'static str, patterns: &[String]) -> Result<GlobSet, WorkspaceError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        builder.add(glob(field, p)?);
    }
    builder.build().map_err(|e| WorkspaceError::Glob {
        field,
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

impl DiffScope {
    /// The gate `config` asks for; `None` when it sets no globs.
    pub fn new(config: &WorkspaceConfig) -> Result<Option<DiffScope>, WorkspaceError> {
        if !config.has_scope() {
            return Ok(None);
        }
        Ok(Some(DiffScope {
            allowed: (!config.allowed_paths.is_empty())
                .then(|| set("allowed_paths", &config.allowed_paths))
                .transpose()?,
            forbidden: set("forbidden_paths", &config.forbidden_paths)?,
            forbidden_patterns: config.forbidden_paths.clone(),
        }))
    }

    /// Check changed files, each relative to the root, or `None` for a file
    /// outside it (shown as given in `outside_root`).
    pub fn check(&self, files: &[(Option<String>, String)]) -> Outside {
        let mut found = Outside::default();
        for (relative, shown) in files {
            let Some(path) = relative else {
                found.not_allowed.push(format!("{shown} (outside the sandbox root)"));
                continue;
            };
            if let Some(n) = self.forbidden.matches(path).first() {
                found.forbidden.push((path.clone(), self.forbidden_patterns[*n].clone()));
            } else if self.allowed.as_ref().is_some_and(|a| !a.is_match(path)) {
                found.not_allowed.push(path.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(allowed: &[&str], forbidden: &[&str]) -> DiffScope {
        let config = WorkspaceConfig {
            kind: None,
            allowed_paths: allowed.iter().map(|s| (*s).to_owned()).collect(),
            forbidden_paths: forbidden.iter().map(|s| (*s).to_owned()).collect(),
        };
        DiffScope::new(&config).unwrap().unwrap()
    }

    fn files(names: &[&str]) -> Vec<(Option<String>, String)> {
        names.iter().map(|n| (Some((*n).to_owned()), (*n).to_owned())).collect()
    }

    #[test]
    fn allowed_and_forbidden() {
        let s = scope(&["src/**", "tests/**"], &[".github/**", "**/*.lock"]);
        let found = s.check(&files(&[
            "src/a/b.py",
            "tests/t.py",
            "Cargo.lock",
            "src/x/y.lock",
            "README.md",
            ".github/ci.yml",
        ]));
        assert_eq!(
            found.forbidden,
            vec![
                ("Cargo.lock".to_owned(), "**/*.lock".to_owned()),
                ("src/x/y.lock".to_owned(), "**/*.lock".to_owned()),
                (".github/ci.yml".to_owned(), ".github/**".to_owned())
            ]
        );
        assert_eq!(found.not_allowed, vec!["README.md".to_owned()]);
        let text = found.to_string();
        assert!(
            text.contains("Cargo.lock (matches **/*.lock)") && text.contains("outside allowed_paths: README.md"),
            "{text}"
        );
        assert!(s.check(&files(&["src/ok.py"])).is_empty());
        assert_eq!(
            s.check(&[(None, "../up.txt".into())]).not_allowed,
            vec!["../up.txt (outside the sandbox root)"]
        );
    }

    #[test]
    fn star_stays_in_its_segment_and_bad_globs_are_named() {
        let s = scope(&[], &["*.lock"]);
        assert!(s.check(&files(&["sub/Cargo.lock"])).is_empty());
        assert!(!s.check(&files(&["Cargo.lock"])).is_empty());
        let bad = WorkspaceConfig {
            forbidden_paths: vec!["src/[".into()],
            ..WorkspaceConfig::default()
        };
        let e = DiffScope::new(&bad).unwrap_err().to_string();
        assert!(e.contains("forbidden_paths") && e.contains("src/["), "{e}");
        assert!(DiffScope::new(&WorkspaceConfig::default()).unwrap().is_none());
    }
}
