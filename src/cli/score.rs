use std::fmt::Write;
use std::path::PathBuf;

use clap::Args;
use loopc_check::{Limits, Settings};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};
use loopc_score::{render_table, score_spec, score_trace, SpecScore, SpecScoreOptions, TraceScore};
use rayon::prelude::*;
use serde::Serialize;

use super::report::{self, Format, Report};
use super::{usage_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::files::{self, FileFilter};

#[derive(Args, Debug)]
#[command(override_usage = "loopc score [OPTIONS] <PATHS>...\n       loopc score [OPTIONS] --trace <TRACE> [--spec <SPEC>]")]
pub struct ScoreArgs {
    /// Spec files or directories (recursive: *.yaml, *.yml, *.json).
    #[arg(required_unless_present = "trace")]
    pub paths: Vec<PathBuf>,
    /// Score a run instead: a Loop Trace 1.0 file.
    #[arg(long, conflicts_with = "paths")]
    pub trace: Option<PathBuf>,
    /// The spec the traced run executed (targets, iteration budget).
    #[arg(long, requires = "trace")]
    pub spec: Option<PathBuf>,
    /// Exit 1 when any score is below this LES (0–100): a CI gate.
    #[arg(long, value_name = "LES")]
    pub min: Option<f64>,
    /// Output format (`json`: `les`, `les_normalized`, categories with weights and explanations).
    #[arg(long, default_value = "human", value_parser = report::offered(report::HUMAN_AND_JSON))]
    pub format: Format,
    /// Reproduce `loopctl score` 0.5.0 exactly, defects included (e.g. a
    /// top-level `les_scores` key overriding the computed categories).
    #[arg(long)]
    pub reference_parity: bool,
}

/// Read a YAML or JSON file as plain data, reporting syntax errors the way `check` does.
fn read_document(path: &std::path::Path, limits: &Limits) -> Result<serde_json::Value, (u8, String)> {
    read_spec(path, files::Origin::Named, limits).map(|d| d.expect("a named file is never skipped"))
}

/// [`read_document`] for a spec to score; `None` for a file found in a
/// directory that is not a spec (as `check` skips it), read and parsed once.
fn read_spec(path: &std::path::Path, origin: files::Origin, limits: &Limits) -> Result<Option<serde_json::Value>, (u8, String)> {
    let bytes = std::fs::read(path).map_err(|e| (EXIT_USAGE, format!("loopc: error: cannot read {}: {e}\n", path.display())))?;
    let (source, root, diagnostics) = loopc_check::read_document(path, &bytes, limits);
    if origin == files::Origin::Found {
        let first_error = diagnostics.first().map(|d| d.message.as_str());
        if loopc_check::discovery::skip_reason(path, &bytes, root.as_ref(), first_error).is_some() {
            return Ok(None);
        }
    }
    match root {
        Some(root) if diagnostics.is_empty() => Ok(Some(root.to_json())),
        _ => {
            let report = FileDiagnostics {
                source,
                display_path: files::display_path(path),
                diagnostics,
            };
            Err((EXIT_FINDINGS, render_human(&[report], HumanOptions::default())))
        }
    }
}

#[derive(Serialize)]
struct ScoredFile {
    file: String,
    #[serde(flatten)]
    score: SpecScore,
}

/// What `score` prints for specs: each spec's LES and the `--min` gate.
#[derive(Serialize)]
struct SpecReport<'a> {
    scores: &'a [ScoredFile],
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    below_min: Vec<&'a str>,
    #[serde(skip)]
    reference_parity: bool,
}

impl Report for SpecReport<'_> {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    /// A compact table, then per spec its weakest category and best change.
    fn human(&self) -> String {
        let rows: Vec<(String, SpecScore)> = self.scores.iter().map(|s| (s.file.clone(), s.score.clone())).collect();
        let mut text = render_table(&rows);
        if !self.reference_parity && self.scores.iter().any(|s| !s.score.notes.is_empty()) {
            text.push_str("\n(default scoring corrects known defects of loopctl 0.5.0; --reference-parity reproduces it exactly)\n");
        }
        if let Some(min) = self.min {
            text.push('\n');
            for s in self.scores.iter().filter(|s| s.score.les < min) {
                let _ = writeln!(text, "FAIL {}: LES {:.1} is below --min {min}", s.file, s.score.les);
            }
            let _ = writeln!(
                text,
                "{} of {} specs at or above LES {min}",
                self.scores.len() - self.below_min.len(),
                self.scores.len()
            );
        }
        text
    }

    fn json(&self) -> String {
        report::to_json(self)
    }
}

/// What `score --trace` prints: the run's LES, or why the trace is not scored.
struct TraceReport<'a> {
    file: String,
    score: &'a TraceScore,
}

impl Report for TraceReport<'_> {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        render_trace(&self.file, self.score)
    }

    fn json(&self) -> String {
        report::to_json(self.score)
    }
}

pub fn run(args: ScoreArgs, settings: &Settings) -> u8 {
    if let Some(min) = args.min {
        if !(0.0..=100.0).contains(&min) {
            return usage_error(format!("--min takes an LES from 0 to 100, not {min}"));
        }
    }
    match &args.trace {
        Some(trace) => run_trace(trace, args.spec.as_deref(), args.min, args.format, settings),
        None => run_specs(&args, settings),
    }
}

fn run_specs(args: &ScoreArgs, settings: &Settings) -> u8 {
    let filter = match FileFilter::new(&settings.include, &settings.exclude) {
        Ok(f) => f,
        Err(e) => return usage_error(format!("loopc.toml [files]: {e}")),
    };
    // Files found in a directory are scored only when they are LSS specs
    // (as `check` reads them); named files always are.
    let (paths, io_errors) = files::collect(&args.paths, &filter);
    for e in &io_errors {
        eprintln!("loopc: error: {e}");
    }
    let options = SpecScoreOptions {
        reference_parity: args.reference_parity,
    };
    files::start_batch_pool();
    let results: Vec<Result<ScoredFile, (u8, String)>> = paths
        .par_iter()
        .filter_map(|(path, origin)| {
            let document = match read_spec(path, *origin, &settings.limits) {
                Ok(Some(document)) => document,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            Some(Ok(ScoredFile {
                file: files::display_path(path),
                score: score_spec(&document, &options),
            }))
        })
        .collect();
    let mut status = if io_errors.is_empty() { EXIT_OK } else { EXIT_USAGE };
    let mut scored = Vec::new();
    for result in results {
        match result {
            Ok(s) => scored.push(s),
            Err((code, message)) => {
                eprint!("{message}");
                status = status.max(code);
            }
        }
    }
    let below: Vec<&str> = match args.min {
        Some(min) => scored.iter().filter(|s| s.score.les < min).map(|s| s.file.as_str()).collect(),
        None => Vec::new(),
    };
    let failed = !below.is_empty();
    let report = SpecReport {
        scores: &scored,
        min: args.min,
        below_min: below,
        reference_parity: args.reference_parity,
    };
    report::print(&report, args.format);
    if failed {
        status = status.max(EXIT_FINDINGS);
    }
    status
}

fn run_trace(
    trace_path: &std::path::Path,
    spec_path: Option<&std::path::Path>,
    min: Option<f64>,
    format: Format,
    settings: &Settings,
) -> u8 {
    let trace = match read_document(trace_path, &settings.limits) {
        Ok(t) => t,
        Err((code, message)) => {
            eprint!("{message}");
            return code;
        }
    };
    let spec = match spec_path.map(|p| read_document(p, &settings.limits)).transpose() {
        Ok(s) => s,
        Err((code, message)) => {
            eprint!("{message}");
            return code;
        }
    };
    let score = score_trace(&trace, spec.as_ref());
    let report = TraceReport {
        file: files::display_path(trace_path),
        score: &score,
    };
    report::print(&report, format);
    if !score.valid || score.les.is_none() {
        return EXIT_FINDINGS;
    }
    match (min, score.les) {
        (Some(min), Some(les)) if les < min => {
            eprintln!("FAIL {}: LES {les:.1} is below --min {min}", files::display_path(trace_path));
            EXIT_FINDINGS
        }
        _ => EXIT_OK,
    }
}

fn render_trace(file: &str, s: &TraceScore) -> String {
    let mut out = String::new();
    if !s.errors.is_empty() {
        let _ = writeln!(out, "{file}: not a valid Loop Trace 1.0 file; not scored");
        for e in &s.errors {
            let _ = writeln!(out, "  error: {e}");
        }
        return out;
    }
    match s.les {
        Some(les) => {
            let _ = writeln!(out, "{file}: {} {les:.1}", s.label);
        }
        None => {
            let _ = writeln!(out, "{file}: {} (no score)", s.label);
        }
    }
    for c in &s.categories {
        let _ = writeln!(
            out,
            "  {:<14} {:>5.2}  weight {:.2} (effective {:.3})",
            c.name, c.score, c.weight, c.effective_weight
        );
        for line in &c.explanation {
            let _ = writeln!(out, "      {line}");
        }
    }
    for m in &s.missing {
        let _ = writeln!(out, "  {:<14}   n/a  {}", m.name, m.reason);
    }
    if let Some(d) = &s.diagnostics {
        let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"));
        let _ = writeln!(out, "  diagnostics:");
        let _ = writeln!(out, "    iterations           {}", d.iterations);
        let _ = writeln!(out, "    convergence rate     {}", opt(d.convergence_rate, 4));
        let _ = writeln!(out, "    iteration efficiency {}", opt(d.iteration_efficiency, 3));
        let _ = writeln!(
            out,
            "    cost per iteration   {}",
            d.cost_per_iteration.map_or_else(|| "n/a".to_owned(), |c| format!("${c:.4}"))
        );
        let _ = writeln!(
            out,
            "    regressions          {}",
            d.regression_count.map_or_else(|| "n/a".to_owned(), |r| r.to_string())
        );
        let _ = writeln!(out, "    termination          {}", d.termination_reason);
    }
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}
