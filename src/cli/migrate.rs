//! `loopc migrate`: rewrite specs in the older list-form dialect into LSS
//! 1.0 (crates/migrate), say what changed, and check the result so that
//! what is left for a person is pointed at by line and column.

use std::path::{Path, PathBuf};

use clap::Args;
use loopc_check::{Checker, Limits, Settings};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};
use loopc_diagnostics::Severity;
use loopc_migrate::Migration;

use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK};
use crate::files::display_path;

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Specs to migrate. One file prints the migrated spec to standard
    /// output unless --write, --diff or --output says otherwise.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Rewrite each file in place (atomically). The document is written anew:
    /// comments inside it are not kept (the leading comment block is).
    #[arg(long, conflicts_with_all = ["diff", "output"])]
    pub write: bool,
    /// Show each rewrite as a unified diff; change nothing.
    #[arg(long, conflicts_with = "output")]
    pub diff: bool,
    /// Write the migrated spec to FILE (one input only).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only what is left for a person, not every change.
    #[arg(short, long)]
    pub quiet: bool,
}

enum Mode<'a> {
    Print,
    Output(&'a Path),
    Write,
    Diff,
}

pub fn run(args: MigrateArgs, settings: &Settings) -> u8 {
    let mode = match (&args.output, args.write, args.diff) {
        (Some(path), ..) => Mode::Output(path),
        (None, true, _) => Mode::Write,
        (None, false, true) => Mode::Diff,
        (None, false, false) => Mode::Print,
    };
    if args.files.len() > 1 && matches!(mode, Mode::Print | Mode::Output(_)) {
        return usage_error("several files: use --write to rewrite them or --diff to preview");
    }
    let checker = Checker::from_settings(settings);
    let mut code = EXIT_OK;
    for file in &args.files {
        let outcome = migrate_file(&checker, file, &mode, args.quiet);
        code = code.max(outcome);
    }
    code
}

fn migrate_file(checker: &Checker, path: &Path, mode: &Mode<'_>, quiet: bool) -> u8 {
    let shown = display_path(path);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return usage_error(format!("cannot read {}: {e}", path.display())),
    };
    let parsed = loopc_syntax::load(path, &bytes, &Limits::default());
    let Some(root) = parsed.root.filter(|_| parsed.errors.is_empty()) else {
        // Not YAML that parses: `loopc check` says why, at the byte.
        eprint!("{}", render(checker.check_bytes(path, &bytes), &shown));
        return EXIT_FINDINGS;
    };
    // The same test of what is a spec as `loopc check` uses.
    if let loopc_check::discovery::DocumentKind::Other(why) = loopc_check::discovery::classify(&root) {
        eprintln!("{shown}:1:1: error: not an LSS spec ({why}); nothing migrated");
        return EXIT_FINDINGS;
    }
    let migration = loopc_migrate::migrate(&root);
    if migration.is_unchanged() {
        eprintln!("{shown}: already LSS 1.0 in every section; nothing to migrate");
        return EXIT_OK;
    }
    let old = String::from_utf8_lossy(&bytes);
    let text = format!("{}{}", leading_comments(&old), loopc_syntax::to_yaml(&migration.spec));
    let target = match mode {
        Mode::Output(p) => p.to_path_buf(),
        _ => path.to_path_buf(),
    };
    let checked = checker.check_bytes(&target, text.as_bytes());
    let written = match mode {
        Mode::Print => {
            emit(&text);
            Ok(())
        }
        Mode::Diff => {
            let diff = similar::TextDiff::from_lines(old.as_ref(), &text);
            emit(
                &diff
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("a/{shown}"), &format!("b/{shown}"))
                    .to_string(),
            );
            Ok(())
        }
        Mode::Output(p) => loopc_runtime::atomic::write(p, text.as_bytes(), loopc_runtime::atomic::Mode::Default)
            .map_err(|e| format!("cannot write {}: {e}", p.display())),
        Mode::Write => std::fs::canonicalize(path)
            .map_err(|e| format!("cannot resolve {}: {e}", path.display()))
            .and_then(|real| {
                loopc_runtime::atomic::write(&real, text.as_bytes(), loopc_runtime::atomic::Mode::KeepExisting)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            }),
    };
    if let Err(e) = written {
        return usage_error(e);
    }
    report(&shown, &migration, quiet);
    let errors = checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = checked.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    let label = match mode {
        Mode::Output(p) => display_path(p),
        Mode::Write => shown.clone(),
        Mode::Print | Mode::Diff => format!("{shown} (migrated)"),
    };
    if errors + warnings > 0 {
        let mut checked = checked;
        checked.diagnostics.retain(|d| d.severity != Severity::Info);
        eprint!("{}", render(checked, &label));
    }
    if errors == 0 {
        eprintln!("{shown}: the migrated spec checks with 0 errors and {warnings} warnings");
        EXIT_OK
    } else {
        eprintln!("{shown}: {errors} errors and {warnings} warnings left for a person in the migrated spec");
        EXIT_FINDINGS
    }
}

fn report(shown: &str, migration: &Migration, quiet: bool) {
    let mut text = String::new();
    if !quiet {
        text.push_str(&format!(
            "{shown}: {} changes, {} old fields kept under extensions.x_migrated\n",
            migration.changes.len(),
            migration.moved.len()
        ));
        for change in &migration.changes {
            text.push_str(&format!("  ~ {change}\n"));
        }
    }
    for left in &migration.left {
        text.push_str(&format!("  ! {}: left for a person: {}\n", left.path, left.message));
    }
    eprint!("{text}");
}

fn render(checked: loopc_check::CheckedFile, label: &str) -> String {
    let file = FileDiagnostics {
        source: checked.source,
        display_path: label.to_owned(),
        diagnostics: checked.diagnostics,
    };
    render_human(&[file], HumanOptions::default())
}

/// The comment block a file opens with (a title, a licence line), which a
/// rewrite keeps; comments further in belong to keys that may have moved.
fn leading_comments(text: &str) -> String {
    let block: Vec<&str> = text.lines().take_while(|l| l.trim_start().starts_with('#')).collect();
    if block.is_empty() {
        String::new()
    } else {
        format!("{}\n\n", block.join("\n"))
    }
}
