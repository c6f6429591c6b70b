use std::collections::HashSet;

use loopc_diagnostics::{Diagnostic, Fix};
use loopc_ir::Sp;

use super::Rule;
use crate::registry::declare_rule;
use crate::{suggest, Context};

declare_rule! {
    /// ## What it does
    /// Checks that every reference names something the spec defines:
    /// - worker ids in `depends_on`, evaluator `runs_after`, safety
    ///   `applies_to`, memory `write_policy.allowed_writers` and the keys of
    ///   `memory.read_policy` (`*` means every worker where the schema allows it);
    /// - `workers.<id>` in worker `inputs[].from`, feedback `destination`,
    ///   `optimization_strategy.config.refinement_target` and `secondary_targets`;
    /// - `inputs.<field>` in worker `inputs[].from` against `inputs.schema`;
    /// - `evaluators.<id>` / `workers.<id>` in feedback and metric `source`;
    /// - metric names in `termination_conditions.success[].metric` and `stall[].metric`.
    ///
    /// ## Why
    /// A dangling reference is a loop that silently never runs a step, never
    /// delivers feedback or never terminates on the condition it declares.
    ///
    /// ## Fix
    /// `loopc check --fix` replaces a reference that is one typo from exactly
    /// one defined name with that name (`planer` → `planner`).
    ///
    /// ## Example
    /// ```yaml
    /// workers:
    ///   - id: planner
    ///   - id: coder
    ///     depends_on: [planer]     # L201: did you mean `planner`?
    /// ```
    pub struct UnknownReference { code: "L201", name: "unknown-reference", group: "references", severity: Error, summary: "A reference names a worker, evaluator, metric or input that the spec does not define." }
}

struct Names<'a> {
    /// The file's text, to place fixes.
    source: &'a str,
    what: &'static str,
    names: Vec<&'a str>,
    set: HashSet<&'a str>,
}

impl<'a> Names<'a> {
    fn new(source: &'a str, what: &'static str, names: impl Iterator<Item = &'a str>) -> Self {
        let names: Vec<&str> = names.collect();
        Names {
            source,
            what,
            set: names.iter().copied().collect(),
            names,
        }
    }

    /// Report `name` (found at `at`, inside `context`) when it is not defined.
    fn require(&self, name: &str, at: &Sp<String>, context: &str, out: &mut Vec<Diagnostic>) {
        if self.set.contains(name) {
            return;
        }
        let mut d = crate::registry::report(&UnknownReference, at.span, format!("unknown {} `{name}` in {context}", self.what)).with_label(
            format!(
                "no {} has this {}",
                self.what,
                if self.what == "metric" || self.what == "input" {
                    "name"
                } else {
                    "id"
                }
            ),
        );
        d = match suggest::closest(name, self.names.iter().copied()) {
            Some(s) => {
                let d = d.with_help(format!("did you mean `{s}`?"));
                match crate::fixes::tail_span(self.source, at, name) {
                    Some(span) => d.with_fix(Fix::replace(span, s, format!("replace `{name}` with `{s}`"))),
                    None => d,
                }
            }
            None if self.names.is_empty() => d.with_help(format!("the spec defines no {}s", self.what)),
            None => d.with_help(format!("defined {}s: {}", self.what, suggest::list(&self.names, 8))),
        };
        out.push(d);
    }
}

fn ids<'a, T: 'a>(items: &'a [T], id: impl Fn(&'a T) -> &'a Option<Sp<String>>) -> impl Iterator<Item = &'a str> {
    items.iter().filter_map(move |i| id(i).as_ref().map(|s| s.as_str()))
}

/// `prefix.<id>` → `<id>` when the text has that shape.
fn strip<'s>(text: &'s str, prefix: &str) -> Option<&'s str> {
    text.strip_prefix(prefix)?.strip_prefix('.').filter(|rest| !rest.is_empty())
}

fn owner(kind: &str, id: &Option<Sp<String>>) -> String {
    match id {
        Some(id) => format!("{kind} `{}`", id.as_str()),
        None => kind.to_owned(),
    }
}

impl Rule for UnknownReference {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let workers = Names::new(cx.source_text, "worker", ids(&spec.workers, |w| &w.id));
        let evaluators = Names::new(cx.source_text, "evaluator", ids(&spec.evaluators, |e| &e.id));
        let metrics = Names::new(cx.source_text, "metric", ids(&spec.metrics, |m| &m.name));
        let inputs = Names::new(
            cx.source_text,
            "input",
            spec.inputs.iter().flat_map(|i| i.fields.iter().map(|f| f.name.as_str())),
        );
        let worker_or_star = |name: &Sp<String>, context: &str, out: &mut Vec<Diagnostic>| {
            if name.as_str() != "*" {
                workers.require(name, name, context, out);
            }
        };

        for w in &spec.workers {
            let who = owner("worker", &w.id);
            for dep in &w.depends_on {
                workers.require(dep, dep, &format!("`depends_on` of {who}"), out);
            }
            for from in &w.inputs {
                if let Some(id) = strip(from, "workers") {
                    workers.require(id, from, &format!("`inputs` of {who}"), out);
                } else if let (Some(path), Some(_)) = (strip(from, "inputs"), &spec.inputs) {
                    let field = path.split('.').next().unwrap_or(path);
                    inputs.require(field, from, &format!("`inputs` of {who}"), out);
                }
            }
        }
        for e in &spec.evaluators {
            for target in &e.runs_after {
                worker_or_star(target, &format!("`runs_after` of {}", owner("evaluator", &e.id)), out);
            }
        }
        for f in &spec.feedback_channels {
            let who = owner("feedback channel", &f.id);
            if let Some(source) = &f.source {
                if let Some(id) = strip(source, "evaluators") {
                    evaluators.require(id, source, &format!("`source` of {who}"), out);
                } else if let Some(id) = strip(source, "workers") {
                    workers.require(id, source, &format!("`source` of {who}"), out);
                }
            }
            if let Some(destination) = &f.destination {
                if let Some(id) = strip(destination, "workers") {
                    workers.require(id, destination, &format!("`destination` of {who}"), out);
                }
            }
        }
        for m in &spec.metrics {
            if let Some(source) = &m.source {
                let who = format!("`source` of {}", owner("metric", &m.name));
                if let Some(id) = strip(source, "evaluators") {
                    evaluators.require(id, source, &who, out);
                } else if let Some(id) = strip(source, "workers") {
                    workers.require(id, source, &who, out);
                }
            }
        }
        if let Some(t) = &spec.termination {
            for c in &t.success {
                if let Some(metric) = &c.metric {
                    metrics.require(metric, metric, "a success condition", out);
                }
            }
            for c in &t.stall {
                if let Some(metric) = &c.metric {
                    metrics.require(metric, metric, "a stall condition", out);
                }
            }
        }
        if let Some(o) = &spec.optimization_strategy {
            for (target, field) in o
                .refinement_target
                .iter()
                .map(|t| (t, "refinement_target"))
                .chain(o.secondary_targets.iter().map(|t| (t, "secondary_targets")))
            {
                if let Some(id) = strip(target, "workers") {
                    workers.require(id, target, &format!("`optimization_strategy.config.{field}`"), out);
                }
            }
        }
        for s in &spec.safety_constraints {
            for target in &s.applies_to {
                worker_or_star(target, &format!("`applies_to` of {}", owner("safety constraint", &s.id)), out);
            }
        }
        if let Some(memory) = &spec.memory {
            for writer in &memory.allowed_writers {
                worker_or_star(writer, "`memory.write_policy.allowed_writers`", out);
            }
            for (reader, _) in &memory.read_policy {
                worker_or_star(reader, "`memory.read_policy`", out);
            }
        }
    }
}
