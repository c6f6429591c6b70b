//! Hover: what a key means (from the schema), what an id names, and the
//! documentation of the rules whose findings are under the cursor.

use loopc_diagnostics::Span;
use loopc_syntax::{Node, Value};

use crate::convert::RuleDocs;
use crate::document::Analysed;
use crate::schema_docs::{self, Step};
use crate::symbols::{Occurrence, Role};

/// The path of the key whose text holds `offset`, and that key's span.
pub fn key_at(root: &Node, offset: usize) -> Option<(Vec<Step>, Span)> {
    let mut path = Vec::new();
    let span = visit(root, offset, &mut path)?;
    Some((path, span))
}

fn visit(node: &Node, offset: usize, path: &mut Vec<Step>) -> Option<Span> {
    match &node.value {
        Value::Map(map) => {
            for entry in &map.entries {
                path.push(Step::Key(entry.key.clone()));
                if entry.key_span.start <= offset && offset < entry.key_span.end {
                    return Some(entry.key_span);
                }
                if let Some(found) = visit(&entry.value, offset, path) {
                    return Some(found);
                }
                path.pop();
            }
            None
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                if let Some(found) = visit(item, offset, path) {
                    return Some(found);
                }
                path.pop();
            }
            None
        }
        _ => None,
    }
}

/// The field's documentation in Markdown.
pub fn field_markdown(path: &[Step]) -> String {
    let mut out = format!("`{}`", schema_docs::display(path));
    let Some(doc) = schema_docs::field_doc(path) else {
        // A free-form object's member (a safety `config`, an extension's
        // contents) or a key LSS does not have: the schema is silent on both.
        out.push_str("\n\nThe LSS schema does not describe this key.");
        return out;
    };
    if let Some(kind) = &doc.kind {
        out.push_str(&format!(" · {kind}"));
    }
    if let Some(description) = &doc.description {
        out.push_str("\n\n");
        out.push_str(description.trim());
    }
    let mut facts = Vec::new();
    if !doc.values.is_empty() {
        let values: Vec<String> = doc.values.iter().map(|v| format!("`{v}`")).collect();
        facts.push(format!("one of {}", values.join(", ")));
    }
    if let Some(default) = &doc.default {
        facts.push(format!("default `{default}`"));
    }
    if !facts.is_empty() {
        out.push_str("\n\n");
        out.push_str(&capitalise(&facts.join("; ")));
        out.push('.');
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// An id under the cursor: what it names and where that is defined.
fn id_markdown(analysed: &Analysed, at: &Occurrence) -> String {
    let noun = at.kind.noun();
    match (at.role, analysed.symbols.definition(at.kind, &at.name)) {
        (Role::Definition, _) => format!("{noun} `{}`", at.name),
        (Role::Reference, Some(def)) => {
            let line = analysed.index.position(def.span.start).line + 1;
            format!("{noun} `{}`, defined on line {line}", at.name)
        }
        (Role::Reference, None) => format!("{noun} `{}`, which the spec does not define", at.name),
    }
}

/// The hover at `offset`: Markdown, and the span it is about.
pub fn hover(analysed: &Analysed, offset: usize, docs: &RuleDocs) -> Option<(String, Span)> {
    let mut sections = Vec::new();
    let mut span = None;
    if let Some((path, key)) = analysed.root.as_ref().and_then(|root| key_at(root, offset)) {
        sections.push(field_markdown(&path));
        span = Some(key);
    } else if let Some(at) = analysed.symbols.at(offset) {
        sections.push(id_markdown(analysed, at));
        span = Some(at.span);
    }
    for d in analysed.diagnostics_at(offset) {
        let docs = docs.get(d.code).map(|doc| doc.text.trim()).unwrap_or_default();
        sections.push(format!("**{}** ({}): {}\n\n{docs}", d.code, d.rule, d.message));
        span.get_or_insert(d.primary.span);
    }
    Some((sections.join("\n\n---\n\n"), span?))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use loopc_check::Settings;

    use super::*;
    use crate::convert::RuleDoc;

    const SPEC: &str = "loop_name: demo\nworkers:\n  - id: a\n    depends_on: [nobody]\n";

    #[test]
    fn the_key_path_under_the_cursor() {
        let parsed = loopc_syntax::load("x.yaml", SPEC.as_bytes(), &loopc_syntax::Limits::default());
        let root = parsed.root.unwrap();
        let at = SPEC.find("depends_on").unwrap() + 3;
        let (path, span) = key_at(&root, at).unwrap();
        assert_eq!(schema_docs::display(&path), "workers[].depends_on");
        assert_eq!(&SPEC[span.start..span.end], "depends_on");
        assert_eq!(key_at(&root, SPEC.find("nobody").unwrap()), None, "a value is no key");
    }

    #[test]
    fn hover_shows_the_field_and_the_rule_of_a_finding() {
        let analysed = Analysed::new(Path::new("x.yaml"), SPEC, &Settings::default());
        let mut docs = RuleDocs::default();
        docs.insert(
            "L201",
            RuleDoc {
                text: "L201 unknown-reference (error by default)".into(),
                url: None,
            },
        );
        let (text, _) = hover(&analysed, SPEC.find("loop_name").unwrap(), &docs).unwrap();
        assert!(text.starts_with("`loop_name` · string"), "{text}");
        let (text, span) = hover(&analysed, SPEC.find("nobody").unwrap() + 1, &docs).unwrap();
        assert!(text.contains("worker `nobody`, which the spec does not define"), "{text}");
        assert!(text.contains("L201 unknown-reference (error by default)"), "{text}");
        assert_eq!(&SPEC[span.start..span.end], "nobody");
        assert!(hover(&analysed, SPEC.find("demo").unwrap(), &docs).is_none());
        let free_form = Analysed::new(Path::new("x.yaml"), "loop_name: demo\nx_team: {owner: me}\n", &Settings::default());
        let (text, _) = hover(&free_form, "loop_name: demo\nx_team: {".len(), &docs).unwrap();
        assert_eq!(text, "`x_team.owner`\n\nThe LSS schema does not describe this key.");
    }
}
