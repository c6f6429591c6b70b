use std::path::PathBuf;

use clap::{Args, ValueEnum};
use loopc_check::diagram::{self, Direction, Options};
use loopc_check::{Checker, Settings};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};

use super::{usage_error, EXIT_FINDINGS};
use crate::files::display_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// The flowchart in a ```mermaid block under a heading naming the loop,
    /// ready to paste into a pull-request comment.
    Markdown,
    /// The phase graph itself: nodes, edges, cycles and bounds.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagramDirection {
    /// Top to bottom: an iteration reads downwards and the loop goes back up.
    #[value(name = "TB", alias = "tb", alias = "TD", alias = "td")]
    Tb,
    /// Left to right: each step of an iteration a column; narrower than TB when many
    /// phases run side by side in few steps.
    #[value(name = "LR", alias = "lr")]
    Lr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Hidden {
    /// The input nodes and the edges from them.
    Inputs,
    /// The memory node and its reads and writes.
    Memory,
}

#[derive(Args, Debug)]
pub struct DiagramArgs {
    /// The LSS file to draw.
    pub spec: PathBuf,
    /// Write here instead of standard output (replaced atomically).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    pub format: DiagramFormat,
    /// Which way the flowchart runs (Mermaid and Markdown).
    #[arg(long, value_enum, default_value_t = DiagramDirection::Tb)]
    pub direction: DiagramDirection,
    /// Leave phases out to keep a large loop readable, e.g. `--hide inputs,memory`
    /// (Mermaid and Markdown; JSON is always the whole graph).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT")]
    pub hide: Vec<Hidden>,
    /// For a large loop on a pull-request page (about 920 px wide): `--hide
    /// inputs,memory`, the checks of the same workers drawn as one node, and
    /// no models or check types in the labels.
    #[arg(long)]
    pub compact: bool,
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
    let direction = match args.direction {
        DiagramDirection::Tb => Direction::TopDown,
        DiagramDirection::Lr => Direction::LeftRight,
    };
    let options = if args.compact {
        Options::compact(direction)
    } else {
        Options {
            direction,
            hide_inputs: args.hide.contains(&Hidden::Inputs),
            hide_memory: args.hide.contains(&Hidden::Memory),
            ..Options::default()
        }
    };
    let text = match args.format {
        DiagramFormat::Mermaid => diagram::mermaid(&spec, &graph, &options),
        DiagramFormat::Markdown => diagram::markdown(&spec, &graph, &options),
        DiagramFormat::Json => {
            let mut json = graph.to_json();
            json["loop_name"] = spec.loop_name.as_ref().map(|n| n.value.clone()).into();
            serde_json::to_string_pretty(&json).expect("graph serializes") + "\n"
        }
    };
    super::write_output(args.output.as_deref(), &text)
}
