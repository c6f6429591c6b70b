use std::path::PathBuf;

use clap::{Args, ValueEnum};
use loopc_check::{diagram, Checker, Settings};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};

use super::{usage_error, EXIT_FINDINGS};
use crate::files::display_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// The phase graph itself: nodes, edges, cycles and bounds.
    Json,
}

#[derive(Args, Debug)]
pub struct DiagramArgs {
    /// The LSS file to draw.
    pub spec: PathBuf,
    /// Write here instead of standard output (replaced atomically).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    pub format: DiagramFormat,
}

pub fn run(args: DiagramArgs, settings: &Settings) -> u8 {
    let bytes = match std::fs::read(&args.spec) {
        Ok(b) => b,
        Err(e) => return usage_error(format!("cannot read {}: {e}", args.spec.display())),
    };
    let analysis = Checker::from_settings(settings).analyse(&args.spec, &bytes);
    let errors = analysis.errors();
    let Some((spec, _, graph)) = analysis.spec else {
        let report = FileDiagnostics {
            source: analysis.checked.source,
            display_path: display_path(&args.spec),
            diagnostics: errors,
        };
        eprint!("{}", render_human(&[report], HumanOptions::default()));
        return EXIT_FINDINGS;
    };
    if !errors.is_empty() {
        eprintln!(
            "loopc: warning: {} has {} error{}; the diagram shows what could be read (run `loopc check {}`)",
            display_path(&args.spec),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            display_path(&args.spec)
        );
    }
    let text = match args.format {
        DiagramFormat::Mermaid => diagram::mermaid(&spec, &graph),
        DiagramFormat::Json => {
            let mut json = graph.to_json();
            json["loop_name"] = spec.loop_name.as_ref().map(|n| n.value.clone()).into();
            serde_json::to_string_pretty(&json).expect("graph serializes") + "\n"
        }
    };
    super::write_output(args.output.as_deref(), &text)
}
