//! Safety constraints as the runtime enforces them: one typed configuration
//! per enforced type (`deny_unknown_fields`: a plan carries exactly what the
//! runtime reads), and the config of the other types kept as written.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::{OnError, SafetyAction, SafetyKind, Scope};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyCheck {
    pub id: String,
    pub scope: Scope,
    /// Worker ids (`*` and absence expanded to all workers).
    pub applies_to: Vec<String>,
    pub action: SafetyAction,
    pub on_error: OnError,
    pub rule: SafetyRule,
}

impl SafetyCheck {
    pub fn kind(&self) -> SafetyKind {
        self.rule.kind()
    }

    /// A check from LSS's words and a JSON config (for tools and tests that
    /// build plans by hand; `loopc compile` builds them from specs). The
    /// config of an enforced type must hold only the keys the runtime reads.
    pub fn from_lss(
        id: &str,
        kind: &str,
        scope: &str,
        applies_to: &[&str],
        action: &str,
        config: serde_json::Value,
    ) -> Result<SafetyCheck, String> {
        let word = |what: &str, text: &str| format!("safety constraint `{id}`: unknown {what} `{text}`");
        let config = if config.is_null() { serde_json::json!({}) } else { config };
        let rule: SafetyRule = serde_json::from_value(serde_json::json!({ "type": kind, "config": config }))
            .map_err(|e| format!("safety constraint `{id}` ({kind}): config: {e}"))?;
        Ok(SafetyCheck {
            id: id.to_owned(),
            scope: Scope::parse(scope).ok_or_else(|| word("scope", scope))?,
            applies_to: applies_to.iter().map(|w| (*w).to_owned()).collect(),
            action: SafetyAction::parse(action).ok_or_else(|| word("action", action))?,
            on_error: OnError::Halt,
            rule,
        })
    }
}

/// A constraint's type with its configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "config", rename_all = "snake_case")]
pub enum SafetyRule {
    ToolAllowlist(ToolAllowlist),
    SecretScan(SecretScan),
    OutputBounds(OutputBounds),
    SchemaEnforce(SchemaEnforce),
    HumanGate(HumanGate),
    RateLimit(RateLimit),
    PiiDetect(PiiDetect),
    /// Types the included interpreter does not enforce: config as written.
    InjectionDetect(serde_json::Value),
    EgressMonitor(serde_json::Value),
    TenantIsolation(serde_json::Value),
}

impl SafetyKind {
    /// Whether the included interpreter enforces this type (docs/semantics.md
    /// §7): the types whose [`SafetyRule`] variant holds a typed config.
    pub fn is_enforced(self) -> bool {
        !matches!(
            self,
            SafetyKind::InjectionDetect | SafetyKind::EgressMonitor | SafetyKind::TenantIsolation
        )
    }
}

impl SafetyRule {
    /// Why a constraint with this config cannot enforce anything (a
    /// `rate_limit` with no limit), or `None`.
    pub fn nothing_to_enforce(&self) -> Option<&'static str> {
        match self {
            SafetyRule::RateLimit(r) => {
                (r.requests_per_minute.is_none() && r.max_calls.is_none()).then_some("sets neither `requests_per_minute` nor `max_calls`")
            }
            SafetyRule::OutputBounds(b) => (!b.has_size_bounds() && b.forbidden_paths.is_empty())
                .then_some("sets no bound (max_chars, max_bytes, max_lines, max_items, max_lines_changed or forbidden_paths)"),
            SafetyRule::PiiDetect(p) => p.categories.as_ref().is_some_and(Vec::is_empty).then_some("lists no `categories`"),
            _ => None,
        }
    }

    pub fn kind(&self) -> SafetyKind {
        match self {
            SafetyRule::ToolAllowlist(_) => SafetyKind::ToolAllowlist,
            SafetyRule::SecretScan(_) => SafetyKind::SecretScan,
            SafetyRule::OutputBounds(_) => SafetyKind::OutputBounds,
            SafetyRule::SchemaEnforce(_) => SafetyKind::SchemaEnforce,
            SafetyRule::HumanGate(_) => SafetyKind::HumanGate,
            SafetyRule::RateLimit(_) => SafetyKind::RateLimit,
            SafetyRule::InjectionDetect(_) => SafetyKind::InjectionDetect,
            SafetyRule::PiiDetect(_) => SafetyKind::PiiDetect,
            SafetyRule::EgressMonitor(_) => SafetyKind::EgressMonitor,
            SafetyRule::TenantIsolation(_) => SafetyKind::TenantIsolation,
        }
    }
}

/// `tool_allowlist`: the tools a worker may call, on top of its own `tools`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolAllowlist {
    /// `None`: the worker's declared `tools` are the allowlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// `secret_scan`: known key formats, and the entropy of long tokens.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretScan {
    /// Bits per character above which a token is a secret (default 4.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_threshold: Option<f64>,
    /// The threshold for hex-only tokens (default: the general one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex_entropy_threshold: Option<f64>,
    /// Shortest token scored for entropy (default 20, at least 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// `false`: known formats only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<bool>,
}

/// `output_bounds`: sizes of an output, and paths tool calls may not touch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputBounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines_changed: Option<u64>,
    /// Globs of workspace paths `write_file`, `append_file` and `delete_file` may not touch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_paths: Vec<String>,
}

impl OutputBounds {
    pub fn has_size_bounds(&self) -> bool {
        self.max_chars.is_some()
            || self.max_bytes.is_some()
            || self.max_lines.is_some()
            || self.max_items.is_some()
            || self.max_lines_changed.is_some()
    }
}

/// `schema_enforce`: the JSON Schema (a `schema_ref` file embedded by `loopc compile`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaEnforce {
    pub schema: serde_json::Value,
    /// Where the schema came from (the `schema_ref` as written), for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `human_gate`: a person approves before the run goes on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanGate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `rate_limit`: calls per worker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// A sliding window of 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Per worker per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u64>,
}

/// `pii_detect`: personal data with a checksum or a fixed shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiDetect {
    /// The categories to look for (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<PiiKind>>,
}

vocabulary! {
    /// What `pii_detect` recognises (the words of the LSS examples).
    pub enum PiiKind {
        Email = "email",
        /// `+` and a country code, or a North American number with separators.
        Phone = "phone",
        /// A US social security number, `AAA-GG-SSSS`, outside the never-issued ranges.
        Ssn = "ssn",
        /// Luhn-valid, with a card network's prefix and length.
        CreditCard = "credit_card",
        /// ISO 13616, mod-97 checksum.
        Iban = "iban",
    }
}
