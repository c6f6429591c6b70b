//! Build the spanned tree from saphyr's event stream.
//!
//! The builder keeps an explicit stack (no recursion, so deep input cannot
//! overflow ours) and checks every limit as events arrive, so a hostile file
//! is refused after reading only as much of it as proves the point.

use std::collections::HashMap;

use loopc_diagnostics::{SourceFile, Span};
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};

use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::scalar::resolve_plain;
use crate::tree::{Entry, Map, Node, Value};
use crate::Limits;

/// Parse one document. Returns the root (a mapping) when there is one, and
/// every problem found; a fatal problem stops the parse and yields no root.
pub fn parse(source: &SourceFile, limits: &Limits) -> (Option<Node>, Vec<SyntaxError>) {
    let mut builder = Builder {
        source,
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        diagnostics: Vec::new(),
        documents: 0,
        root: None,
    };
    match builder.run() {
        Ok(()) => {}
        Err(fatal) => {
            builder.diagnostics.push(fatal);
            return (None, builder.diagnostics);
        }
    }
    let Some(root) = builder.root.take() else {
        let d = SyntaxError::new(SyntaxErrorKind::EmptyFile, "empty file: no YAML document", Span::point(0))
            .with_help("an LSS file is one YAML mapping with `loop_name`, `version`, `objective`, ...");
        return (None, vec![d]);
    };
    if root.as_map().is_none() {
        let d = SyntaxError::new(
            SyntaxErrorKind::RootNotMapping,
            format!(
                "the document root is {} {}, not a mapping",
                article(root.type_name()),
                root.type_name()
            ),
            root.span,
        )
        .with_label("expected a mapping of LSS fields here")
        .with_help("an LSS file is one YAML mapping with `loop_name`, `version`, `objective`, ...");
        builder.diagnostics.push(d);
        return (None, builder.diagnostics);
    }
    (Some(root), builder.diagnostics)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
        index: Option<HashMap<String, usize>>,
    },
}

struct Builder<'s> {
    source: &'s SourceFile,
    limits: &'s Limits,
    stack: Vec<Frame>,
    /// Completed anchored nodes by saphyr's anchor id, with their weight
    /// against the expansion limit ([`expansion_weight`]).
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    diagnostics: Vec<SyntaxError>,
    documents: usize,
    root: Option<Node>,
}

/// Bytes of text that weigh as much as one node against the alias
/// expansion limit.
const TEXT_BYTES_PER_NODE: usize = 64;

/// What copying `node` for an alias adds to the tree: its nodes, and its
/// text in units of [`TEXT_BYTES_PER_NODE`], so that an anchor over a long
/// string is no cheaper to repeat than one over many nodes (a 120 KB
/// string repeated 50,000 times within a node-only limit took 2 GB).
fn expansion_weight(node: &Node) -> usize {
    let text = |s: &str| s.len() / TEXT_BYTES_PER_NODE;
    1 + match &node.value {
        Value::String(s) => text(s),
        Value::Seq(items) => items.iter().map(expansion_weight).sum(),
        Value::Map(map) => map.entries.iter().map(|e| text(&e.key) + expansion_weight(&e.value)).sum(),
        _ => 0,
    }
}

/// Maps with more keys than this get a hash index for duplicate detection;
/// smaller ones are scanned, which is faster for the usual handful of keys.
const LINEAR_SCAN_KEYS: usize = 12;

impl Builder<'_> {
    fn offset(&self, marker: &Marker) -> usize {
        self.source.offset_of(marker.line(), marker.col())
    }

    fn run(&mut self) -> Result<(), SyntaxError> {
        let mut parser = Parser::new_from_str(self.source.text());
        loop {
            let (event, span) = match parser.next_event() {
                None => return Ok(()),
                Some(Ok(pair)) => pair,
                Some(Err(error)) => {
                    let at = self.offset(error.marker());
                    if error.info() == "recursion limit exceeded" {
                        // saphyr caps flow nesting (`[[[`…) itself, while scanning ahead.
                        return Err(SyntaxError::new(
                            SyntaxErrorKind::NestingTooDeep,
                            "flow collections nested deeper than the YAML parser allows (255 levels)",
                            Span::point(at),
                        )
                        .with_label("limit reached here"));
                    }
                    let mut d = SyntaxError::new(
                        SyntaxErrorKind::YamlSyntax,
                        format!("invalid YAML: {}", error.info()),
                        Span::point(at),
                    )
                    .with_label("here");
                    // Parsers give up where the text stops making sense, which for an
                    // unclosed `[` or `{` can be many lines later: name where it opened.
                    if let Some((open, kind)) = self.open_flow_collection(at) {
                        d = d
                            .with_secondary(Span::new(open, open + 1), format!("inside the flow {kind} opened here"))
                            .with_help(format!(
                                "the `{}` on line {} may be missing its closing `{}`",
                                &self.source.text()[open..open + 1],
                                self.source.line_col(open).line,
                                if kind == "sequence" { "]" } else { "}" }
                            ));
                    }
                    return Err(d);
                }
            };
            let start = self.offset(&span.start);
            let end = self.offset(&span.end).max(start);
            match event {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(SyntaxError::new(
                            SyntaxErrorKind::MultipleDocuments,
                            "a second YAML document starts here; an LSS file holds exactly one",
                            Span::new(start, end.max(start + 1).min(self.source.text().len())),
                        )
                        .with_label("second document")
                        .with_help("split the documents into separate files, or remove the `---` separator"));
                    }
                }
                Event::Alias(id) => {
                    let node = self.expand_alias(id, Span::new(start, end))?;
                    self.push_node(node)?;
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let value = self.scalar_value(&text, style, tag.as_deref(), Span::new(start, end))?;
                    let node = Node {
                        span: Span::new(start, end),
                        value,
                    };
                    self.remember(anchor, &node)?;
                    self.push_node(node)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.check_collection_tag(tag.as_deref(), "seq", Span::new(start, end))?;
                    self.open(
                        Frame::Seq {
                            start,
                            anchor,
                            items: Vec::new(),
                        },
                        start,
                    )?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.check_collection_tag(tag.as_deref(), "map", Span::new(start, end))?;
                    self.open(
                        Frame::Map {
                            start,
                            anchor,
                            entries: Vec::new(),
                            key: None,
                            index: None,
                        },
                        start,
                    )?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let frame = self.stack.pop().expect("saphyr balances collection events");
                    let (node, anchor) = self.close(frame, start, end);
                    self.remember(anchor, &node)?;
                    self.push_node(node)?;
                }
            }
        }
    }

    /// The innermost flow collection (`[…]`, `{…}`) still open before `at`.
    fn open_flow_collection(&self, at: usize) -> Option<(usize, &'static str)> {
        let text = self.source.text().as_bytes();
        self.stack.iter().rev().find_map(|frame| {
            let start = match frame {
                Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
            };
            match text.get(start) {
                Some(b'[') if start < at => Some((start, "sequence")),
                Some(b'{') if start < at => Some((start, "mapping")),
                _ => None,
            }
        })
    }

    fn open(&mut self, frame: Frame, at: usize) -> Result<(), SyntaxError> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(SyntaxError::new(
                SyntaxErrorKind::UnsupportedNode,
                "a sequence or mapping used as a mapping key",
                Span::point(at),
            )
            .with_label("complex key")
            .with_help("LSS keys are plain strings"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(SyntaxError::new(
                SyntaxErrorKind::NestingTooDeep,
                format!("nesting deeper than {} levels", self.limits.max_depth),
                Span::point(at),
            )
            .with_label("limit reached here")
            .with_help("raise `limits.max_depth` in loopc.toml if this is intended"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&self, frame: Frame, end_start: usize, end_end: usize) -> (Node, usize) {
        let text = self.source.text().as_bytes();
        // A flow collection's end event spans its `]` or `}`; a block
        // collection's end event sits at the next token, which may be lines
        // later, so block spans end at their last child.
        let closes_flow = matches!(text.get(end_start), Some(b']' | b'}'));
        let (start, anchor, value, last_end) = match frame {
            Frame::Seq { start, anchor, items } => {
                let last = items.last().map(|n| n.span.end);
                (start, anchor, Value::Seq(items), last)
            }
            Frame::Map {
                start, anchor, entries, ..
            } => {
                let last = entries.last().map(|e| e.value.span.end);
                (start, anchor, Value::Map(Map { entries }), last)
            }
        };
        let end = if closes_flow { end_end } else { last_end.unwrap_or(end_end) };
        (
            Node {
                span: Span::new(start, end.max(start)),
                value,
            },
            anchor,
        )
    }

    fn push_node(&mut self, node: Node) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, key, index, .. }) => {
                let Some((name, key_span)) = key.take() else {
                    let name = match &node.value {
                        Value::String(s) => s.clone(),
                        // Non-string scalar keys keep their spelling, as JSON would need.
                        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                            self.source.text()[node.span.start..node.span.end].to_owned()
                        }
                        Value::Seq(_) | Value::Map(_) => {
                            unreachable!("collection keys are refused in open()")
                        }
                    };
                    *key = Some((name, node.span));
                    return Ok(());
                };
                let previous = match index {
                    Some(index) => index.get(&name).copied(),
                    None => entries.iter().position(|e| e.key == name),
                };
                if let Some(previous) = previous {
                    let first = entries[previous].key_span;
                    self.diagnostics.push(
                        SyntaxError::new(SyntaxErrorKind::DuplicateKey, format!("duplicate key `{name}`"), key_span)
                            .with_label("defined again here")
                            .with_secondary(first, "first defined here")
                            .with_help("YAML 1.2 requires unique keys; remove or rename one of them"),
                    );
                    return Ok(());
                }
                if let Some(index) = index {
                    index.insert(name.clone(), entries.len());
                } else if entries.len() >= LINEAR_SCAN_KEYS {
                    let mut built: HashMap<String, usize> = entries.iter().enumerate().map(|(i, e)| (e.key.clone(), i)).collect();
                    built.insert(name.clone(), entries.len());
                    *index = Some(built);
                }
                entries.push(Entry {
                    key: name,
                    key_span,
                    value: node,
                });
                Ok(())
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), expansion_weight(node)));
        }
        Ok(())
    }

    fn expand_alias(&mut self, id: usize, span: Span) -> Result<Node, SyntaxError> {
        let Some((node, count)) = self.anchors.get(&id) else {
            // saphyr reports unknown anchors itself; an anchor still open
            // (a recursive alias) lands here.
            return Err(SyntaxError::new(
                SyntaxErrorKind::UnsupportedNode,
                "alias refers to an anchor that encloses it (a recursive structure)",
                span,
            )
            .with_label("recursive alias"));
        };
        self.alias_nodes = self.alias_nodes.saturating_add(*count);
        if self.alias_nodes > self.limits.max_alias_nodes {
            return Err(SyntaxError::new(
                SyntaxErrorKind::AliasExpansionLimit,
                format!("aliases expand to more than {} nodes (an alias bomb?)", self.limits.max_alias_nodes),
                span,
            )
            .with_label("expansion limit reached at this alias")
            .with_help("raise `limits.max_alias_nodes` in loopc.toml if this document is legitimate"));
        }
        let mut node = node.clone();
        node.span = span;
        Ok(node)
    }

    fn check_collection_tag(&self, tag: Option<&Tag>, expected: &str, span: Span) -> Result<(), SyntaxError> {
        match tag {
            None => Ok(()),
            Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
            Some(tag) => Err(unsupported_tag(tag, span)),
        }
    }

    fn scalar_value(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<Value, SyntaxError> {
        let value = match tag {
            None if style == ScalarStyle::Plain => resolve_plain(text),
            None => Value::String(text.to_owned()),
            Some(tag) if tag.is_yaml_core_schema() => match tag.suffix.as_str() {
                "str" => Value::String(text.to_owned()),
                "null" | "bool" | "int" | "float" => {
                    let value = resolve_plain(text);
                    let fits = matches!(
                        (tag.suffix.as_str(), &value),
                        ("null", Value::Null)
                            | ("bool", Value::Bool(_))
                            | ("int", Value::Int(_))
                            | ("float", Value::Float(_) | Value::Int(_))
                    );
                    if !fits {
                        return Err(SyntaxError::new(
                            SyntaxErrorKind::UnsupportedNode,
                            format!("`{text}` is not a valid !!{}", tag.suffix),
                            span,
                        )
                        .with_label("tag and value disagree"));
                    }
                    match value {
                        Value::Int(i) if tag.suffix == "float" => Value::Float(i as f64),
                        v => v,
                    }
                }
                _ => return Err(unsupported_tag(tag, span)),
            },
            Some(tag) => return Err(unsupported_tag(tag, span)),
        };
        if let Value::Float(f) = value {
            if !f.is_finite() {
                return Err(SyntaxError::new(
                    SyntaxErrorKind::UnsupportedNode,
                    format!("`{text}` is not a finite number, which JSON and LSS cannot represent"),
                    span,
                )
                .with_label("infinite or NaN")
                .with_help("quote it to make it a string, or use a finite number"));
            }
        }
        Ok(value)
    }
}

fn unsupported_tag(tag: &Tag, span: Span) -> SyntaxError {
    SyntaxError::new(SyntaxErrorKind::UnsupportedNode, format!("unsupported YAML tag `{tag}`"), span)
        .with_label("tag")
        .with_help("LSS uses plain JSON data; remove the tag")
}
