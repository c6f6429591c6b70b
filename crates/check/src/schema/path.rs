//! JSON Pointers from schema errors, resolved in the spanned tree.

use loopc_diagnostics::Span;
use loopc_syntax::Node;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// Split an RFC 6901 pointer (`/workers/0/model`). Numeric segments are
/// indices; the tree walk treats them as keys where the node is a mapping.
pub(crate) fn parse_pointer(pointer: &str) -> Vec<Segment> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .split('/')
        .skip(1)
        .map(|raw| {
            let key = raw.replace("~1", "/").replace("~0", "~");
            match key.parse::<usize>() {
                Ok(i) if !key.starts_with('+') && (key == "0" || !key.starts_with('0')) => Segment::Index(i),
                _ => Segment::Key(key),
            }
        })
        .collect()
}

/// Where a pointer leads: the node, the span of the key that names it (if
/// it is a mapping value) and a readable path such as
/// `workers[planner].model`.
pub(crate) struct Resolved<'a> {
    pub node: &'a Node,
    pub key_span: Option<Span>,
    pub display: String,
}

pub(crate) fn resolve<'a>(root: &'a Node, segments: &[Segment]) -> Resolved<'a> {
    let mut node = root;
    let mut key_span = None;
    let mut display = String::new();
    for segment in segments {
        let next = match (segment, node.as_map(), node.as_seq()) {
            (Segment::Key(k), Some(map), _) => map.entry(k).map(|e| (&e.value, Some(e.key_span), k.clone())),
            (Segment::Index(i), Some(map), _) => map.entry(&i.to_string()).map(|e| (&e.value, Some(e.key_span), i.to_string())),
            (Segment::Index(i), _, Some(items)) => items.get(*i).map(|n| (n, None, String::new())),
            _ => None,
        };
        let Some((child, child_key_span, key)) = next else {
            break;
        };
        match segment {
            Segment::Index(i) if node.as_seq().is_some() => {
                let label = item_label(child).unwrap_or_else(|| i.to_string());
                display.push_str(&format!("[{label}]"));
            }
            _ => {
                if !display.is_empty() {
                    display.push('.');
                }
                display.push_str(&key);
            }
        }
        node = child;
        key_span = child_key_span;
    }
    Resolved { node, key_span, display }
}

/// A list item's id or name, so paths read `workers[planner]`, not `workers[0]`.
fn item_label(node: &Node) -> Option<String> {
    ["id", "name"].iter().find_map(|k| node.get(k)?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_segments() {
        assert_eq!(parse_pointer(""), vec![]);
        assert_eq!(
            parse_pointer("/a~1b/0/~0x/01"),
            vec![
                Segment::Key("a/b".into()),
                Segment::Index(0),
                Segment::Key("~x".into()),
                Segment::Key("01".into())
            ]
        );
    }
}
