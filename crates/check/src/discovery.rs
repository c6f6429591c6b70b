//! Which YAML and JSON documents are LSS specs.
//!
//! A repository holds many YAML and JSON files that are something else:
//! CI workflows, compose files, Kubernetes manifests, package manifests,
//! JSON Schemas (the LSS schema among them), loopc's own plans and traces.
//! A document is taken for an LSS spec when its root is a mapping with
//! `loop_name`, or with at least two of the LSS top-level keys; anything
//! else is skipped where loopc looks for specs by itself (a directory
//! walk, the pre-commit hooks' `--only-lss`), and still checked strictly
//! when a path is named on the command line.

use std::path::Path;

use loopc_syntax::Node;

/// The top-level keys of LSS 1.0, and LSS 1.1's `composition`.
pub const LSS_TOP_LEVEL_KEYS: &[&str] = &[
    "loop_name",
    "version",
    "objective",
    "inputs",
    "memory",
    "workers",
    "evaluators",
    "feedback_channels",
    "optimization_strategy",
    "termination_conditions",
    "metrics",
    "safety_constraints",
    "cost_limits",
    "composition",
];

/// What a document is, as far as finding specs goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Lss,
    /// Not an LSS spec, and why (for `--verbose`).
    Other(String),
}

/// Whether the parsed document `root` is an LSS spec.
pub fn classify(root: &Node) -> DocumentKind {
    let Some(map) = root.as_map() else {
        return DocumentKind::Other(format!("its root is a {}, not a mapping", root.type_name()));
    };
    // loopc's own outputs name the loop too, but are not specs.
    if map.get("plan_version").is_some() {
        return DocumentKind::Other("a loopc plan".into());
    }
    if map.get("trace_version").is_some() {
        return DocumentKind::Other("a Loop Trace".into());
    }
    if map.get("loop_name").is_some() {
        return DocumentKind::Lss;
    }
    if map.get("$schema").is_some() && map.get("properties").is_some() {
        return DocumentKind::Other("a JSON Schema".into());
    }
    let keys: Vec<&str> = map
        .entries
        .iter()
        .map(|e| e.key.as_str())
        .filter(|k| LSS_TOP_LEVEL_KEYS.contains(k))
        .collect();
    match keys.as_slice() {
        [] => DocumentKind::Other("no LSS top-level key".into()),
        [one] => DocumentKind::Other(format!("only one LSS top-level key (`{one}`)")),
        _ => DocumentKind::Lss,
    }
}

/// Whether the file's name says it is a spec: `*.lss.yaml`, `*.lss.yml`, `*.lss.json`.
pub fn named_as_lss(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [".lss.yaml", ".lss.yml", ".lss.json"].iter().any(|s| name.ends_with(s))
}

/// Whether a file that does not parse still shows it means to be a spec
/// (then its syntax errors are reported): its name, or a `loop_name` key.
pub fn looks_like_lss(path: &Path, bytes: &[u8]) -> bool {
    named_as_lss(path) || bytes.windows(b"loop_name".len()).any(|w| w == b"loop_name")
}

/// Why a file loopc found by itself is not read as a spec, or `None` when
/// it is: an empty file, a document that is something else, or one that
/// does not parse (`root` is `None`; `first_error` says why) unless its
/// name or a `loop_name` key marks it as a spec.
pub fn skip_reason(path: &Path, bytes: &[u8], root: Option<&Node>, first_error: Option<&str>) -> Option<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some("an empty file".into());
    }
    match root.map(classify) {
        Some(DocumentKind::Other(why)) => Some(why),
        Some(DocumentKind::Lss) => None,
        None if looks_like_lss(path, bytes) => None,
        None => Some(format!(
            "{}, and nothing marks it as one",
            first_error.unwrap_or("it does not parse")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> DocumentKind {
        let parsed = loopc_syntax::load(Path::new("x.yaml"), text.as_bytes(), &loopc_syntax::Limits::default());
        classify(parsed.root.as_ref().unwrap_or_else(|| panic!("{text}: {:?}", parsed.errors)))
    }

    #[test]
    fn specs_and_everything_else() {
        assert_eq!(kind("loop_name: x\n"), DocumentKind::Lss);
        assert_eq!(kind("workers: []\nevaluators: []\n"), DocumentKind::Lss);
        assert_eq!(kind("composition: {type: sequential}\nversion: 1.1.0\n"), DocumentKind::Lss);
        for other in [
            "name: CI\non: [push]\njobs: {}\n",
            "version: '3.8'\nservices: {web: {image: nginx}}\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
            "{\"name\": \"app\", \"version\": \"1.0.0\", \"scripts\": {}}",
            "openapi: 3.0.0\ninfo: {title: x}\npaths: {}\n",
            "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"properties\": {\"loop_name\": {}, \"workers\": {}}}",
            "{\"plan_version\": \"3\", \"loop_name\": \"x\"}",
            "{\"trace_version\": \"1.0\", \"loop_name\": \"x\", \"iterations\": []}",
        ] {
            assert!(matches!(kind(other), DocumentKind::Other(_)), "{other}");
        }
    }

    #[test]
    fn the_checker_skips_what_is_not_a_spec() {
        let checker = crate::Checker::new(loopc_syntax::Limits::default());
        let skip = |name: &str, text: &str| checker.check_if_lss(Path::new(name), text.as_bytes()).err();
        assert_eq!(
            skip("play.yml", "- hosts: all\n  tasks: []\n").as_deref(),
            Some("the document root is an array, not a mapping, and nothing marks it as one")
        );
        assert_eq!(skip("empty.yaml", "\n  \n").as_deref(), Some("an empty file"));
        assert_eq!(skip("compose.yml", "services: {}\n").as_deref(), Some("no LSS top-level key"));
        // Broken, but meant as a spec: its errors are reported.
        assert!(skip("fix.lss.yaml", "workers: [\n").is_none());
        assert!(skip("spec.yaml", "loop_name: [\n").is_none());
        assert!(checker.check_if_lss(Path::new("s.yaml"), b"loop_name: x\n").unwrap().has_errors());
    }

    #[test]
    fn names_and_mentions() {
        assert!(named_as_lss(Path::new("specs/fix.lss.yaml")));
        assert!(!named_as_lss(Path::new("specs/fix.yaml")));
        assert!(looks_like_lss(Path::new("a.yaml"), b"loop_name: [broken"));
        assert!(!looks_like_lss(Path::new("a.yaml"), b"name: [broken"));
    }
}
