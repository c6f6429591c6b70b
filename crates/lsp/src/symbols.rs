//! Every id of a spec where it is written: each definition (a worker's
//! `id`, a metric's `name`, an `inputs.schema` key, …) and each reference
//! to it, with the span of the id's own characters (`planner` in
//! `source: workers.planner`), so that definition, references and rename
//! work on exactly those bytes.
//!
//! The references are the ones rule L201 (`unknown-reference`) resolves,
//! read from the IR, which knows which field holds what: bare worker ids in
//! `depends_on`, `runs_after`, `applies_to`, `allowed_writers` and the keys
//! of `read_policy`; `workers.<id>` in `inputs[].from`, feedback
//! `destination` and the optimisation targets; `inputs.<field>` in
//! `inputs[].from`; `evaluators.<id>` / `workers.<id>` in feedback and
//! metric `source`; metric names in success and stall conditions; and
//! L307's `children.<id>` at either end of a composition adapter.

use loopc_diagnostics::Span;
use loopc_ir::{Sp, Spec};

/// What an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdKind {
    Worker,
    Evaluator,
    Metric,
    Input,
    FeedbackChannel,
    SafetyConstraint,
    Child,
}

impl IdKind {
    /// The word for it in messages.
    pub fn noun(self) -> &'static str {
        match self {
            IdKind::Worker => "worker",
            IdKind::Evaluator => "evaluator",
            IdKind::Metric => "metric",
            IdKind::Input => "input",
            IdKind::FeedbackChannel => "feedback channel",
            IdKind::SafetyConstraint => "safety constraint",
            IdKind::Child => "composition child",
        }
    }

    /// The first segment of a path reference to this kind (`workers.<id>`).
    pub fn prefix(self) -> Option<&'static str> {
        match self {
            IdKind::Worker => Some("workers"),
            IdKind::Evaluator => Some("evaluators"),
            IdKind::Input => Some("inputs"),
            IdKind::Child => Some("children"),
            _ => None,
        }
    }

    /// Whether `name` is a well-formed id of this kind, by the schema's
    /// patterns: `^[a-z][a-z0-9_-]*$` for ids, no `-` in metric names, and
    /// an input field as `inputs.<field>` paths can name it.
    pub fn accepts(self, name: &str) -> bool {
        let mut chars = name.chars();
        let Some(first) = chars.next() else { return false };
        match self {
            IdKind::Metric => first.is_ascii_lowercase() && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            IdKind::Input => (first.is_ascii_alphabetic() || first == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
            _ => {
                name.len() <= 64
                    && first.is_ascii_lowercase()
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            }
        }
    }
}

/// Whether an occurrence defines its id or refers to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Definition,
    Reference,
}

/// One id where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub kind: IdKind,
    pub name: String,
    /// The id's own bytes (inside quotes, after a `workers.` prefix).
    pub span: Span,
    pub role: Role,
}

/// A composition child's `ref`: a path to a spec file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub path: String,
    pub span: Span,
}

/// The ids of one spec, in source order.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    occurrences: Vec<Occurrence>,
    refs: Vec<FileRef>,
}

/// Why a rename cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("there is no id here to rename")]
    NoId,
    #[error("`{name}` is not a valid {}", .kind.noun())]
    Invalid { kind: IdKind, name: String },
}

/// One replacement of a rename: the bytes of `span` become `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub span: Span,
    pub text: String,
}

impl Symbols {
    /// The ids of `spec`, placed in `source` (the text it was lowered from).
    pub fn collect(source: &str, spec: &Spec) -> Symbols {
        let mut found = Collector {
            source,
            symbols: Symbols::default(),
        };
        found.definitions(spec);
        found.references(spec);
        let mut symbols = found.symbols;
        symbols.occurrences.sort_by_key(|o| (o.span.start, o.span.end));
        symbols.occurrences.dedup();
        symbols
    }

    pub fn occurrences(&self) -> &[Occurrence] {
        &self.occurrences
    }

    /// The id at `offset`; the end of an id counts, so a cursor just after
    /// the last character still finds it.
    pub fn at(&self, offset: usize) -> Option<&Occurrence> {
        self.occurrences.iter().find(|o| o.span.start <= offset && offset <= o.span.end)
    }

    /// The composition `ref` at `offset`.
    pub fn file_ref_at(&self, offset: usize) -> Option<&FileRef> {
        self.refs.iter().find(|r| r.span.start <= offset && offset <= r.span.end)
    }

    /// Every occurrence of the id `kind` `name`, in source order.
    pub fn of<'a>(&'a self, kind: IdKind, name: &'a str) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| o.kind == kind && o.name == name)
    }

    /// Where the id is defined (the first definition, when it has several).
    pub fn definition(&self, kind: IdKind, name: &str) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .find(|o| o.kind == kind && o.name == name && o.role == Role::Definition)
    }

    /// The defined names of `kind`, each once, in source order.
    pub fn defined(&self, kind: IdKind) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for o in self.occurrences.iter().filter(|o| o.kind == kind && o.role == Role::Definition) {
            if !names.contains(&o.name.as_str()) {
                names.push(&o.name);
            }
        }
        names
    }

    /// The edits that rename the id at `offset` to `new_name` everywhere in
    /// the spec: its definitions and every reference, prefixed or bare.
    pub fn rename(&self, offset: usize, new_name: &str) -> Result<Vec<Replacement>, RenameError> {
        let at = self.at(offset).ok_or(RenameError::NoId)?;
        if !at.kind.accepts(new_name) {
            return Err(RenameError::Invalid {
                kind: at.kind,
                name: new_name.to_owned(),
            });
        }
        Ok(self
            .of(at.kind, &at.name)
            .map(|o| Replacement {
                span: o.span,
                text: new_name.to_owned(),
            })
            .collect())
    }
}

struct Collector<'a> {
    source: &'a str,
    symbols: Symbols,
}

impl Collector<'_> {
    fn push(&mut self, kind: IdKind, name: &str, span: Span, role: Role) {
        self.symbols.occurrences.push(Occurrence {
            kind,
            name: name.to_owned(),
            span,
            role,
        });
    }

    /// A scalar that is a whole id: kept when written as its value (no
    /// escapes or folding), so that the span is exactly the id.
    fn whole(&mut self, kind: IdKind, at: &Sp<String>, role: Role) {
        let Some((span, written)) = loopc_check::fixes::unquoted(self.source, at.span) else {
            return;
        };
        if written == at.value && !written.is_empty() && written != "*" {
            self.push(kind, written, span, role);
        }
    }

    fn whole_all<'s>(&mut self, kind: IdKind, items: impl IntoIterator<Item = &'s Sp<String>>, role: Role) {
        for at in items {
            self.whole(kind, at, role);
        }
    }

    /// A path reference such as `workers.<id>`, one of `kinds`. The IR
    /// has read a reference that left its prefix out as its author meant it
    /// (`source: tests` is `evaluators.tests`, see `loopc_ir`), so the kind
    /// comes from the IR's value and the id's place from the written text.
    fn path(&mut self, kinds: &[IdKind], at: &Sp<String>) {
        let Some((span, written)) = loopc_check::fixes::unquoted(self.source, at.span) else {
            return;
        };
        let Some((prefix, rest)) = at.value.split_once('.') else {
            return;
        };
        let Some(kind) = kinds.iter().copied().find(|k| k.prefix() == Some(prefix)) else {
            return;
        };
        let name = rest.split('.').next().unwrap_or_default();
        let start = if written.strip_prefix(prefix).and_then(|w| w.strip_prefix('.')).is_some() {
            prefix.len() + 1
        } else {
            0
        };
        let after = written.get(start..).unwrap_or_default();
        let ends_there = after
            .strip_prefix(name)
            .is_some_and(|tail| tail.is_empty() || tail.starts_with('.'));
        if !name.is_empty() && ends_there {
            let begin = span.start + start;
            self.push(kind, name, Span::new(begin, begin + name.len()), Role::Reference);
        }
    }

    fn definitions(&mut self, spec: &Spec) {
        use Role::Definition as D;
        self.whole_all(IdKind::Worker, spec.workers.iter().filter_map(|w| w.id.as_ref()), D);
        self.whole_all(IdKind::Evaluator, spec.evaluators.iter().filter_map(|e| e.id.as_ref()), D);
        self.whole_all(IdKind::Metric, spec.metrics.iter().filter_map(|m| m.name.as_ref()), D);
        self.whole_all(IdKind::Input, spec.inputs.iter().flat_map(|i| i.fields.iter().map(|f| &f.name)), D);
        self.whole_all(
            IdKind::FeedbackChannel,
            spec.feedback_channels.iter().filter_map(|f| f.id.as_ref()),
            D,
        );
        self.whole_all(
            IdKind::SafetyConstraint,
            spec.safety_constraints.iter().filter_map(|s| s.id.as_ref()),
            D,
        );
        if let Some(c) = &spec.composition {
            self.whole_all(IdKind::Child, c.children.iter().filter_map(|c| c.id.as_ref()), D);
        }
    }

    fn references(&mut self, spec: &Spec) {
        use IdKind::{Child, Evaluator, Input, Metric, Worker};
        use Role::Reference as R;
        const SOURCES: &[IdKind] = &[Evaluator, Worker];
        for w in &spec.workers {
            self.whole_all(Worker, &w.depends_on, R);
            for from in &w.inputs {
                self.path(&[Worker, Input], from);
            }
        }
        for e in &spec.evaluators {
            self.whole_all(Worker, &e.runs_after, R);
        }
        for f in &spec.feedback_channels {
            if let Some(source) = &f.source {
                self.path(SOURCES, source);
            }
            if let Some(destination) = &f.destination {
                self.path(&[Worker], destination);
            }
        }
        for m in &spec.metrics {
            if let Some(source) = &m.source {
                self.path(SOURCES, source);
            }
        }
        if let Some(t) = &spec.termination {
            let metrics = t.success.iter().filter_map(|c| c.metric.as_ref());
            let stalls = t.stall.iter().filter_map(|c| c.metric.as_ref());
            self.whole_all(Metric, metrics.chain(stalls), R);
        }
        if let Some(o) = &spec.optimization_strategy {
            for target in o.refinement_target.iter().chain(&o.secondary_targets) {
                self.path(&[Worker], target);
            }
        }
        for s in &spec.safety_constraints {
            self.whole_all(Worker, &s.applies_to, R);
        }
        if let Some(memory) = &spec.memory {
            self.whole_all(Worker, &memory.allowed_writers, R);
            self.whole_all(Worker, memory.read_policy.iter().map(|(reader, _)| reader), R);
        }
        if let Some(c) = &spec.composition {
            for end in c.adapters.iter().flat_map(|a| a.from.iter().chain(&a.to)) {
                self.path(&[Child], end);
            }
            for reference in c.children.iter().filter_map(|c| c.reference.as_ref()) {
                if let Some((span, written)) = loopc_check::fixes::unquoted(self.source, reference.span) {
                    if written == reference.value {
                        self.symbols.refs.push(FileRef {
                            path: written.to_owned(),
                            span,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"loop_name: demo
inputs:
  schema:
    topic: { type: string }
workers:
  - id: planner
    inputs: [{ from: inputs.topic }]
  - id: "coder"
    depends_on: [planner]
    inputs:
      - from: workers.planner
evaluators:
  - id: tests
    type: deterministic
    runs_after: ["*", coder]
feedback_channels:
  - id: back
    source: tests
    destination: workers.planner
metrics:
  - name: pass_rate
    source: evaluators.tests
termination_conditions:
  success: [{ metric: pass_rate, operator: ">=", value: 1 }]
safety_constraints:
  - id: no-net
    applies_to: ['planner']
"#;

    fn symbols() -> Symbols {
        let parsed = loopc_syntax::load("x.yaml", SPEC.as_bytes(), &loopc_syntax::Limits::default());
        let spec = loopc_ir::lower(parsed.root.as_ref().expect("parses"));
        Symbols::collect(SPEC, &spec)
    }

    fn texts(symbols: &Symbols, kind: IdKind, name: &str) -> Vec<(Role, String)> {
        symbols
            .of(kind, name)
            .map(|o| (o.role, SPEC[o.span.start..o.span.end].to_owned()))
            .collect()
    }

    #[test]
    fn every_reference_of_a_worker_is_found_on_its_own_bytes() {
        let symbols = symbols();
        let planner = texts(&symbols, IdKind::Worker, "planner");
        assert_eq!(planner.len(), 5, "{planner:?}");
        assert!(planner.iter().all(|(_, text)| text == "planner"));
        assert_eq!(planner.iter().filter(|(r, _)| *r == Role::Definition).count(), 1);
        // The definition in quotes: the span is inside them.
        let coder = symbols.definition(IdKind::Worker, "coder").unwrap();
        assert_eq!(&SPEC[coder.span.start - 1..coder.span.end + 1], "\"coder\"");
        // `*` is no id.
        assert_eq!(texts(&symbols, IdKind::Worker, "coder").len(), 2);
    }

    #[test]
    fn a_source_without_its_prefix_is_the_evaluator_it_means() {
        let symbols = symbols();
        let tests = texts(&symbols, IdKind::Evaluator, "tests");
        assert_eq!(tests.len(), 3, "{tests:?}");
        assert_eq!(texts(&symbols, IdKind::Metric, "pass_rate").len(), 2);
        assert_eq!(texts(&symbols, IdKind::Input, "topic").len(), 2);
        assert_eq!(symbols.defined(IdKind::Worker), ["planner", "coder"]);
    }

    #[test]
    fn rename_edits_every_occurrence_and_checks_the_new_name() {
        let symbols = symbols();
        let at = SPEC.find("planner]").unwrap() + 3;
        let edits = symbols.rename(at, "architect").unwrap();
        assert_eq!(edits.len(), 5);
        let mut renamed = SPEC.to_owned();
        for edit in edits.iter().rev() {
            renamed.replace_range(edit.span.start..edit.span.end, &edit.text);
        }
        assert!(!renamed.contains("planner"));
        assert!(renamed.contains("destination: workers.architect") && renamed.contains("applies_to: ['architect']"));
        assert_eq!(
            symbols.rename(at, "Not An Id"),
            Err(RenameError::Invalid {
                kind: IdKind::Worker,
                name: "Not An Id".into()
            })
        );
        assert_eq!(symbols.rename(0, "x"), Err(RenameError::NoId));
    }

    #[test]
    fn id_patterns_follow_the_schema() {
        assert!(IdKind::Worker.accepts("code-review_2"));
        assert!(!IdKind::Worker.accepts("2nd") && !IdKind::Worker.accepts("") && !IdKind::Worker.accepts("Big"));
        assert!(!IdKind::Metric.accepts("pass-rate") && IdKind::Metric.accepts("pass_rate"));
        assert!(IdKind::Input.accepts("Topic_1") && !IdKind::Input.accepts("a.b"));
    }
}
