//! Everything loopc's commands do with one input file: check (with every
//! renderer's output parsed back as JSON where it is JSON), the phase graph
//! and its Mermaid diagram, the structural score, compile, and the plan read
//! back as `loopc run` reads it. The mutation pass (`tests/mutants.rs`) and
//! the coverage-guided fuzz target (`fuzz/`) both drive this, so a crash
//! either finds is a crash of the commands.
//!
//! A wrong result panics: machine output that is not JSON, a plan that does
//! not read back as itself.

use std::path::Path;

use loopc_check::{diagram, Checker};
use loopc_diagnostics::render::{
    render_github, render_gitlab, render_human, render_json, render_sarif, ArtifactPath, FileDiagnostics, HumanOptions, SarifRule, SarifRun,
};

/// What a mutant turned out to be, so the pass shows it reached every stage.
#[derive(Default)]
pub struct Reached {
    pub with_errors: usize,
    pub analysed: usize,
    pub compiled: usize,
}

/// Every rule, documented for SARIF (built once: the mutation pass renders many files).
fn sarif_rules() -> &'static [SarifRule] {
    static RULES: std::sync::OnceLock<Vec<SarifRule>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        loopc_check::all_rules()
            .map(|r| SarifRule {
                meta: r.meta(),
                full_description: r.summary.to_owned(),
                help_text: r.documentation(),
                help_markdown: r.documentation(),
                help_uri: format!("https://example.test/rules#{}", r.code),
            })
            .collect()
    })
}

/// A SARIF run with every rule and no repository root: paths stay as given.
fn sarif_run(rules: &[SarifRule]) -> SarifRun<'_> {
    SarifRun {
        tool_version: "0",
        information_uri: "https://example.test",
        rules,
        root: None,
        locate: &|path| ArtifactPath::InRoot(path.to_path_buf()),
        notifications: &[],
    }
}

/// Everything a command does with one file; panics propagate.
pub fn exercise(checker: &Checker, path: &Path, bytes: &[u8], reached: &mut Reached) {
    let analysis = checker.analyse(path, bytes);
    let report = FileDiagnostics {
        source: analysis.checked.source.clone(),
        display_path: "mutant.yaml".into(),
        diagnostics: analysis.checked.diagnostics.clone(),
    };
    reached.with_errors += usize::from(!analysis.errors().is_empty());
    let files = [report];
    render_human(&files, HumanOptions { color: true });
    for json in [
        render_json(&files, &serde_json::json!({})),
        render_sarif(&files, &sarif_run(sarif_rules())),
        render_gitlab(&files),
    ] {
        serde_json::from_str::<serde_json::Value>(&json).expect("machine output is JSON");
    }
    render_github(&files);
    if let Some((spec, json, graph)) = &analysis.spec {
        reached.analysed += 1;
        diagram::mermaid(spec, graph, &diagram::Options::default());
        diagram::markdown(spec, graph, &diagram::Options::compact(diagram::Direction::LeftRight));
        serde_json::to_string(&graph.to_json()).expect("graph serializes");
        loopc_score::score_spec(json, &loopc_score::SpecScoreOptions::default());
    }
    if let Ok(plan) = loopc_compile::compile(path, bytes, "mutant.yaml", &loopc_compile::Options::default()) {
        reached.compiled += 1;
        let text = serde_json::to_string(&plan).expect("plan serializes");
        let read = serde_json::from_str::<loopc_plan::Plan>(&text).expect("loopc run can read every plan compile writes");
        assert!(read == plan, "the plan read back is the plan written");
    }
}
