//! LSS 1.1 composition: children that must exist and be valid, unique child
//! ids, and the structural rules of each composition type.

use loopc_diagnostics::{Diagnostic, Span};
use loopc_ir::{Composition, CompositionKind};

use super::duplicates::duplicates;
use super::Rule;
use crate::children::{shown, ChildOutcome};
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Resolves each composition child's `ref` and reports one that does not
    /// exist. A `ref` is looked up relative to the composing file first, then
    /// relative to each enclosing directory up to the repository root (the
    /// nearest directory with `.git` or `loopc.toml`), since the standard
    /// allows paths "relative to repo root or composition file".
    ///
    /// ## Example
    /// ```yaml
    /// composition:
    ///   type: sequential
    ///   children:
    ///     - { id: research, ref: ./research-agnt.yaml }   # L301: no such file
    /// ```
    pub struct ChildRefMissing { code: "L301", name: "child-ref-missing", group: "composition", severity: Error, summary: "A composition child's `ref` names a file that does not exist (or a directory)." }
}

declare_rule! {
    /// ## What it does
    /// Checks each composition child's spec as `loopc check` would and
    /// reports a child with errors (or that cannot be read, or that composes
    /// its parent again), quoting the child's first error.
    ///
    /// ## Why
    /// A composition is only as valid as its children; the runtime would
    /// fail when it reaches the broken stage.
    pub struct ChildRefInvalid { code: "L302", name: "child-ref-invalid", group: "composition", severity: Error, summary: "A composition child's `ref` is not itself a valid LSS spec." }
}

declare_rule! {
    /// ## What it does
    /// Reports two composition children with the same `id`.
    ///
    /// ## Why
    /// Adapters and triggers address children as `children.<id>`; a repeated
    /// id makes them ambiguous.
    pub struct DuplicateChildId { code: "L303", name: "duplicate-child-id", group: "composition", severity: Error, summary: "Two composition children share an id." }
}

declare_rule! {
    /// ## What it does
    /// A `nested` composition needs exactly one child with `role: outer` and
    /// at least one with `role: inner` (a missing adapter is L305).
    ///
    /// ## Why
    /// The outer loop drives the inner loops: without exactly one outer
    /// child there is no loop to nest in, and without an inner child nothing
    /// is nested (LSS 1.1 composition rules).
    ///
    /// ## Example
    /// ```yaml
    /// composition:
    ///   type: nested
    ///   children:
    ///     - { id: plan, ref: plan.yaml, role: outer }
    ///     - { id: code, ref: code.yaml, role: outer }   # L304: two outers, no inner
    /// ```
    pub struct NestedStructure { code: "L304", name: "nested-structure", group: "composition", severity: Error, summary: "A nested composition lacks its one outer child or an inner child." }
}

declare_rule! {
    /// ## What it does
    /// Warns about adapter gaps: a `sequential` composition of N children
    /// with fewer than N−1 adapters (one for each hand-off between
    /// consecutive stages), or a `nested` one with no adapter from the
    /// outer loop to an inner one.
    ///
    /// ## Why
    /// Without an adapter the next stage (or the inner loop) starts from
    /// nothing its predecessor produced. LSS 1.1 has validators *warn* on
    /// adapter gaps, so this is a warning; `loopc check --strict` (or
    /// `adapter-gaps = "deny"` under `[rules]` in `loopc.toml`) makes it an
    /// error, as a strict LSS 1.1 validator would.
    ///
    /// ## Example
    /// ```yaml
    /// composition:
    ///   type: sequential
    ///   children: [{ id: a, ref: a.yaml }, { id: b, ref: b.yaml }, { id: c, ref: c.yaml }]
    ///   adapters:
    ///     - { from: children.a.outputs.x, to: children.b.inputs.task }   # L305: 1 of 2
    /// ```
    pub struct AdapterGaps { code: "L305", name: "adapter-gaps", group: "composition", severity: Warning, summary: "A sequential composition has fewer than children − 1 adapters, or a nested one none." }
}

declare_rule! {
    /// ## What it does
    /// A `parallel` composition needs at least two children with
    /// `role: branch`, and `merge.min_branches_pass` may not exceed the
    /// number of branches. (`merge` itself is required by the schema, L102.)
    ///
    /// ## Why
    /// With fewer than two branches nothing runs in parallel; a pass quorum
    /// larger than the branch count can never be met.
    pub struct ParallelBranches { code: "L306", name: "parallel-branches", group: "composition", severity: Error, summary: "A parallel composition has fewer than two branches, or a pass quorum above the branch count." }
}

fn composition<'a>(cx: &'a Context<'_>) -> Option<&'a Composition> {
    cx.spec.composition.as_ref()
}

/// Where to point for a problem with the composition as a whole: its `type`.
fn type_span(c: &Composition) -> Span {
    c.kind.as_ref().map_or(c.span, |k| k.span)
}

/// Each child with a `ref`: its name for messages, the reference, and what
/// resolving it found (resolutions are cached, so both rules below share one).
fn resolved_children<'a>(cx: &'a Context<'_>) -> impl Iterator<Item = (String, &'a loopc_ir::Sp<String>, ChildOutcome)> + 'a {
    composition(cx).into_iter().flat_map(|c| &c.children).filter_map(move |child| {
        let reference = child.reference.as_ref()?;
        let name = child
            .id
            .as_ref()
            .map_or_else(|| "child".to_owned(), |id| format!("child `{}`", id.as_str()));
        Some((name, reference, cx.children.resolve(cx.path, reference)))
    })
}

/// A `ref` that names a directory: say so, and name the specs in it.
fn directory_ref(cx: &Context<'_>, name: &str, reference: &loopc_ir::Sp<String>, dir: &std::path::Path) -> Diagnostic {
    let mut specs: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json"))
        .collect();
    specs.sort();
    let help = match specs.as_slice() {
        [] => format!("name a spec file; {} holds no .yaml, .yml or .json file", shown(dir)),
        some => format!(
            "name a spec file in it: {}",
            some.iter().take(5).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    cx.report(
        &ChildRefMissing,
        reference.span,
        format!("{name}: `{}` is a directory, not a spec file", reference.as_str()),
    )
    .with_label("a directory")
    .with_help(help)
}

impl Rule for ChildRefMissing {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for (name, reference, outcome) in resolved_children(cx) {
            let ChildOutcome::Missing { tried } = outcome else { continue };
            if let Some(dir) = tried.iter().find(|p| p.is_dir()) {
                out.push(directory_ref(cx, &name, reference, dir));
                continue;
            }
            out.push(
                cx.report(
                    &ChildRefMissing,
                    reference.span,
                    format!("{name}: `{}` does not exist", reference.as_str()),
                )
                .with_label("no such file")
                .with_help(match tried.as_slice() {
                    [only] => format!("looked for {}", shown(only)),
                    [first, .., last] => {
                        format!(
                            "looked for {}, and in {} enclosing directories up to {}",
                            shown(first),
                            tried.len() - 1,
                            shown(last)
                        )
                    }
                    [] => "the reference is empty".to_owned(),
                }),
            );
        }
    }
}

impl Rule for ChildRefInvalid {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for (name, reference, outcome) in resolved_children(cx) {
            match outcome {
                ChildOutcome::Invalid { path, errors, first } => out.push(
                    cx.report(
                        &ChildRefInvalid,
                        reference.span,
                        format!(
                            "{name}: `{}` is not a valid spec ({errors} error{})",
                            reference.as_str(),
                            if errors == 1 { "" } else { "s" }
                        ),
                    )
                    .with_label("invalid child spec")
                    .with_help(format!("first error: {first}; run `loopc check {}`", shown(&path))),
                ),
                ChildOutcome::Cycle { path } => out.push(
                    cx.report(
                        &ChildRefInvalid,
                        reference.span,
                        format!("{name}: `{}` composes this spec again (a composition cycle)", reference.as_str()),
                    )
                    .with_label("cycle")
                    .with_help(format!("{} is already being composed above this child", shown(&path))),
                ),
                ChildOutcome::Valid { .. } | ChildOutcome::Missing { .. } => {}
            }
        }
    }
}

impl Rule for DuplicateChildId {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = composition(cx) else { return };
        for (first, repeat) in duplicates(c.children.iter().filter_map(|ch| ch.id.as_ref())) {
            out.push(
                cx.report(
                    &DuplicateChildId,
                    repeat.span,
                    format!("duplicate composition child id `{}`", repeat.as_str()),
                )
                .with_label("defined again here")
                .with_secondary(first.span, "first defined here"),
            );
        }
    }
}

fn count_role(c: &Composition, role: &str) -> usize {
    c.children.iter().filter(|ch| ch.role() == role).count()
}

impl Rule for NestedStructure {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = composition(cx) else { return };
        if !matches!(c.kind.as_deref(), Some(CompositionKind::Nested)) {
            return;
        }
        let at = type_span(c);
        let error = |message: String, label: &str, help: &str| {
            cx.report(&NestedStructure, at, message)
                .with_label(label.to_owned())
                .with_help(help.to_owned())
        };
        let outer = count_role(c, "outer");
        if outer != 1 {
            out.push(error(
                format!("a nested composition needs exactly one `outer` child, found {outer}"),
                "nested composition",
                "mark the driving loop with `role: outer`",
            ));
        }
        if count_role(c, "inner") == 0 {
            out.push(error(
                "a nested composition needs at least one `inner` child".to_owned(),
                "nested composition",
                "mark the loops run inside the outer one with `role: inner`",
            ));
        }
    }
}

impl Rule for AdapterGaps {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = composition(cx) else { return };
        let gap = |message: String, label: &str, help: &str| {
            cx.report(&AdapterGaps, type_span(c), message)
                .with_label(label.to_owned())
                .with_help(help.to_owned())
        };
        match c.kind.as_deref() {
            Some(CompositionKind::Sequential) if !c.children.is_empty() => {
                let needed = c.children.len() - 1;
                if c.adapters.len() < needed {
                    out.push(gap(
                        format!(
                            "a sequential composition of {} children needs at least {needed} adapter{}, found {}",
                            c.children.len(),
                            if needed == 1 { "" } else { "s" },
                            c.adapters.len()
                        ),
                        "sequential composition",
                        "add one adapter per hand-off: `{from: children.<stage>.outputs.<x>, to: children.<next>.inputs.<y>}`",
                    ));
                }
            }
            Some(CompositionKind::Nested) if c.adapters.is_empty() => out.push(gap(
                "a nested composition needs at least one adapter".to_owned(),
                "no adapter connects outer and inner",
                "add `adapters: [{from: children.<outer>.outputs.<x>, to: children.<inner>.inputs.<y>}]`",
            )),
            _ => {}
        }
    }
}

impl Rule for ParallelBranches {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = composition(cx) else { return };
        if !matches!(c.kind.as_deref(), Some(CompositionKind::Parallel)) {
            return;
        }
        let branches = count_role(c, "branch");
        if branches < 2 {
            out.push(
                cx.report(
                    &ParallelBranches,
                    type_span(c),
                    format!("a parallel composition needs at least two `branch` children, found {branches}"),
                )
                .with_label("parallel composition")
                .with_help("mark each parallel child with `role: branch`"),
            );
        }
        if let Some(quorum) = c.merge.as_ref().and_then(|m| m.min_branches_pass.as_ref()) {
            if quorum.value > branches as i64 {
                out.push(
                    cx.report(
                        &ParallelBranches,
                        quorum.span,
                        format!(
                            "`min_branches_pass` is {} but there {} only {branches} branch{}",
                            quorum.value,
                            if branches == 1 { "is" } else { "are" },
                            if branches == 1 { "" } else { "es" }
                        ),
                    )
                    .with_label("can never be met")
                    .with_help(format!("use a value from 1 to {}", branches.max(1))),
                );
            }
        }
    }
}
