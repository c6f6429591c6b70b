//! LSS 1.1 `composition` → the plan's [`CompositionPlan`]: roles checked
//! against the composition's type, adapters parsed into typed value
//! references, triggers compiled, each child compiled into its own plan.

use loopc_ir::{self as ir, when};
use loopc_plan::*;

use crate::lower::{condition, text};

/// Compiles a child's spec (`ref` as written) into its plan.
pub(crate) type LoadChild<'a> = dyn FnMut(&str) -> Result<Plan, String> + 'a;

pub(crate) fn composition(
    c: &ir::Composition,
    worker_ids: &[String],
    load: &mut LoadChild<'_>,
    errors: &mut Vec<String>,
) -> Option<CompositionPlan> {
    let kind = match c.kind.as_ref().map(|k| &k.value) {
        Some(ir::CompositionKind::Sequential) => CompositionKind::Sequential,
        Some(ir::CompositionKind::Parallel) => CompositionKind::Parallel,
        Some(ir::CompositionKind::Nested) => CompositionKind::Nested,
        Some(ir::CompositionKind::Other(other)) => {
            errors.push(format!("composition type `{other}` is not one loopc knows"));
            return None;
        }
        None => {
            errors.push("the composition has no type".into());
            return None;
        }
    };
    let mut children = Vec::new();
    for child in &c.children {
        let Some(id) = text(&child.id) else {
            errors.push("a composition child has no id".into());
            continue;
        };
        let role = match child.role() {
            "branch" => ChildRole::Branch,
            "outer" => ChildRole::Outer,
            "inner" => ChildRole::Inner,
            _ => ChildRole::Stage,
        };
        let Some(reference) = text(&child.reference) else {
            errors.push(format!("composition child `{id}` has no ref"));
            continue;
        };
        let trigger = match &child.trigger {
            None => None,
            Some(t) => match when::parse(t) {
                Ok(e) => Some(condition(&e)),
                Err(e) => {
                    errors.push(format!("composition child `{id}`: `trigger` does not parse: {}", e.message));
                    None
                }
            },
        };
        match load(&reference) {
            Ok(plan) => children.push(ChildPlan {
                id,
                role,
                reference,
                trigger,
                trigger_text: text(&child.trigger),
                plan: Box::new(plan),
            }),
            Err(e) => errors.push(format!("composition child `{id}` ({reference}): {e}")),
        }
    }
    if children.len() != c.children.len() {
        // What names a child that did not compile would only repeat that error.
        return None;
    }
    check_roles(kind, &children, errors);
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    let adapters = c.adapters.iter().filter_map(|a| adapter(a, &children, errors)).collect();
    let merge = c.merge.as_ref().and_then(|m| merge(m, worker_ids, errors));
    if kind == CompositionKind::Parallel && merge.is_none() {
        errors.push("a parallel composition needs `merge.strategy`".into());
    }
    if ids.len() != c.children.len() {
        return None;
    }
    Some(CompositionPlan {
        kind,
        children,
        adapters,
        merge,
    })
}

/// Roles the type gives meaning to: nested has one outer child and inner
/// ones; a trigger belongs to an inner child.
fn check_roles(kind: CompositionKind, children: &[ChildPlan], errors: &mut Vec<String>) {
    if kind == CompositionKind::Nested {
        let outer = children.iter().filter(|c| c.role == ChildRole::Outer).count();
        if outer != 1 {
            errors.push(format!(
                "a nested composition needs exactly one child with role `outer` (it has {outer})"
            ));
        }
        for c in children.iter().filter(|c| !matches!(c.role, ChildRole::Outer | ChildRole::Inner)) {
            errors.push(format!(
                "composition child `{}`: a nested composition's children are `outer` or `inner`, not `{}`",
                c.id,
                role_word(c.role)
            ));
        }
    } else {
        for c in children.iter().filter(|c| matches!(c.role, ChildRole::Outer | ChildRole::Inner)) {
            errors.push(format!(
                "composition child `{}`: role `{}` belongs to a nested composition",
                c.id,
                role_word(c.role)
            ));
        }
    }
    for c in children.iter().filter(|c| c.trigger.is_some() && c.role != ChildRole::Inner) {
        errors.push(format!(
            "composition child `{}`: only an inner child of a nested composition has a trigger",
            c.id
        ));
    }
}

fn role_word(role: ChildRole) -> &'static str {
    match role {
        ChildRole::Stage => "stage",
        ChildRole::Branch => "branch",
        ChildRole::Outer => "outer",
        ChildRole::Inner => "inner",
    }
}

/// `from`: `children.<c>.outputs.<name>`, `children.<c>.evaluators.<id>[.<field>]`
/// or `inputs.<name>`; `to`: `children.<c>.inputs.<name>`.
fn adapter(a: &ir::Adapter, children: &[ChildPlan], errors: &mut Vec<String>) -> Option<AdapterPlan> {
    let from_text = text(&a.from)?;
    let to_text = text(&a.to)?;
    let known = |id: &str| children.iter().find(|c| c.id == id);
    let parts: Vec<&str> = from_text.split('.').collect();
    let from = match parts.as_slice() {
        ["inputs", name] => ValueRef::Input { name: (*name).to_owned() },
        ["children", child, "outputs", name] => ValueRef::Output {
            child: (*child).to_owned(),
            name: (*name).to_owned(),
        },
        ["children", child, "evaluators", evaluator, rest @ ..] if rest.len() <= 1 => ValueRef::Verdict {
            child: (*child).to_owned(),
            evaluator: (*evaluator).to_owned(),
            field: rest.first().map(|f| (*f).to_owned()),
        },
        _ => {
            errors.push(format!(
                "adapter from `{from_text}`: loopc reads children.<id>.outputs.<name>, children.<id>.evaluators.<id>[.<field>] or inputs.<name>"
            ));
            return None;
        }
    };
    let mut from = from;
    if let Some(child) = from.child().map(str::to_owned) {
        match known(&child) {
            None => errors.push(format!("adapter from `{from_text}`: no child `{child}`")),
            Some(c) => {
                if let ValueRef::Output { name, .. } = &mut from {
                    // A worker's output is named by its `outputs.name`; specs in the
                    // field also name it by the worker's id, which is as unambiguous.
                    if !c.plan.workers.iter().any(|w| &w.output_name == name) {
                        if let Some(w) = c.plan.workers.iter().find(|w| &w.id == name) {
                            *name = w.output_name.clone();
                        }
                    }
                    if !c.plan.workers.iter().any(|w| &w.output_name == name) {
                        errors.push(format!(
                            "adapter from `{from_text}`: no worker of `{child}` ({}) has the output `{name}`",
                            c.reference
                        ));
                    }
                }
                if let ValueRef::Verdict { evaluator, .. } = &from {
                    if !c.plan.evaluators.iter().any(|e| &e.id == evaluator) {
                        errors.push(format!(
                            "adapter from `{from_text}`: `{child}` ({}) has no evaluator `{evaluator}`",
                            c.reference
                        ));
                    }
                }
            }
        }
    }
    let (to_child, to_input) = match to_text.split('.').collect::<Vec<_>>().as_slice() {
        ["children", child, "inputs", name] => ((*child).to_owned(), (*name).to_owned()),
        _ => {
            errors.push(format!("adapter to `{to_text}`: loopc writes children.<id>.inputs.<name>"));
            return None;
        }
    };
    match known(&to_child) {
        None => errors.push(format!("adapter to `{to_text}`: no child `{to_child}`")),
        Some(c) if !c.plan.inputs.iter().any(|i| i.name == to_input) => errors.push(format!(
            "adapter to `{to_text}`: `{to_child}` ({}) declares no input `{to_input}`",
            c.reference
        )),
        Some(_) => {}
    }
    Some(AdapterPlan {
        from,
        to_child,
        to_input,
        transform: text(&a.transform),
        from_text,
    })
}

fn merge(m: &ir::Merge, worker_ids: &[String], errors: &mut Vec<String>) -> Option<MergePlan> {
    let strategy = match m.strategy.as_deref().map(String::as_str) {
        Some("all_pass") => MergeStrategy::AllPass,
        Some("first_pass") => MergeStrategy::FirstPass,
        Some("vote") => MergeStrategy::Vote,
        Some("synthesize") => MergeStrategy::Synthesize,
        Some(other) => {
            errors.push(format!("merge strategy `{other}` is not one loopc knows"));
            return None;
        }
        None => return None,
    };
    let synthesizer = match text(&m.synthesizer) {
        None => None,
        Some(s) => {
            let id = s.strip_prefix("workers.").unwrap_or(&s).to_owned();
            if !worker_ids.contains(&id) {
                errors.push(format!("merge synthesizer `{s}` is not a worker of the composing loop"));
            }
            Some(id)
        }
    };
    Some(MergePlan {
        strategy,
        min_branches_pass: m.min_branches_pass.as_ref().map(|n| n.value.max(1) as u32),
        synthesizer,
    })
}
