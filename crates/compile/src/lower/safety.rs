//! The `safety_constraints` section: each constraint with the configuration
//! the runtime enforces, typed, or an error when there is nothing to enforce.

use loopc_ir as ir;
use loopc_plan::*;

use super::{expand, text};

/// One safety constraint with its typed configuration: the keys the
/// runtime reads ([`loopc_ir::safety_config`]), others dropped (LSS leaves
/// `config` open). A constraint of an enforced type that sets nothing to
/// enforce cannot run as declared: an error.
pub(super) fn safety_check(
    s: &ir::SafetyConstraint,
    worker_ids: &[String],
    spec_path: &std::path::Path,
    errors: &mut Vec<String>,
) -> Option<SafetyCheck> {
    let id = text(&s.id)?;
    let kind = SafetyKind::parse(s.kind.as_deref()?)?;
    let mut fail = |why: String| errors.push(format!("safety constraint `{id}` ({kind}): {why}"));
    let written = match &s.config {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let read: serde_json::Map<String, serde_json::Value> = loopc_ir::safety_config::known_keys(kind.as_str())
        .iter()
        .filter_map(|(key, wants)| {
            let value = written.get(*key)?;
            // Counts may be written `3.0` (YAML and JSON agree it is 3).
            let value = match wants {
                loopc_ir::safety_config::ConfigValue::Count | loopc_ir::safety_config::ConfigValue::MinLength => {
                    loopc_ir::safety_config::whole(value).map_or_else(|| value.clone(), serde_json::Value::from)
                }
                _ => value.clone(),
            };
            Some(((*key).to_owned(), value))
        })
        .collect();
    let rule = if kind == SafetyKind::SchemaEnforce {
        match schema_enforce(&read, spec_path) {
            Ok(rule) => rule,
            Err(why) => {
                fail(why);
                return None;
            }
        }
    } else {
        // The plan's `SafetyRule` is tagged by type: one conversion for
        // every type (an unenforced type keeps its config as written).
        let config = if kind.is_enforced() { read } else { written };
        match serde_json::from_value(serde_json::json!({ "type": kind.as_str(), "config": config })) {
            Ok(rule) => rule,
            // `loopc check` (L424) reports wrong values first; this is a backstop.
            Err(e) => {
                fail(format!("config: {e}"));
                return None;
            }
        }
    };
    if let Some(why) = rule.nothing_to_enforce() {
        fail(format!("{why}: nothing to enforce"));
        return None;
    }
    Some(SafetyCheck {
        scope: Scope::parse(s.scope.as_deref()?)?,
        applies_to: if s.applies_to.is_empty() {
            worker_ids.to_vec()
        } else {
            expand(&s.applies_to, worker_ids)
        },
        action: s
            .action
            .as_deref()
            .and_then(|a| SafetyAction::parse(a))
            .unwrap_or(SafetyAction::Halt),
        on_error: s.on_error.as_deref().and_then(|a| OnError::parse(a)).unwrap_or(OnError::Halt),
        rule,
        id,
    })
}

/// `schema_enforce`'s schema: inline, or the `schema_ref` file embedded.
fn schema_enforce(read: &serde_json::Map<String, serde_json::Value>, spec_path: &std::path::Path) -> Result<SafetyRule, String> {
    let (schema, source) = match (read.get("schema"), read.get("schema_ref")) {
        (Some(inline), _) => (inline.clone(), None),
        (None, Some(serde_json::Value::String(reference))) => crate::schemas::load(spec_path, reference)
            .map(|doc| (doc, Some(reference.clone())))
            .map_err(|why| format!("schema_ref `{reference}` {why}"))?,
        _ => return Err("gives no `schema` (inline) or `schema_ref` (a file): nothing to enforce".to_owned()),
    };
    Ok(SafetyRule::SchemaEnforce(SchemaEnforce { schema, source }))
}
