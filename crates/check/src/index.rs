//! Lookups over one spec that several rules need, built once per file so
//! that the rules stay linear in the size of the spec (a spec may have
//! tens of thousands of workers).

use std::collections::{HashMap, HashSet};

use loopc_ir::{Evaluator, Sp, Spec};

/// How an unchecked worker is reported (see [`SpecIndex::unchecked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unchecked {
    /// Its output reaches the loop's result with no check (L411).
    Maker,
    /// Nothing takes its output (L419).
    Unused,
}

pub struct SpecIndex<'a> {
    /// Worker id → evaluators that name it in `runs_after`.
    checkers: HashMap<&'a str, Vec<&'a Evaluator>>,
    /// Evaluators with `runs_after: ["*"]`.
    star: Vec<&'a Evaluator>,
    /// Worker id → the workers it reads or runs after (`depends_on`, `workers.X` inputs).
    producers: HashMap<&'a str, Vec<&'a str>>,
    /// Workers something reads or runs after.
    consumed: HashSet<&'a str>,
    /// `evaluators.X` / `workers.X` named as a feedback or metric source.
    sources: HashSet<&'a str>,
}

impl<'a> SpecIndex<'a> {
    pub fn new(spec: &'a Spec) -> Self {
        let mut checkers: HashMap<&str, Vec<&Evaluator>> = HashMap::new();
        let mut star = Vec::new();
        for e in &spec.evaluators {
            for target in &e.runs_after {
                if target.as_str() == "*" {
                    star.push(e);
                } else {
                    checkers.entry(target.as_str()).or_default().push(e);
                }
            }
        }
        let mut producers: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut consumed = HashSet::new();
        for w in &spec.workers {
            let Some(id) = w.id.as_ref().map(|i| i.as_str()) else { continue };
            let reads = w
                .depends_on
                .iter()
                .map(|d| d.as_str())
                .chain(w.inputs.iter().filter_map(|i| i.strip_prefix("workers.")));
            for producer in reads {
                producers.entry(id).or_default().push(producer);
                consumed.insert(producer);
            }
        }
        let sources = spec
            .feedback_channels
            .iter()
            .filter_map(|f| f.source.as_deref())
            .chain(spec.metrics.iter().filter_map(|m| m.source.as_deref()))
            .map(String::as_str)
            .collect();
        SpecIndex {
            checkers,
            star,
            producers,
            consumed,
            sources,
        }
    }

    /// Evaluators that check `worker` (by id or `*`).
    pub fn checks(&self, worker: &str) -> impl Iterator<Item = &'a Evaluator> + '_ {
        self.checkers.get(worker).into_iter().flatten().chain(self.star.iter()).copied()
    }

    pub fn is_checked(&self, worker: &str) -> bool {
        !self.star.is_empty() || self.checkers.contains_key(worker)
    }

    /// Workers that are checked, or whose output flows into a checked
    /// worker: a walk from the checked workers back along what they read.
    pub fn covered(&self, spec: &'a Spec) -> HashSet<&'a str> {
        let mut covered: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = spec
            .workers
            .iter()
            .filter_map(|w| w.id.as_ref().map(|i| i.as_str()))
            .filter(|id| self.is_checked(id))
            .collect();
        while let Some(w) = stack.pop() {
            if covered.insert(w) {
                stack.extend(self.producers.get(w).into_iter().flatten().copied());
            }
        }
        covered
    }

    /// Workers whose output the loop's result does not carry: no worker
    /// reads them and no evaluator checks them, and they are the source of
    /// a feedback channel or a metric (a critic or reflector advising
    /// another worker, or a measurement).
    fn is_advisor(&self, worker: &str) -> bool {
        !self.is_consumed(worker) && !self.is_checked(worker) && self.is_source(&format!("workers.{worker}"))
    }

    /// The finding, if any, for each worker that no evaluator checks, one
    /// per worker: [`Unchecked::Unused`] for a worker apart from the rest
    /// while the loop's result is checked elsewhere, [`Unchecked::Maker`]
    /// for an output that reaches the result (or is the result) unchecked.
    ///
    /// The result is what the sinks of the worker graph produce, leaving
    /// advisors (see [`Self::is_advisor`]) aside. The end of a pipeline (a
    /// sink that reads other workers) is its product even when nothing
    /// takes it, so an unchecked one is a maker (L411). A worker that
    /// reads no worker and that nothing takes stands apart from the graph:
    /// when some sink is checked, that is the product the evaluators judge
    /// and the worker is dead weight (L419); when none is, it is the
    /// product and ships unchecked (L411).
    pub fn unchecked(&self, spec: &'a Spec) -> Vec<(&'a Sp<String>, Unchecked)> {
        let covered = self.covered(spec);
        let ids = || spec.workers.iter().filter_map(|w| w.id.as_ref());
        let product_consumed: HashSet<&str> = self
            .producers
            .iter()
            .filter(|(consumer, _)| !self.is_advisor(consumer))
            .flat_map(|(_, producers)| producers.iter().copied())
            .collect();
        let is_sink = |id: &str| !self.is_advisor(id) && !product_consumed.contains(id);
        let result_checked = ids().any(|id| is_sink(id.as_str()) && self.is_checked(id.as_str()));
        ids()
            .filter(|id| !covered.contains(id.as_str()) && !self.is_advisor(id.as_str()))
            .map(|id| {
                let apart = !self.producers.contains_key(id.as_str());
                let unused = apart && !self.is_consumed(id.as_str()) && !self.is_source(&format!("workers.{}", id.as_str()));
                (
                    id,
                    if unused && result_checked {
                        Unchecked::Unused
                    } else {
                        Unchecked::Maker
                    },
                )
            })
            .collect()
    }

    pub fn is_consumed(&self, worker: &str) -> bool {
        self.consumed.contains(worker)
    }

    /// Whether `path` (`workers.x`, `evaluators.y`) is a feedback or metric source.
    pub fn is_source(&self, path: &str) -> bool {
        self.sources.contains(path)
    }
}
