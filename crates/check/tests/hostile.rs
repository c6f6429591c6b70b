//! Hostile and broken input: each case must fail with the right code, at the
//! right place, quickly and without unbounded memory.

use loopc_check::Limits;
use loopc_diagnostics::{Diagnostic, SourceFile};
use loopc_syntax::Node;

/// What the syntax layer made of a file, with its errors coded by the checker.
struct Parsed {
    source: SourceFile,
    root: Option<Node>,
    diagnostics: Vec<Diagnostic>,
}

fn load(path: &str, text: &[u8], limits: &Limits) -> Parsed {
    let (source, root, diagnostics) = loopc_check::read_document(std::path::Path::new(path), text, limits);
    Parsed { source, root, diagnostics }
}

fn codes(text: &[u8]) -> Vec<(&'static str, usize, usize)> {
    let parsed = load("t.yaml", text, &Limits::default());
    parsed
        .diagnostics
        .iter()
        .map(|d| {
            let lc = parsed.source.line_col(d.span().start);
            (d.code, lc.line, lc.column)
        })
        .collect()
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(codes(b""), vec![("L004", 1, 1)]);
    assert_eq!(codes(b"# only a comment\n"), vec![("L004", 1, 1)]);
}

#[test]
fn root_must_be_a_mapping() {
    assert_eq!(codes(b"- a\n- b\n"), vec![("L005", 1, 1)]);
    assert_eq!(codes(b"just text\n"), vec![("L005", 1, 1)]);
    assert_eq!(codes(b"---\n")[0].0, "L005");
}

#[test]
fn broken_yaml_names_the_line() {
    let found = codes(b"a: 1\nb: [1, 2\nc: 3\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "L001");
    assert!(found[0].1 >= 2, "{found:?}");
}

#[test]
fn an_unclosed_flow_collection_is_named_where_it_opened() {
    let parsed = load("t.yaml", b"a: 1\nb: {x: 1, y: 2\nc:\n  d: 3\n", &Limits::default());
    let d = &parsed.diagnostics[0];
    assert_eq!(d.code, "L001");
    assert_eq!(parsed.source.line_col(d.labels[0].span.start).line, 2, "{d:?}");
    assert!(d.help.as_deref().unwrap().contains("`{` on line 2"), "{d:?}");
}

#[test]
fn duplicate_key_points_at_second_and_labels_first() {
    let parsed = load("t.yaml", b"a: 1\nb:\n  c: 1\n  c: 2\n", &Limits::default());
    assert_eq!(parsed.diagnostics.len(), 1);
    let d = &parsed.diagnostics[0];
    assert_eq!(d.code, "L002");
    assert_eq!(parsed.source.line_col(d.span().start).line, 4);
    assert_eq!(parsed.source.line_col(d.labels[0].span.start).line, 3);
    assert!(parsed.root.is_some(), "a duplicate key is not fatal");
}

#[test]
fn duplicate_keys_in_large_maps_use_the_index() {
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("k{i}: {i}\n"));
    }
    text.push_str("k7: again\n");
    assert_eq!(codes(text.as_bytes()), vec![("L002", 41, 1)]);
}

#[test]
fn second_document_is_refused() {
    assert_eq!(codes(b"a: 1\n---\nb: 2\n"), vec![("L003", 2, 1)]);
}

#[test]
fn nul_and_latin1_bytes_are_located() {
    assert_eq!(codes(b"a: 1\nb: x\0y\n"), vec![("L007", 2, 5)]);
    let parsed = load("t.yaml", b"a: 1\nname: caf\xe9\n", &Limits::default());
    assert_eq!(parsed.diagnostics[0].code, "L006");
    assert!(parsed.diagnostics[0].message.contains("0xE9"));
    assert!(parsed.diagnostics[0].message.contains("byte offset 14"));
    assert_eq!(parsed.source.line_col(parsed.diagnostics[0].span().start).line, 2);
}

#[test]
fn bom_is_accepted() {
    let parsed = load("t.yaml", b"\xEF\xBB\xBFa: yes\n", &Limits::default());
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(parsed.root.unwrap().get("a").unwrap().as_str(), Some("yes"));
}

#[test]
fn deep_nesting_is_refused_at_the_limit() {
    let deep = "[".repeat(100_000);
    let found = codes(format!("a: {deep}").as_bytes());
    assert_eq!(found.len(), 1);
    assert!(found[0].0 == "L008", "{found:?}");
    let mut block = String::new();
    for depth in 0..1000 {
        block.push_str(&" ".repeat(depth));
        block.push_str("k:\n");
    }
    assert_eq!(codes(block.as_bytes())[0].0, "L008");
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..9 {
        let prev = format!("*a{}", level - 1);
        text.push_str(&format!("a{level}: &a{level} [{}]\n", [prev.as_str(); 9].join(", ")));
    }
    let found = codes(text.as_bytes());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "L009");
}

#[test]
fn ordinary_aliases_expand() {
    let parsed = load("t.yaml", b"m: &m {provider: openai, name: x}\nw: *m\n", &Limits::default());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(
        parsed.root.unwrap().get("w").unwrap().get("provider").unwrap().as_str(),
        Some("openai")
    );
}

#[test]
fn spans_cover_keys_and_values() {
    let parsed = load("t.yaml", "name: café\nlist:\n  - 1\n  - {a: b}\n".as_bytes(), &Limits::default());
    let root = parsed.root.unwrap();
    let list = root.get("list").unwrap();
    let text = parsed.source.text();
    assert_eq!(&text[list.span.start..list.span.end], "- 1\n  - {a: b}");
    let entry = root.as_map().unwrap().entry("name").unwrap();
    assert_eq!(&text[entry.value.span.start..entry.value.span.end], "café");
    assert_eq!(parsed.source.line_col(list.span.start).column, 3);
}

#[test]
fn json_documents_parse() {
    let parsed = load(
        "t.json",
        br#"{"a": [1, 2.5, true, null, "no"], "b": {"c": -3}}"#,
        &Limits::default(),
    );
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(
        parsed.root.unwrap().to_json(),
        serde_json::json!({"a": [1, 2.5, true, null, "no"], "b": {"c": -3}})
    );
}

#[test]
fn tags_and_special_floats() {
    assert_eq!(codes(b"a: !!str 12\n"), vec![]);
    assert_eq!(codes(b"a: !custom 12\n")[0].0, "L011");
    assert_eq!(codes(b"a: .inf\n")[0].0, "L011");
    assert_eq!(codes(b"? [a]\n: 1\n")[0].0, "L011");
}
