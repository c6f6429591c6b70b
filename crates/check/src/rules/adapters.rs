//! Composition adapters name real things in the children they connect.

use loopc_diagnostics::Diagnostic;
use loopc_ir::Sp;

use super::Rule;
use crate::children::{ChildInterface, ChildOutcome};
use crate::registry::declare_rule;
use crate::suggest::closest;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Resolves each end of a composition adapter written as
    /// `children.<id>.outputs.<name>` or `children.<id>.inputs.<field>`:
    /// `<id>` must be a child of the composition, an `outputs.<name>` a
    /// worker id (or a worker's `outputs.name`) of that child's spec, and an
    /// `inputs.<field>` a field of its `inputs.schema`.
    ///
    /// An end in another form is left alone, and so is a child whose spec
    /// is missing or invalid (L301, L302 report those).
    ///
    /// ## Why
    /// An adapter is how one loop's result reaches the next loop's input.
    /// One that names a child, worker or input that does not exist hands
    /// over nothing, and the next stage starts without what it needs.
    ///
    /// ## Example
    /// ```yaml
    /// composition:
    ///   type: sequential
    ///   children: [{ id: research, ref: research.yaml }, { id: write, ref: write.yaml }]
    ///   adapters:
    ///     - from: children.research.outputs.synthesiser   # L307: research has `synthesizer`
    ///       to: children.write.inputs.task
    /// ```
    pub struct AdapterEndpoint { code: "L307", name: "adapter-endpoint", group: "composition", severity: Error, summary: "A composition adapter names a child, output or input that does not exist." }
}

/// One end of an adapter, parsed: `children.<child>.<side>.<name>`.
struct End<'a> {
    child: &'a str,
    side: &'a str,
    name: &'a str,
}

fn parse(text: &str) -> Option<End<'_>> {
    let rest = text.strip_prefix("children.")?;
    let mut parts = rest.splitn(3, '.');
    let child = parts.next()?;
    let side = parts.next().unwrap_or("");
    let name = parts.next().unwrap_or("");
    Some(End { child, side, name })
}

impl Rule for AdapterEndpoint {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = &cx.spec.composition else { return };
        let children: Vec<(&str, Option<&Sp<String>>)> = c
            .children
            .iter()
            .filter_map(|child| Some((child.id.as_ref()?.as_str(), child.reference.as_ref())))
            .collect();
        let ids: Vec<&str> = children.iter().map(|(id, _)| *id).collect();
        for end in c.adapters.iter().flat_map(|a| [&a.from, &a.to]).flatten() {
            let Some(parsed) = parse(end.as_str()) else { continue };
            let Some((_, reference)) = children.iter().find(|(id, _)| *id == parsed.child) else {
                let mut d = cx
                    .report(
                        &AdapterEndpoint,
                        end.span,
                        format!("the composition has no child `{}`", parsed.child),
                    )
                    .with_label("no such child");
                d = d.with_help(match closest(parsed.child, ids.iter().copied()) {
                    Some(near) => format!("did you mean `children.{near}`?"),
                    None => format!("children: {}", ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")),
                });
                out.push(d);
                continue;
            };
            let Some(reference) = reference else { continue };
            let ChildOutcome::Valid { interface, .. } = cx.children.resolve(cx.path, reference) else {
                continue;
            };
            if let Some(d) = unknown_member(cx, end, &parsed, &interface) {
                out.push(d);
            }
        }
    }
}

/// The finding for an `outputs.<name>` or `inputs.<field>` that the child
/// does not have (other sides are not judged).
fn unknown_member(cx: &Context<'_>, end: &Sp<String>, parsed: &End<'_>, interface: &ChildInterface) -> Option<Diagnostic> {
    let (known, what, listed) = match parsed.side {
        "outputs" => (&interface.outputs, "worker or output", "workers and outputs"),
        "inputs" => (&interface.inputs, "input", "inputs"),
        _ => return None,
    };
    if parsed.name.is_empty() || known.iter().any(|k| k == parsed.name) {
        return None;
    }
    let help = match closest(parsed.name, known.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `children.{}.{}.{near}`?", parsed.child, parsed.side),
        None if known.is_empty() => format!("child `{}` declares no {listed}", parsed.child),
        None => format!(
            "the {listed} of child `{}`: {}",
            parsed.child,
            known.iter().take(8).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    Some(
        cx.report(
            &AdapterEndpoint,
            end.span,
            format!("child `{}` has no {what} `{}`", parsed.child, parsed.name),
        )
        .with_label(format!("not in the spec of `{}`", parsed.child))
        .with_help(help),
    )
}
