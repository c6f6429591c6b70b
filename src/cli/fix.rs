//! `loopc check --fix` and `--diff`: apply the findings' safe fixes to the
//! files (or show them as a unified diff), before the files are checked and
//! reported as usual.

use std::path::{Path, PathBuf};

use loopc_check::fixes::fix_text;
use loopc_check::Checker;

use crate::files::{self, Origin};

/// What to do with the fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixMode {
    /// Write them to the files.
    Apply,
    /// Print them as a unified diff; change nothing.
    Diff,
}

/// What `--fix`/`--diff` did: files changed (or that would change), and
/// the files that could not be read or written.
pub struct FixOutcome {
    pub changed: usize,
    pub errors: Vec<String>,
}

/// Fix every LSS file of `files` (found files that are not LSS are left
/// alone, as the check skips them).
pub fn run(checker: &Checker, files: &[(PathBuf, Origin)], mode: FixMode) -> FixOutcome {
    let mut outcome = FixOutcome {
        changed: 0,
        errors: Vec::new(),
    };
    for (path, origin) in files {
        match fix_file(checker, path, *origin, mode) {
            Ok(true) => outcome.changed += 1,
            Ok(false) => {}
            Err(e) => outcome.errors.push(e),
        }
    }
    outcome
}

/// Fix one file; `Ok(true)` when it changed (or would).
fn fix_file(checker: &Checker, path: &Path, origin: Origin, mode: FixMode) -> Result<bool, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if origin == Origin::Found && checker.check_if_lss(path, &bytes).is_err() {
        return Ok(false);
    }
    // Fixes are edits of text; a file that is not UTF-8 gets none.
    let Ok(text) = String::from_utf8(bytes) else { return Ok(false) };
    let fixed = fix_text(checker, path, &text);
    if fixed.applied.is_empty() {
        return Ok(false);
    }
    let shown = files::display_path(path);
    match mode {
        FixMode::Diff => {
            let diff = similar::TextDiff::from_lines(&text, &fixed.text);
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header(&format!("a/{shown}"), &format!("b/{shown}"))
            );
        }
        FixMode::Apply => {
            // Write through a symbolic link to the file it names, keeping
            // its permissions: the link and the mode stay as they were.
            let target = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
            loopc_runtime::atomic::write(&target, fixed.text.as_bytes(), loopc_runtime::atomic::Mode::KeepExisting)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    let verb = if mode == FixMode::Apply { "fixed" } else { "would fix" };
    eprintln!(
        "{shown}: {verb} {} ({} → {} findings)",
        fixed.applied.join("; "),
        fixed.before,
        fixed.after
    );
    Ok(true)
}
