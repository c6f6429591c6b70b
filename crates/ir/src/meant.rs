//! References read as their author meant them, when the schema has already
//! said what is wrong with how they are written.
//!
//! `source: tests` (the prefix missing) or `from: workers.planner.outputs`
//! (a path into the worker) fail the schema's patterns, and the schema
//! layer reports that (L101). Read literally, the same text would also be
//! an unknown worker, a channel from nowhere and an evaluator nothing uses:
//! three more findings about one mistake, two of them false. So a
//! reference that fails its pattern but names exactly one worker or
//! evaluator is read as that reference here, and the rules see what the
//! spec meant. The span stays the written text's.

use std::collections::HashSet;

use crate::model::Spec;
use crate::Sp;

/// The ids a reference may name (owned: the rewrite borrows the spec mutably).
struct Ids {
    workers: HashSet<String>,
    evaluators: HashSet<String>,
}

impl Ids {
    fn of(spec: &Spec) -> Self {
        fn ids<'s>(items: impl Iterator<Item = &'s Option<Sp<String>>>) -> HashSet<String> {
            items.flatten().map(|i| i.value.clone()).collect()
        }
        Ids {
            workers: ids(spec.workers.iter().map(|w| &w.id)),
            evaluators: ids(spec.evaluators.iter().map(|e| &e.id)),
        }
    }

    /// `kind.id` for a path `kind.id.more…` whose `id` is one of `kind`'s.
    fn trimmed(&self, text: &str, kinds: &[&str]) -> Option<String> {
        let (kind, rest) = text.split_once('.')?;
        let (id, _) = rest.split_once('.')?;
        kinds.contains(&kind).then_some(())?;
        self.has(kind, id).then(|| format!("{kind}.{id}"))
    }

    /// `kind.id` for a bare `id` that exactly one of `kinds` has.
    fn prefixed(&self, text: &str, kinds: &[&str]) -> Option<String> {
        if text.contains('.') {
            return None;
        }
        let mut owners = kinds.iter().filter(|kind| self.has(kind, text));
        match (owners.next(), owners.next()) {
            (Some(kind), None) => Some(format!("{kind}.{text}")),
            _ => None,
        }
    }

    fn has(&self, kind: &str, id: &str) -> bool {
        match kind {
            "workers" => self.workers.contains(id),
            "evaluators" => self.evaluators.contains(id),
            _ => false,
        }
    }

    fn meant(&self, text: &str, kinds: &[&str]) -> Option<String> {
        self.trimmed(text, kinds).or_else(|| self.prefixed(text, kinds))
    }
}

fn reread(reference: &mut Sp<String>, ids: &Ids, kinds: &[&str]) {
    if let Some(meant) = ids.meant(reference.as_str(), kinds) {
        reference.value = meant;
    }
}

/// Rewrite the references of `spec` that fail their pattern but say
/// clearly which worker or evaluator they mean (see the module docs).
pub(crate) fn read_references(spec: &mut Spec) {
    let ids = Ids::of(spec);
    const SOURCES: &[&str] = &["evaluators", "workers"];
    for w in &mut spec.workers {
        for from in &mut w.inputs {
            if from.starts_with("workers.") {
                reread(from, &ids, &["workers"]);
            }
        }
    }
    for f in &mut spec.feedback_channels {
        if let Some(source) = &mut f.source {
            reread(source, &ids, SOURCES);
        }
        if let Some(destination) = &mut f.destination {
            if destination.starts_with("workers.") {
                reread(destination, &ids, &["workers"]);
            }
        }
    }
    for m in &mut spec.metrics {
        if let Some(source) = &mut m.source {
            reread(source, &ids, SOURCES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            workers: ["planner", "both"].map(String::from).into(),
            evaluators: ["tests", "both"].map(String::from).into(),
        }
    }

    #[test]
    fn a_path_into_a_known_worker_is_the_worker() {
        assert_eq!(
            ids().meant("workers.planner.outputs", &["workers"]).as_deref(),
            Some("workers.planner")
        );
        assert_eq!(ids().meant("workers.nobody.outputs", &["workers"]), None);
        assert_eq!(ids().meant("telemetry.cost.usd", &["workers"]), None);
    }

    #[test]
    fn a_bare_id_gets_its_one_prefix() {
        assert_eq!(ids().meant("tests", SOURCES_FOR_TEST).as_deref(), Some("evaluators.tests"));
        assert_eq!(ids().meant("planner", SOURCES_FOR_TEST).as_deref(), Some("workers.planner"));
        // Ambiguous, unknown or already well-formed: left as written.
        assert_eq!(ids().meant("both", SOURCES_FOR_TEST), None);
        assert_eq!(ids().meant("nobody", SOURCES_FOR_TEST), None);
        assert_eq!(ids().meant("evaluators.tests", SOURCES_FOR_TEST), None);
    }

    const SOURCES_FOR_TEST: &[&str] = &["evaluators", "workers"];
}
