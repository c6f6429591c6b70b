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
    let typed = |value: serde_json::Map<String, serde_json::Value>| serde_json::Value::Object(value);
    let rule = match kind {
        SafetyKind::ToolAllowlist => serde_json::from_value(typed(read)).map(SafetyRule::ToolAllowlist),
        SafetyKind::SecretScan => serde_json::from_value(typed(read)).map(SafetyRule::SecretScan),
        SafetyKind::HumanGate => serde_json::from_value(typed(read)).map(SafetyRule::HumanGate),
        SafetyKind::OutputBounds => serde_json::from_value::<OutputBounds>(typed(read)).map(SafetyRule::OutputBounds),
        SafetyKind::RateLimit => serde_json::from_value::<RateLimit>(typed(read)).map(SafetyRule::RateLimit),
        SafetyKind::SchemaEnforce => {
            let schema = match (read.get("schema"), read.get("schema_ref")) {
                (Some(inline), _) => Ok((inline.clone(), None)),
                (None, Some(serde_json::Value::String(reference))) => crate::schemas::load(spec_path, reference)
                    .map(|doc| (doc, Some(reference.clone())))
                    .map_err(|why| format!("schema_ref `{reference}` {why}")),
                _ => Err("gives no `schema` (inline) or `schema_ref` (a file): nothing to enforce".to_owned()),
            };
            match schema {
                Ok((schema, source)) => Ok(SafetyRule::SchemaEnforce(SchemaEnforce { schema, source })),
                Err(why) => {
                    fail(why);
                    return None;
                }
            }
        }
        SafetyKind::InjectionDetect => Ok(SafetyRule::InjectionDetect(typed(written))),
        SafetyKind::PiiDetect => Ok(SafetyRule::PiiDetect(typed(written))),
        SafetyKind::EgressMonitor => Ok(SafetyRule::EgressMonitor(typed(written))),
        SafetyKind::TenantIsolation => Ok(SafetyRule::TenantIsolation(typed(written))),
    };
    let rule = match rule {
        Ok(rule) => rule,
        // `loopc check` (L424) reports wrong values first; this is a backstop.
        Err(e) => {
            fail(format!("config: {e}"));
            return None;
        }
    };
    let nothing = match &rule {
        SafetyRule::RateLimit(r) => {
            (r.requests_per_minute.is_none() && r.max_calls.is_none()).then_some("sets neither `requests_per_minute` nor `max_calls`")
        }
        SafetyRule::OutputBounds(b) => (!b.has_size_bounds() && b.forbidden_paths.is_empty())
            .then_some("sets no bound (max_chars, max_bytes, max_lines, max_items, max_lines_changed or forbidden_paths)"),
        _ => None,
    };
    if let Some(why) = nothing {
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
