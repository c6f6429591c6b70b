//! Top-level keys that LSS does not define.

use loopc_diagnostics::{Diagnostic, Fix};

use super::Rule;
use crate::discovery::LSS_TOP_LEVEL_KEYS;
use crate::registry::declare_rule;
use crate::suggest::closest;
use crate::Context;

/// Keys outside LSS that the ecosystem's own tools write at the top level
/// of specs: the upstream loop library and `loopforge` put provenance in
/// `metadata`, and `loopforge mix`/`combine` record `composed_from`,
/// `compose_mode`, `patterns` and `taxonomy_level`. The LSS 1.0 schema
/// itself defines `extensions`.
const KNOWN_EXTENSIONS: &[&str] = &[
    "extensions",
    "metadata",
    "composed_from",
    "compose_mode",
    "patterns",
    "taxonomy_level",
];

declare_rule! {
    /// ## What it does
    /// Warns about a top-level key that is not an LSS 1.0 field, LSS 1.1's
    /// `composition`, an `x_`-prefixed extension, or one of the keys the
    /// LSS tools themselves write (`extensions`, `metadata`,
    /// `composed_from`, `compose_mode`, `patterns`, `taxonomy_level`), with
    /// the field it was probably meant to be.
    ///
    /// ## Why
    /// The schema allows any extra key (`additionalProperties: true`), so a
    /// misspelt field passes validation and silently means nothing:
    /// `compositon:` turns a composition into a plain spec whose children
    /// never run. LSS 1.0 asks extensions to use `x_`-prefixed keys, which
    /// this rule never reports.
    ///
    /// ## Fix
    /// `loopc check --fix` renames a key that is one edit from a field the
    /// spec does not have yet (`compositon` → `composition`).
    ///
    /// ## Example
    /// ```yaml
    /// compositon:          # L103: did you mean `composition`?
    ///   type: sequential
    /// x_owner: platform    # fine: an extension
    /// ```
    pub struct UnknownTopLevelKey { code: "L103", name: "unknown-top-level-key", group: "schema", severity: Warning, summary: "A top-level key is neither an LSS field nor an `x_` extension." }
}

impl Rule for UnknownTopLevelKey {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(map) = cx.root.as_map() else { return };
        for entry in &map.entries {
            let key = entry.key.as_str();
            if key.starts_with("x_") || LSS_TOP_LEVEL_KEYS.contains(&key) || KNOWN_EXTENSIONS.contains(&key) {
                continue;
            }
            let near = closest(key, LSS_TOP_LEVEL_KEYS.iter().copied());
            let help = match near {
                Some(field) => format!("did you mean `{field}`?"),
                None => format!("extensions are `x_`-prefixed: rename it `x_{key}`"),
            };
            let mut d = cx
                .report(&UnknownTopLevelKey, entry.key_span, format!("`{key}` is not an LSS field"))
                .with_label(if near.is_some() { "a misspelt field?" } else { "unknown key" })
                .with_help(help);
            // Renaming is safe only when the key is written plainly and the
            // field it becomes is not there already.
            if let Some(field) = near.filter(|f| map.get(f).is_none()) {
                if cx.source_text.get(entry.key_span.start..entry.key_span.end) == Some(key) {
                    d = d.with_fix(Fix::replace(entry.key_span, field, format!("rename `{key}` to `{field}`")));
                }
            }
            out.push(d);
        }
    }
}
