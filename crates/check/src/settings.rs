//! `loopc.toml`, read once per command into [`Settings`], which every
//! command honours: rule levels (check, diagram, compile, run), which files
//! count (check, score), resource limits (every command that reads a spec),
//! and the `[run]` table (the runtime's bindings, kept as written).
//!
//! Found by walking up from the working directory, or given with
//! `--config`. Unknown keys, rules and levels are errors: a typo in a CI
//! configuration must not pass silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loopc_diagnostics::Severity;
use loopc_syntax::Limits;
use serde::Deserialize;

use crate::registry::find_rule;

/// The file name looked for.
pub const CONFIG_FILE: &str = "loopc.toml";

/// Why settings cannot be used. Each message is what `loopc` prints, and
/// names the file when one was read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Not TOML, or a key, table or level the file may not have (the
    /// `toml` crate's message as it is).
    #[error("{}: {source}", .path.display())]
    Parse { path: PathBuf, source: toml::de::Error },
    /// A rule code or name that no rule has; `file` is the settings file
    /// whose `[rules]` table names it (none: the command line did).
    #[error("{}unknown rule `{key}`; `loopc explain --list` lists them", in_rules_of(.file))]
    UnknownRule { key: String, file: Option<PathBuf> },
}

fn in_rules_of(file: &Option<PathBuf>) -> String {
    file.as_ref().map_or_else(String::new, |f| format!("{}: [rules]: ", f.display()))
}

/// What a rule's findings become.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

/// Severity overrides: the file's, then the command line's (later wins).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleLevels {
    overrides: Vec<(&'static str, Level)>,
    deny_warnings: bool,
}

impl RuleLevels {
    /// Set `key` (a code or a name; `warnings` with `Deny` turns every
    /// warning into an error).
    pub fn set(&mut self, key: &str, level: Level) -> Result<(), SettingsError> {
        if level == Level::Deny && key == "warnings" {
            self.deny_warnings = true;
            return Ok(());
        }
        let code = find_rule(key).map(|r| r.code).ok_or_else(|| SettingsError::UnknownRule {
            key: key.to_owned(),
            file: None,
        })?;
        self.overrides.push((code, level));
        Ok(())
    }

    /// The severity a finding of `code` gets, or `None` when its rule is allowed.
    pub fn apply(&self, code: &str, severity: Severity) -> Option<Severity> {
        let level = self.overrides.iter().rev().find(|(c, _)| *c == code).map(|(_, l)| *l);
        let severity = match level {
            Some(Level::Allow) => return None,
            Some(Level::Warn) => Severity::Warning,
            Some(Level::Deny) => Severity::Error,
            None => severity,
        };
        Some(if self.deny_warnings && severity == Severity::Warning {
            Severity::Error
        } else {
            severity
        })
    }

    pub fn is_default(&self) -> bool {
        self.overrides.is_empty() && !self.deny_warnings
    }
}

/// Everything `loopc.toml` says.
#[derive(Clone, Debug)]
pub struct Settings {
    pub levels: RuleLevels,
    /// Globs of files a directory walk checks.
    pub include: Vec<String>,
    /// Globs a directory walk never checks.
    pub exclude: Vec<String>,
    pub limits: Limits,
    /// The runtime's bindings (`[run]`), as written.
    pub run: Option<toml::Value>,
    /// The file the settings came from.
    pub file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            levels: RuleLevels::default(),
            include: default_include(),
            exclude: Vec::new(),
            limits: Limits::default(),
            run: None,
            file: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Rule code or name → level.
    #[serde(default)]
    rules: BTreeMap<String, Level>,
    #[serde(default)]
    files: FilesTable,
    #[serde(default)]
    limits: LimitsTable,
    #[serde(default)]
    run: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesTable {
    #[serde(default = "default_include")]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

impl Default for FilesTable {
    fn default() -> Self {
        FilesTable {
            include: default_include(),
            exclude: Vec::new(),
        }
    }
}

fn default_include() -> Vec<String> {
    vec!["**/*.yaml".into(), "**/*.yml".into(), "**/*.json".into()]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsTable {
    max_file_bytes: Option<usize>,
    max_depth: Option<usize>,
    max_alias_nodes: Option<usize>,
}

impl Settings {
    /// The nearest `loopc.toml` at or above `start`.
    pub fn discover_file(start: &Path) -> Option<PathBuf> {
        start.ancestors().map(|dir| dir.join(CONFIG_FILE)).find(|p| p.is_file())
    }

    /// The settings of `path` (see the module docs).
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|source| SettingsError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let mut levels = RuleLevels::default();
        for (key, level) in &file.rules {
            levels.set(key, *level).map_err(|e| match e {
                SettingsError::UnknownRule { key, .. } => SettingsError::UnknownRule {
                    key,
                    file: Some(path.to_path_buf()),
                },
                other => other,
            })?;
        }
        let mut limits = Limits::default();
        if let Some(v) = file.limits.max_file_bytes {
            limits.max_file_bytes = v;
        }
        if let Some(v) = file.limits.max_depth {
            limits.max_depth = v;
        }
        if let Some(v) = file.limits.max_alias_nodes {
            limits.max_alias_nodes = v;
        }
        Ok(Settings {
            levels,
            include: file.files.include,
            exclude: file.files.exclude,
            limits,
            run: file.run,
            file: Some(path.to_path_buf()),
        })
    }

    /// `--config FILE`, else the nearest `loopc.toml` above `cwd`, else the defaults.
    pub fn resolve(explicit: Option<&Path>, cwd: &Path) -> Result<Settings, SettingsError> {
        match explicit.map(Path::to_path_buf).or_else(|| Self::discover_file(cwd)) {
            Some(path) => Self::load(&path),
            None => Ok(Settings::default()),
        }
    }

    /// The directory the file is in (file globs are relative to each
    /// directory given on the command line, not to it).
    pub fn root(&self) -> Option<&Path> {
        self.file.as_deref().and_then(Path::parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_resolve_names_and_codes_and_later_wins() {
        let mut l = RuleLevels::default();
        l.set("unknown-reference", Level::Allow).unwrap();
        assert_eq!(l.apply("L201", Severity::Error), None);
        l.set("L201", Level::Warn).unwrap();
        assert_eq!(l.apply("L201", Severity::Error), Some(Severity::Warning));
        l.set("warnings", Level::Deny).unwrap();
        assert_eq!(l.apply("L201", Severity::Error), Some(Severity::Error));
        let unknown = l.set("L999", Level::Deny).unwrap_err();
        assert!(matches!(&unknown, SettingsError::UnknownRule { key, file: None } if key == "L999"));
        assert_eq!(unknown.to_string(), "unknown rule `L999`; `loopc explain --list` lists them");
    }
}
