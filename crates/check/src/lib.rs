//! The checks behind `loopc check`: schema validation and semantic rules
//! over one parsed LSS document, with the rule registry and its docs.

mod children;
pub mod diagram;
pub mod discovery;
pub mod fixes;
pub mod graph;
mod index;
pub mod level;
pub mod registry;
pub mod rules;
pub mod schema;
pub mod settings;
mod suggest;
mod suppress;
pub mod syntax_rules;

use std::path::{Path, PathBuf};

use children::ChildCache;
pub use children::{candidates, shown, ChildInterface, ChildOutcome};
use loopc_diagnostics::{Diagnostic, Severity, SourceFile};
use loopc_ir::Spec;
pub use loopc_syntax::Limits;
use loopc_syntax::Node;
pub use registry::{all_rules, find_rule, rule_metas, RuleInfo};
pub use settings::{Level, RuleLevels, Settings, SettingsError};

/// What a rule sees.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub root: &'a Node,
    pub source_text: &'a str,
    /// The phase graph; only the analysis rules read it.
    pub graph: &'a graph::PhaseGraph,
    pub(crate) index: &'a index::SpecIndex<'a>,
    /// The file being checked (composition `ref`s are relative to it).
    pub path: &'a Path,
    pub(crate) children: &'a ChildScope<'a>,
}

impl Context<'_> {
    /// A finding of `rule` at `span`, stamped with the rule's code, name
    /// and declared severity (add labels and help to it, then push it).
    pub(crate) fn report<R: registry::Declared>(&self, rule: &R, span: loopc_diagnostics::Span, message: impl Into<String>) -> Diagnostic {
        registry::report(rule, span, message)
    }
}

/// The result of checking one file.
#[derive(Debug)]
pub struct CheckedFile {
    pub source: SourceFile,
    /// Sorted by position, then code.
    pub diagnostics: Vec<Diagnostic>,
    /// The conformance level reached (at default rule severities).
    pub conformance: level::Conformance,
    /// The loop's bounds, when the file parsed.
    pub bounds: Option<graph::LoopBounds>,
}

impl CheckedFile {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// A checked file with its IR, JSON data and phase graph (when it parsed).
#[derive(Debug)]
pub struct Analysis {
    pub checked: CheckedFile,
    pub spec: Option<(Spec, serde_json::Value, graph::PhaseGraph)>,
}

impl Analysis {
    /// The findings at error level.
    pub fn errors(&self) -> Vec<loopc_diagnostics::Diagnostic> {
        self.checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == loopc_diagnostics::Severity::Error)
            .cloned()
            .collect()
    }
}

/// Checks files; one per process, shared by the threads checking in parallel.
pub struct Checker {
    limits: Limits,
    children: ChildCache,
    /// Run the phase-graph analysis (boundedness, readiness) after the front end.
    analysis: bool,
    /// What findings become (`loopc.toml [rules]`, `-A/-W/-D`).
    levels: RuleLevels,
}

/// How deep compositions may nest through `ref` before we stop following.
const MAX_COMPOSITION_DEPTH: usize = 16;

impl Checker {
    pub fn new(limits: Limits) -> Self {
        Checker {
            limits,
            children: ChildCache::default(),
            analysis: true,
            levels: RuleLevels::default(),
        }
    }

    /// A checker with the settings' limits and rule levels.
    pub fn from_settings(settings: &Settings) -> Self {
        Checker::new(settings.limits.clone()).with_levels(settings.levels.clone())
    }

    /// Findings get these levels (an allowed rule's findings are dropped).
    pub fn with_levels(mut self, levels: RuleLevels) -> Self {
        self.levels = levels;
        self
    }

    /// The front end only: syntax, schema, references, compositions — no
    /// phase graph, no boundedness or readiness rules (and no bounds, so
    /// compositions get no budget check). For measurements and for callers
    /// that want the schema-and-references verdict alone.
    pub fn front_end_only(limits: Limits) -> Self {
        Checker {
            analysis: false,
            ..Checker::new(limits)
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Check the contents of one file.
    pub fn check_bytes(&self, path: &Path, bytes: &[u8]) -> CheckedFile {
        self.check_inner(path, bytes, &[]).checked
    }

    /// [`Checker::check_bytes`] for a file loopc found by itself (a
    /// directory walk, a hook's file list): a file that is not an LSS spec is
    /// skipped, with the reason ([`discovery::skip_reason`]).
    pub fn check_if_lss(&self, path: &Path, bytes: &[u8]) -> Result<CheckedFile, String> {
        let parsed = loopc_syntax::load(path, bytes, &self.limits);
        let first_error = parsed.errors.first().map(|e| e.message.as_str());
        if let Some(why) = discovery::skip_reason(path, bytes, parsed.root.as_ref(), first_error) {
            return Err(why);
        }
        Ok(self.check_parsed(path, parsed, &[]).checked)
    }

    /// Check one file and keep what the analysis built: the IR and the
    /// phase graph (for `diagram`, `compile`, `score`).
    pub fn analyse(&self, path: &Path, bytes: &[u8]) -> Analysis {
        self.check_inner(path, bytes, &[])
    }

    fn check_inner(&self, path: &Path, bytes: &[u8], ancestors: &[PathBuf]) -> Analysis {
        self.check_parsed(path, loopc_syntax::load(path, bytes, &self.limits), ancestors)
    }

    fn check_parsed(&self, path: &Path, parsed: loopc_syntax::Parsed, ancestors: &[PathBuf]) -> Analysis {
        let mut diagnostics: Vec<Diagnostic> = parsed.errors.into_iter().map(syntax_rules::diagnostic).collect();
        let mut analysed = None;
        if let Some(root) = &parsed.root {
            let json = root.to_json();
            diagnostics.extend(schema::validate(root, &json));
            let spec = loopc_ir::lower(root);
            let graph = if self.analysis {
                graph::build(&spec)
            } else {
                graph::PhaseGraph::empty()
            };
            let mut chain = ancestors.to_vec();
            chain.push(canonical(path));
            let scope = ChildScope {
                checker: self,
                ancestors: &chain,
            };
            let index = index::SpecIndex::new(&spec);
            let cx = Context {
                spec: &spec,
                root,
                source_text: parsed.source.text(),
                graph: &graph,
                index: &index,
                path,
                children: &scope,
            };
            let mut semantic = Vec::new();
            for rule in registry::checks(registry::Stage::FrontEnd) {
                rule.check(&cx, &mut semantic);
            }
            if self.analysis {
                for rule in registry::checks(registry::Stage::Analysis) {
                    rule.check(&cx, &mut semantic);
                }
            }
            drop_cascades(parsed.source.text(), &diagnostics, &mut semantic);
            fixes::meant_references(parsed.source.text(), &spec, &mut diagnostics);
            diagnostics.append(&mut semantic);
            analysed = Some((spec, json, graph));
        }
        diagnostics.sort_by(|a, b| (a.primary.span.start, a.code, &a.message).cmp(&(b.primary.span.start, b.code, &b.message)));
        // Conformance is a property of the file, at the rules' own severities.
        let conformance = level::conformance(analysed.as_ref().map(|a| &a.0), analysed.as_ref().map(|a| &a.1), &diagnostics);
        // `# loopc: allow` comments silence findings (not the conformance level).
        suppress::apply(&parsed.source, &mut diagnostics);
        if !self.levels.is_default() {
            diagnostics.retain_mut(|d| match self.levels.apply(d.code, d.severity) {
                Some(severity) => {
                    d.severity = severity;
                    true
                }
                None => false,
            });
        }
        let bounds = analysed.as_ref().map(|a| a.2.bounds.clone());
        Analysis {
            checked: CheckedFile {
                source: parsed.source,
                diagnostics,
                conformance,
                bounds,
            },
            spec: analysed,
        }
    }
}

/// A YAML or JSON file read as a tree, with its syntax errors as
/// diagnostics (for commands that read documents without checking them as LSS).
/// A rule's finding on a node the schema has already reported is a
/// consequence of that error, not news (the schema error says what to fix):
/// one mistake, one finding. Only errors on one-line scalars count: a
/// missing field is reported on its whole enclosing mapping, and everything
/// inside that is still worth reporting.
fn drop_cascades(text: &str, earlier: &[Diagnostic], semantic: &mut Vec<Diagnostic>) {
    let malformed: Vec<loopc_diagnostics::Span> = earlier
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.primary.span)
        .filter(|span| {
            text.get(span.start..span.end)
                .is_some_and(|t| !t.contains('\n') && !t.starts_with(['{', '[']))
        })
        .collect();
    if malformed.is_empty() {
        return;
    }
    semantic.retain(|d| {
        let at = d.primary.span;
        !malformed.iter().any(|m| m.start <= at.start && at.end <= m.end)
    });
}

pub fn read_document(path: &Path, bytes: &[u8], limits: &Limits) -> (SourceFile, Option<Node>, Vec<Diagnostic>) {
    let parsed = loopc_syntax::load(path, bytes, limits);
    let diagnostics = parsed.errors.into_iter().map(syntax_rules::diagnostic).collect();
    (parsed.source, parsed.root, diagnostics)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Child resolution from one file, knowing which specs enclose it.
pub(crate) struct ChildScope<'a> {
    checker: &'a Checker,
    ancestors: &'a [PathBuf],
}

impl ChildScope<'_> {
    pub(crate) fn resolve(&self, base_file: &Path, reference: &str) -> ChildOutcome {
        let tried = candidates(base_file, reference);
        let Some(found) = tried.iter().find(|p| p.is_file()) else {
            return ChildOutcome::Missing { tried };
        };
        let key = canonical(found);
        if self.ancestors.contains(&key) {
            return ChildOutcome::Cycle { path: found.clone() };
        }
        if let Some(outcome) = self.checker.children.get(&key) {
            return outcome;
        }
        let outcome = if self.ancestors.len() >= MAX_COMPOSITION_DEPTH {
            ChildOutcome::Invalid {
                path: found.clone(),
                errors: 1,
                first: format!("compositions nest deeper than {MAX_COMPOSITION_DEPTH} levels"),
            }
        } else {
            match std::fs::read(found) {
                Err(e) => ChildOutcome::Invalid {
                    path: found.clone(),
                    errors: 1,
                    first: format!("cannot read {}: {e}", found.display()),
                },
                Ok(bytes) => {
                    let analysis = self.checker.check_inner(found, &bytes, self.ancestors);
                    let interface = analysis
                        .spec
                        .as_ref()
                        .map(|(spec, ..)| ChildInterface::of(spec))
                        .unwrap_or_default();
                    let checked = analysis.checked;
                    let errors: Vec<&Diagnostic> = checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
                    match errors.first() {
                        None => ChildOutcome::Valid {
                            path: found.clone(),
                            bounds: checked.bounds.unwrap_or_default(),
                            interface,
                        },
                        Some(first) => {
                            let at = checked.source.line_col(first.primary.span.start);
                            ChildOutcome::Invalid {
                                path: found.clone(),
                                errors: errors.len(),
                                first: format!(
                                    "{}:{}:{}: {} [{}]",
                                    children::shown(found),
                                    at.line,
                                    at.column,
                                    first.message,
                                    first.rule
                                ),
                            }
                        }
                    }
                }
            }
        };
        self.checker.children.put(key, outcome.clone());
        outcome
    }
}
