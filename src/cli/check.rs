use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use loopc_check::{Checker, Level, Limits, RuleLevels, Settings, SettingsError};
use loopc_diagnostics::render::{
    render_github, render_gitlab, render_human, render_json, render_sarif, FileDiagnostics, HumanOptions, Notification, SarifRun,
};
use loopc_diagnostics::Severity;
use rayon::prelude::*;
use serde::Serialize;

use super::report::{self, Format, Report};
use super::{sarif, usage_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::files::{self, FileFilter, IoError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or directories (recursive); `-` reads a spec from standard
    /// input. Defaults to the working directory.
    pub paths: Vec<PathBuf>,
    /// The name to report (and to resolve composition `ref`s from) for
    /// the spec read from standard input (`-`).
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,
    /// Output format (`--output-format` is the same option, as in ruff).
    #[arg(long, alias = "output-format", default_value = "human", value_parser = report::offered(CheckReport::FORMATS))]
    pub format: Format,
    /// Write the report to this file (replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Apply the safe fixes of the findings to the files (edits of the
    /// bytes they concern; comments and formatting stay), keeping each only
    /// when the file checks cleaner after it; then check as usual.
    #[arg(long, conflicts_with = "diff")]
    pub fix: bool,
    /// Show the fixes `--fix` would apply as a unified diff on standard
    /// output, and change nothing; exit 1 when there is one.
    #[arg(long)]
    pub diff: bool,
    /// LSS 1.1 strict mode: composition adapter gaps (L305) are errors, as
    /// a strict LSS 1.1 validator has them (the same as `-D adapter-gaps`).
    #[arg(long)]
    pub strict: bool,
    /// The directory SARIF's `%SRCROOT%` stands for: result URIs are
    /// relative to it (files outside it get absolute `file://` URIs).
    /// Default: the repository root, the nearest directory upward from the
    /// working directory that has `.git`.
    #[arg(long, value_name = "DIR")]
    pub sarif_root: Option<PathBuf>,
    /// Make a rule (code or name) an error; `--deny warnings` fails on any warning.
    #[arg(short = 'D', long = "deny", value_name = "RULE|warnings")]
    pub deny: Vec<String>,
    /// Make a rule a warning.
    #[arg(short = 'W', long = "warn", value_name = "RULE")]
    pub warn: Vec<String>,
    /// Silence a rule.
    #[arg(short = 'A', long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// Colour the human report: `auto` when standard output is a terminal
    /// and NO_COLOR is unset.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only diagnostics, no summary line (human format).
    #[arg(short, long)]
    pub quiet: bool,
    /// List each file's LSS conformance level (human format; JSON always has them).
    #[arg(long)]
    pub levels: bool,
    /// Hook mode (the pre-commit hooks use it): named files, too, are
    /// checked only when they are LSS specs and pass `loopc.toml`'s
    /// `[files]` include/exclude; empty files are skipped.
    #[arg(long)]
    pub only_lss: bool,
    /// Say which files were skipped as not LSS, and why.
    #[arg(short, long)]
    pub verbose: bool,
    /// Largest file accepted, in bytes.
    #[arg(long)]
    pub max_file_bytes: Option<usize>,
    /// Deepest nesting of sequences and mappings.
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Most nodes alias expansion may add.
    #[arg(long)]
    pub max_alias_nodes: Option<usize>,
}

#[derive(Serialize, Default, Debug)]
struct Summary {
    files: usize,
    /// YAML/JSON files found that are not LSS specs (not checked).
    skipped: usize,
    files_with_errors: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    /// Findings that carry a safe fix (`--fix` keeps those that make the
    /// file check cleaner).
    fixable: usize,
    /// How many files reach each LSS conformance level.
    levels: BTreeMap<&'static str, usize>,
    /// Each file's level and what the next level still needs.
    conformance: Vec<FileLevel>,
}

#[derive(Serialize, Debug)]
struct FileLevel {
    file: String,
    level: &'static str,
    missing_for_next: Vec<String>,
}

/// The file's rule levels, then the command line's (later wins).
fn levels(settings: &Settings, args: &CheckArgs) -> Result<RuleLevels, SettingsError> {
    let mut levels = settings.levels.clone();
    if args.strict {
        levels.set("adapter-gaps", Level::Deny)?;
    }
    for (keys, level) in [(&args.allow, Level::Allow), (&args.warn, Level::Warn), (&args.deny, Level::Deny)] {
        for key in keys {
            levels.set(key, level)?;
        }
    }
    Ok(levels)
}

/// The file's resource limits, each replaced by the command line's when given.
fn limits(settings: &Settings, args: &CheckArgs) -> Limits {
    let mut limits = settings.limits.clone();
    limits.max_file_bytes = args.max_file_bytes.unwrap_or(limits.max_file_bytes);
    limits.max_depth = args.max_depth.unwrap_or(limits.max_depth);
    limits.max_alias_nodes = args.max_alias_nodes.unwrap_or(limits.max_alias_nodes);
    limits
}

pub fn run(args: CheckArgs, settings: &Settings) -> u8 {
    let levels = match levels(settings, &args) {
        Ok(l) => l,
        Err(e) => return usage_error(e),
    };
    let filter = match FileFilter::new(&settings.include, &settings.exclude) {
        Ok(f) => f,
        Err(e) => return usage_error(format!("loopc.toml [files]: {e}")),
    };
    let limits = limits(settings, &args);
    let sarif_root = match args.sarif_root.as_deref().map(std::fs::canonicalize) {
        None => None,
        Some(Ok(dir)) => Some(dir),
        Some(Err(e)) => return usage_error(format!("--sarif-root {}: {e}", args.sarif_root.unwrap_or_default().display())),
    };

    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.iter().filter(|p| p.as_os_str() != "-").cloned().collect()
    };
    let stdin_bytes = if stdin {
        let mut bytes = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes) {
            return usage_error(format!("cannot read standard input: {e}"));
        }
        Some(bytes)
    } else {
        None
    };
    let (mut files, mut io_errors) = files::collect(&paths, &filter);
    if args.only_lss {
        files.retain(|(path, _)| filter.wants_named(path));
        for f in &mut files {
            f.1 = files::Origin::Found;
        }
    }
    let checker = Checker::new(limits).with_levels(levels);
    if args.fix || args.diff {
        if stdin {
            return usage_error("--fix and --diff work on files, not on standard input (`-`)");
        }
        let mode = if args.fix {
            super::fix::FixMode::Apply
        } else {
            super::fix::FixMode::Diff
        };
        let fixed = super::fix::run(&checker, &files, mode);
        for e in &fixed.errors {
            eprintln!("loopc: error: {e}");
        }
        if !fixed.errors.is_empty() {
            return EXIT_USAGE;
        }
        if mode == super::fix::FixMode::Diff {
            return if fixed.changed > 0 { EXIT_FINDINGS } else { EXIT_OK };
        }
    }
    let mut outcomes = Vec::new();
    if let Some(bytes) = &stdin_bytes {
        let name = args.stdin_filename.clone().unwrap_or_else(|| PathBuf::from("<stdin>"));
        let origin = if args.only_lss {
            files::Origin::Found
        } else {
            files::Origin::Named
        };
        outcomes.push(check_bytes(&checker, &name, bytes, origin));
    }
    outcomes.extend(check_all(&checker, &files));
    let (reports, summary) = summarize(outcomes, &mut io_errors, args.verbose);
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let report = CheckReport {
        files: &reports,
        summary: &summary,
        color,
        levels: args.levels,
        quiet: args.quiet,
        io_errors: &io_errors,
        sarif_root: sarif_root.as_deref(),
    };
    if super::write_output(args.output.as_deref(), &report.render(args.format)) != EXIT_OK {
        return EXIT_USAGE;
    }

    for e in &io_errors {
        eprintln!("loopc: error: {e}");
    }
    if !io_errors.is_empty() {
        return EXIT_USAGE;
    }
    if files.is_empty() && !stdin && !args.only_lss {
        eprintln!(
            "loopc: warning: no files to check in {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    if summary.errors > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// What became of one file.
enum Outcome {
    Checked(Box<(FileDiagnostics, FileLevel)>),
    /// Not an LSS document (found, not named): why.
    Skipped(String, String),
    /// It could not be read.
    Unreadable(IoError),
}

/// Check every file, in input order.
fn check_all(checker: &Checker, files: &[(PathBuf, files::Origin)]) -> Vec<Outcome> {
    // One file: no thread pool to start (it costs more than the check).
    if files.len() <= 1 {
        files.iter().map(|(path, origin)| check_file(checker, path, *origin)).collect()
    } else {
        files::start_batch_pool();
        files.par_iter().map(|(path, origin)| check_file(checker, path, *origin)).collect()
    }
}

fn check_file(checker: &Checker, path: &Path, origin: files::Origin) -> Outcome {
    match std::fs::read(path) {
        Ok(bytes) => check_bytes(checker, path, &bytes, origin),
        Err(e) => Outcome::Unreadable(IoError::new(path, format!("cannot read {}: {e}", path.display()))),
    }
}

/// Check `bytes` as the file `path` (for standard input, the name it is reported under).
fn check_bytes(checker: &Checker, path: &Path, bytes: &[u8], origin: files::Origin) -> Outcome {
    let checked = match origin {
        files::Origin::Named => checker.check_bytes(path, bytes),
        files::Origin::Found => match checker.check_if_lss(path, bytes) {
            Ok(checked) => checked,
            Err(why) => return Outcome::Skipped(files::display_path(path), why),
        },
    };
    let diagnostics = checked.diagnostics;
    let level = FileLevel {
        file: files::display_path(path),
        level: checked.conformance.level.label(),
        missing_for_next: checked.conformance.missing,
    };
    Outcome::Checked(Box::new((
        FileDiagnostics {
            source: checked.source,
            display_path: files::display_path(path),
            diagnostics,
        },
        level,
    )))
}

/// The reports of the files that were read, and the counts over them;
/// files that could not be read join `io_errors`.
fn summarize(results: Vec<Outcome>, io_errors: &mut Vec<IoError>, verbose: bool) -> (Vec<FileDiagnostics>, Summary) {
    let mut reports = Vec::with_capacity(results.len());
    let mut summary = Summary::default();
    for result in results {
        match result {
            Outcome::Checked(checked) => {
                let (report, level) = *checked;
                reports.push(report);
                *summary.levels.entry(level.level).or_default() += 1;
                summary.conformance.push(level);
            }
            Outcome::Skipped(file, why) => {
                summary.skipped += 1;
                if verbose {
                    eprintln!("loopc: skipped {file}: not an LSS spec ({why})");
                }
            }
            Outcome::Unreadable(e) => io_errors.push(e),
        }
    }
    summary.files = reports.len();
    for report in &reports {
        let mut has_error = false;
        for d in &report.diagnostics {
            summary.fixable += usize::from(d.fix.is_some());
            match d.severity {
                Severity::Error => {
                    summary.errors += 1;
                    has_error = true;
                }
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
        summary.files_with_errors += usize::from(has_error);
    }
    (reports, summary)
}

/// What `check` prints: every file's findings and the counts over them.
struct CheckReport<'a> {
    files: &'a [FileDiagnostics],
    summary: &'a Summary,
    color: bool,
    levels: bool,
    quiet: bool,
    /// Paths that could not be read (SARIF reports them as notifications).
    io_errors: &'a [IoError],
    /// `--sarif-root`, resolved.
    sarif_root: Option<&'a Path>,
}

impl CheckReport<'_> {
    /// SARIF, with URIs relative to `--sarif-root` or the repository root.
    fn sarif(&self) -> String {
        let cwd = std::env::current_dir().unwrap_or_default();
        let root = self.sarif_root.map_or_else(|| sarif::repository_root(&cwd), Path::to_path_buf);
        let notifications: Vec<Notification> = self
            .io_errors
            .iter()
            .map(|e| Notification {
                message: e.message.clone(),
                path: Some(e.path.clone()),
            })
            .collect();
        let locate = |path: &Path| sarif::locate(&root, &cwd, path);
        render_sarif(
            self.files,
            &SarifRun {
                tool_version: env!("CARGO_PKG_VERSION"),
                information_uri: sarif::repository_url(),
                rules: &sarif::rules(),
                root: Some(&root),
                locate: &locate,
                notifications: &notifications,
            },
        )
    }
}

impl Report for CheckReport<'_> {
    const FORMATS: &'static [Format] = &[Format::Human, Format::Json, Format::Sarif, Format::Github, Format::Gitlab];

    /// Snippets, then each file's level when `--levels` asks for it, then
    /// the summary unless `--quiet`.
    fn human(&self) -> String {
        let mut text = render_human(self.files, HumanOptions { color: self.color });
        if self.levels {
            for f in &self.summary.conformance {
                let next = if f.missing_for_next.is_empty() {
                    String::new()
                } else {
                    format!(" (next level needs: {})", f.missing_for_next.join(", "))
                };
                text.push_str(&format!("{}: {}{next}\n", f.file, f.level));
            }
        }
        if !self.quiet {
            text.push_str(&human_summary(self.summary));
            if self.summary.skipped > 0 {
                let n = self.summary.skipped;
                text.push_str(&if n == 1 {
                    "skipped 1 YAML/JSON file that is not an LSS spec (--verbose says why)\n".to_owned()
                } else {
                    format!("skipped {n} YAML/JSON files that are not LSS specs (--verbose lists them)\n")
                });
            }
        }
        text
    }

    fn json(&self) -> String {
        render_json(self.files, self.summary)
    }

    fn other(&self, format: Format) -> Option<String> {
        match format {
            Format::Sarif => Some(self.sarif()),
            Format::Github => Some(render_github(self.files)),
            Format::Gitlab => Some(render_gitlab(self.files)),
            Format::Human | Format::Json | Format::Markdown => None,
        }
    }
}

fn human_summary(s: &Summary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let levels: Vec<String> = ["LSS-Production", "LSS-Operational", "LSS-Parseable", "none"]
        .iter()
        .filter_map(|l| s.levels.get(l).map(|n| format!("{n} {l}")))
        .collect();
    let levels = if levels.is_empty() {
        String::new()
    } else {
        format!("conformance: {}\n", levels.join(", "))
    };
    if s.errors + s.warnings + s.infos == 0 {
        return format!("checked {}: no problems\n{levels}", plural(s.files, "file"));
    }
    let mut parts = vec![plural(s.errors, "error"), plural(s.warnings, "warning")];
    if s.infos > 0 {
        parts.push(plural(s.infos, "info"));
    }
    let fixable = match s.fixable {
        0 => String::new(),
        1 => "1 fix available: `loopc check --fix` applies it, `--diff` previews\n".to_owned(),
        n => format!("{n} fixes available: `loopc check --fix` applies them, `--diff` previews\n"),
    };
    format!(
        "checked {}: {} ({} with errors)\n{fixable}{levels}",
        plural(s.files, "file"),
        parts.join(", "),
        plural(s.files_with_errors, "file")
    )
}
