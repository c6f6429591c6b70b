//! The tree written back out as YAML (block style), for tools that rewrite a
//! document as a whole (`loopc migrate`). Fixes never use this: they edit
//! byte spans so that comments and layout stay.

use std::borrow::Cow;

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};

use crate::{Node, Value};

/// `node` as a YAML document without the `---` marker, ending in a newline.
/// Multi-line strings are written as literal blocks; every string that would
/// read back as something else (`"1.0"`, `"yes"`, `"null"`) is quoted.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    // Writing into a String cannot fail, and every value of the tree has a
    // YAML form (floats are finite: the parser refuses the others).
    if emitter.dump(&owned(node)).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").or_else(|| out.strip_prefix("---")).unwrap_or(&out);
    let mut body = body.trim_start_matches(' ').to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body
}

fn owned(node: &Node) -> Yaml<'_> {
    let scalar = |s: Scalar<'static>| Yaml::Value(s);
    match &node.value {
        Value::Null => scalar(Scalar::Null),
        Value::Bool(b) => scalar(Scalar::Boolean(*b)),
        Value::Int(i) => scalar(Scalar::Integer(*i)),
        Value::Float(f) => scalar(Scalar::FloatingPoint((*f).into())),
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Borrowed(s))),
        Value::Seq(items) => Yaml::Sequence(items.iter().map(owned).collect()),
        Value::Map(map) => {
            let mut mapping = Mapping::new();
            for entry in &map.entries {
                mapping.insert(Yaml::Value(Scalar::String(Cow::Borrowed(&entry.key))), owned(&entry.value));
            }
            Yaml::Mapping(mapping)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, Limits};

    fn round_trip(text: &str) -> (String, serde_json::Value, serde_json::Value) {
        let before = load("a.yaml", text.as_bytes(), &Limits::default()).root.unwrap();
        let written = to_yaml(&before);
        let after = load("b.yaml", written.as_bytes(), &Limits::default());
        assert!(after.errors.is_empty(), "{written}: {:?}", after.errors);
        (written, before.to_json(), after.root.unwrap().to_json())
    }

    #[test]
    fn strings_that_look_like_other_scalars_stay_strings() {
        let (written, before, after) = round_trip(
            "a: '1.0'\nb: 'yes'\nc: 'null'\nd: '~'\ne: '12'\nf: 'true'\ng: '1e3'\nh: ''\ni: '- x'\nj: 'k: v'\nk: '#x'\nl: 0.5\nm: 3\n",
        );
        assert_eq!(before, after, "{written}");
    }

    #[test]
    fn nested_blocks_and_multiline_text() {
        let (written, before, after) = round_trip(
            "top:\n  list:\n    - id: a\n      tags: [x, y]\n    - id: b\n  text: |\n    line one\n    line two\nempty_list: []\nempty_map: {}\n",
        );
        assert_eq!(before, after, "{written}");
        assert!(written.starts_with("top:\n"), "{written}");
    }
}
