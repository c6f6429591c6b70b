//! Credentials written into a spec.

use loopc_diagnostics::{Diagnostic, Span};
use loopc_secrets::{scan_text, SecretConfig};
use loopc_syntax::{Node, Value};

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Warns about a string anywhere in the spec (an input's `examples` or
    /// `default`, a prompt, a URL, …) that holds a credential: a key in a
    /// known format (cloud, source-host, payment and model-provider keys,
    /// private keys, JWTs) or a password where one stands (a URL's
    /// `user:password@`, `password=…`, `api_key: …`). It uses the runtime's
    /// own secret scanner, without the entropy test, which would flag
    /// ordinary hashes and ids.
    ///
    /// ## Why
    /// LSS 1.0: secrets never appear in examples. A spec is committed,
    /// reviewed and copied; a key in it is a leaked key. Reference a
    /// secret by name (an environment variable, a secret store) instead.
    /// The finding shows only the first characters of what it found.
    ///
    /// ## Example
    /// ```yaml
    /// inputs:
    ///   examples:
    ///     - repo_url: https://deploy:hunter2hunter2@git.example.com/app.git   # L426
    /// ```
    pub struct SecretInSpec { code: "L426", name: "secret-in-spec", group: "readiness", severity: Warning, summary: "A string in the spec holds what looks like a credential." }
}

/// Nesting beyond which the walk stops (the parser's own limit is lower).
const MAX_DEPTH: usize = 256;

impl Rule for SecretInSpec {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let config = SecretConfig {
            entropy: false,
            ..SecretConfig::default()
        };
        walk(cx, cx.root, &mut String::new(), 0, &config, out);
    }
}

/// The secret itself when the scalar is written as its value (plain, or
/// in quotes without escapes); else the whole scalar.
fn secret_span(source: &str, node: Span, text: &str, start: usize, end: usize) -> Span {
    match crate::fixes::unquoted(source, node) {
        Some((inner, written)) if written == text => Span::new(inner.start + start, inner.start + end),
        _ => node,
    }
}

fn walk(cx: &Context<'_>, node: &Node, path: &mut String, depth: usize, config: &SecretConfig, out: &mut Vec<Diagnostic>) {
    if depth > MAX_DEPTH {
        return;
    }
    match &node.value {
        Value::String(text) => {
            if let Some(found) = scan_text(text, config).first() {
                let shown = if path.is_empty() { "the document" } else { path.as_str() };
                out.push(
                    cx.report(
                        &SecretInSpec,
                        secret_span(cx.source_text, node.span, text, found.start, found.end),
                        format!("`{shown}` holds what looks like a {} ({})", found.format, found.preview(text)),
                    )
                    .with_label("a credential in the spec")
                    .with_help("remove it and rotate it; name the secret (an environment variable or a secret store) instead"),
                );
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(cx, item, path, depth + 1, config, out);
                path.truncate(len);
            }
        }
        Value::Map(map) => {
            for entry in &map.entries {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&entry.key);
                walk(cx, &entry.value, path, depth + 1, config, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}
