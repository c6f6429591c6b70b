//! `loopc.toml`: rule levels, which files count, and resource limits.
//!
//! Found by walking up from the working directory, or given with `--config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loopc_check::{find_rule, Limits};
use serde::Deserialize;

/// What a rule's findings become.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rule code or name → level.
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
    #[serde(default)]
    pub files: FilesConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Runtime bindings for `loopc run` (see crates/runtime/src/bindings.rs).
    /// Declared so that `check` accepts the table; `run` parses it itself.
    #[serde(default)]
    #[allow(dead_code)]
    pub run: Option<toml::Value>,
    /// Where the file was found. (File globs match paths relative to each
    /// directory given on the command line, see files.rs.)
    #[serde(skip)]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Globs of files to check when a directory is given.
    #[serde(default = "default_include")]
    pub include: Vec<String>,
    /// Globs never checked when walking directories.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
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
pub struct LimitsConfig {
    pub max_file_bytes: Option<usize>,
    pub max_depth: Option<usize>,
    pub max_alias_nodes: Option<usize>,
}

impl LimitsConfig {
    pub fn apply(&self, limits: &mut Limits) {
        if let Some(v) = self.max_file_bytes {
            limits.max_file_bytes = v;
        }
        if let Some(v) = self.max_depth {
            limits.max_depth = v;
        }
        if let Some(v) = self.max_alias_nodes {
            limits.max_alias_nodes = v;
        }
    }
}

pub const CONFIG_FILE: &str = "loopc.toml";

/// The nearest `loopc.toml` at or above `start`.
pub fn discover(start: &Path) -> Option<PathBuf> {
    start.ancestors().map(|dir| dir.join(CONFIG_FILE)).find(|p| p.is_file())
}

/// Read and validate a configuration file. Unknown keys, unknown rules and
/// bad levels are errors (a typo in a CI config must not pass silently).
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut config: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for key in config.rules.keys() {
        if find_rule(key).is_none() {
            return Err(format!(
                "{}: unknown rule `{key}` in [rules]; `loopc explain --list` lists them",
                path.display()
            ));
        }
    }
    config.root = path.parent().map(Path::to_path_buf);
    Ok(config)
}
