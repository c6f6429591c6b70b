//! One open document, checked as `loopc check FILE` checks it.

use std::path::{Path, PathBuf};

use loopc_check::{Checker, Settings, SettingsError};
use loopc_diagnostics::Diagnostic;
use loopc_syntax::Node;

use crate::position::LineIndex;
use crate::symbols::Symbols;

/// Where the server's settings come from (`loopc lsp`'s `--config` and
/// `--no-config` pass through to here).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SettingsSource {
    /// The nearest `loopc.toml` upward from each document, as `loopc check`
    /// finds it from the working directory.
    #[default]
    Nearest,
    /// This file, for every document.
    File(PathBuf),
    /// No `loopc.toml`: the defaults.
    Defaults,
}

impl SettingsSource {
    /// The settings for the document at `path`.
    pub fn settings_for(&self, path: &Path) -> Result<Settings, SettingsError> {
        let file = match self {
            SettingsSource::Defaults => None,
            SettingsSource::File(file) => Some(file.clone()),
            SettingsSource::Nearest => path.parent().and_then(Settings::discover_file),
        };
        file.map_or_else(|| Ok(Settings::default()), |file| Settings::load(&file))
    }
}

/// What the server knows of one document's text.
#[derive(Debug)]
pub struct Analysed {
    pub index: LineIndex,
    /// Whether the document is an LSS spec; the rest (CI workflows, other
    /// YAML) get no diagnostics and no features, as a directory walk of
    /// `loopc check` skips them.
    pub lss: bool,
    /// Sorted by position; spans are offsets into `index.body()`.
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed document, when it parsed.
    pub root: Option<Node>,
    pub symbols: Symbols,
}

impl Analysed {
    /// Check `text`, the contents of `path`, with `settings`.
    pub fn new(path: &Path, text: &str, settings: &Settings) -> Analysed {
        let index = LineIndex::new(text);
        let bytes = index.body().as_bytes();
        let parsed = loopc_syntax::load(path, bytes, &settings.limits);
        let first_error = parsed.errors.first().map(|e| e.message.as_str());
        if loopc_check::discovery::skip_reason(path, bytes, parsed.root.as_ref(), first_error).is_some() {
            return Analysed {
                index,
                lss: false,
                diagnostics: Vec::new(),
                root: None,
                symbols: Symbols::default(),
            };
        }
        // A checker per analysis: its cache of composition children must
        // not outlive edits to the children's files.
        let analysis = Checker::from_settings(settings).analyse(path, bytes);
        let symbols = analysis
            .spec
            .as_ref()
            .map(|(spec, ..)| Symbols::collect(index.body(), spec))
            .unwrap_or_default();
        Analysed {
            index,
            lss: true,
            diagnostics: analysis.checked.diagnostics,
            root: parsed.root,
            symbols,
        }
    }

    /// The findings whose primary span holds `offset` (an empty span: at it).
    pub fn diagnostics_at(&self, offset: usize) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(move |d| {
            let span = d.primary.span;
            span.start <= offset && (offset < span.end || span.is_empty() && offset == span.start)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lss_documents_are_checked() {
        let settings = Settings::default();
        let workflow = Analysed::new(Path::new("ci.yaml"), "on: push\njobs: {}\n", &settings);
        assert!(!workflow.lss && workflow.diagnostics.is_empty());
        let broken = Analysed::new(Path::new("x.yaml"), "loop_name: [demo\n", &settings);
        assert!(broken.lss, "a spec that does not parse is still a spec");
        assert!(
            broken.diagnostics.iter().any(|d| d.code.starts_with("L0")),
            "{:?}",
            broken.diagnostics
        );
        assert!(broken.root.is_none());
    }

    #[test]
    fn a_settings_file_changes_the_levels() {
        let dir = std::env::temp_dir().join(format!("loopc-lsp-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("loopc.toml"), "[rules]\nunknown-reference = \"allow\"\n").unwrap();
        let spec = dir.join("spec.yaml");
        let text = "loop_name: demo\nworkers:\n  - id: a\n    depends_on: [nobody]\n";
        let with = Analysed::new(&spec, text, &SettingsSource::Nearest.settings_for(&spec).unwrap());
        let without = Analysed::new(&spec, text, &SettingsSource::Defaults.settings_for(&spec).unwrap());
        assert!(without.diagnostics.iter().any(|d| d.code == "L201"));
        assert!(!with.diagnostics.iter().any(|d| d.code == "L201"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
