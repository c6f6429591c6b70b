//! Building and reading tree nodes. Migrated nodes carry no span: they are
//! written out as a new document, never placed back into the old text.

use loopc_diagnostics::Span;
use loopc_syntax::{Entry, Map, Node, Value};

pub(crate) fn node(value: Value) -> Node {
    Node {
        span: Span::default(),
        value,
    }
}

pub(crate) fn text(s: impl Into<String>) -> Node {
    node(Value::String(s.into()))
}

pub(crate) fn int(i: i64) -> Node {
    node(Value::Int(i))
}

pub(crate) fn seq(items: Vec<Node>) -> Node {
    node(Value::Seq(items))
}

pub(crate) fn texts<S: AsRef<str>>(items: &[S]) -> Node {
    seq(items.iter().map(|s| text(s.as_ref())).collect())
}

/// A mapping built in the order its keys are put.
#[derive(Default)]
pub(crate) struct Obj(Vec<Entry>);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj::default()
    }

    pub(crate) fn put(mut self, key: &str, value: Node) -> Self {
        self.set(key, value);
        self
    }

    /// Put `key`, replacing an earlier value of it.
    pub(crate) fn set(&mut self, key: &str, value: Node) {
        match self.0.iter_mut().find(|e| e.key == key) {
            Some(entry) => entry.value = value,
            None => self.0.push(Entry {
                key: key.to_owned(),
                key_span: Span::default(),
                value,
            }),
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|e| e.key == key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn build(self) -> Node {
        node(Value::Map(Map { entries: self.0 }))
    }
}

/// A node's entries, or none when it is not a mapping.
pub(crate) fn entries(n: &Node) -> &[Entry] {
    n.as_map().map_or(&[], |m| m.entries.as_slice())
}

pub(crate) fn str_at<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.get(key)?.as_str()
}

/// A number written as a number (not a `${inputs.x}` placeholder).
pub(crate) fn is_number(n: &Node) -> bool {
    matches!(n.value, Value::Int(_) | Value::Float(_))
}

/// `coherence_rubric` → `coherence_rubric`, `no-force-push` → `no-force-push`,
/// `Author Acceptance` → `author-acceptance`: the shape LSS ids take.
pub(crate) fn slug(s: &str, separator: char) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with(separator) && !out.is_empty() {
            out.push(separator);
        }
    }
    let out = out.trim_end_matches(separator).to_owned();
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("x{separator}{out}"),
        None => "unnamed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slug("Author Acceptance", '-'), "author-acceptance");
        assert_eq!(super::slug("no-force-push", '_'), "no_force_push");
        assert_eq!(super::slug("3d", '_'), "x_3d");
    }
}
