//! `safety_constraints`: prose rules with `critical`/`high` severities →
//! a mechanism, scope, action and `S0`–`S3` severity. The mechanism is read
//! off the rule's words only where they name one (a secret scan, an
//! allowlist, a person's approval); a rule that names none is left for the
//! author, since guessing would claim enforcement the file never had.

use loopc_syntax::Node;

use super::Cx;
use crate::build::{entries, seq, slug, str_at, text, Obj};

const TYPES: [&str; 10] = [
    "injection_detect",
    "secret_scan",
    "pii_detect",
    "egress_monitor",
    "tool_allowlist",
    "schema_enforce",
    "human_gate",
    "tenant_isolation",
    "output_bounds",
    "rate_limit",
];
const KEYS: [&str; 9] = [
    "id",
    "type",
    "scope",
    "applies_to",
    "action",
    "severity",
    "on_error",
    "config",
    "rule",
];

pub(super) fn constraints(cx: &mut Cx<'_>, n: &Node) -> Node {
    let Some(list) = n.as_seq() else { return n.clone() };
    seq(list.iter().map(|c| constraint(cx, c)).collect())
}

fn constraint(cx: &mut Cx<'_>, c: &Node) -> Node {
    let written = str_at(c, "id").unwrap_or("constraint");
    let id = if written.contains('-') {
        slug(written, '-')
    } else {
        slug(written, '_')
    };
    let path = format!("safety_constraints.{id}");
    if id != written {
        cx.change(&path, format!("id `{written}` → `{id}`"));
    }
    let mut out = Obj::new().put("id", text(&id));
    let words = format!("{} {}", written, str_at(c, "rule").unwrap_or("")).to_ascii_lowercase();
    let kind = match str_at(c, "type") {
        Some(t) if TYPES.contains(&t) => Some(t),
        _ => mechanism(&words),
    };
    match kind {
        Some(k) => {
            out.set("type", text(k));
            if str_at(c, "type").is_none() {
                cx.change(format!("{path}.type"), format!("`{k}`, read off the rule's words (check it)"));
            }
            let scope = str_at(c, "scope").map_or_else(|| default_scope(k).to_owned(), str::to_owned);
            if c.get("scope").is_none() {
                cx.change(format!("{path}.scope"), format!("`{scope}`, where a {k} acts"));
            }
            out.set("scope", text(scope));
        }
        None => cx.left(
            format!("{path}.type"),
            "the mechanism that enforces this rule (its words name none)",
        ),
    }
    if let Some(a) = c.get("applies_to") {
        out.set("applies_to", a.clone());
    }
    let severity = str_at(c, "severity").and_then(severity);
    let action = match str_at(c, "action") {
        Some(a) => a.to_owned(),
        None => {
            let a = if kind == Some("human_gate") {
                "escalate_human"
            } else if matches!(severity, Some("S0" | "S1")) {
                "halt"
            } else {
                "warn"
            };
            cx.change(format!("{path}.action"), format!("`{a}`"));
            a.to_owned()
        }
    };
    out.set("action", text(action));
    if let Some(s) = severity {
        if str_at(c, "severity") != Some(s) {
            cx.change(
                format!("{path}.severity"),
                format!("`{}` → `{s}`", str_at(c, "severity").unwrap_or_default()),
            );
        }
        out.set("severity", text(s));
    }
    for e in entries(c) {
        let key = e.key.as_str();
        if KEYS.contains(&key) && !["id", "type", "scope", "applies_to", "action", "severity"].contains(&key) {
            out.set(key, e.value.clone());
        } else if !KEYS.contains(&key) || (key == "type" && kind != str_at(c, "type")) {
            cx.keep(format!("{path}.{key}"), &e.value);
        }
    }
    out.build()
}

/// A mechanism the words of a rule name, checked most specific first.
fn mechanism(words: &str) -> Option<&'static str> {
    let table: [(&[&str], &str); 9] = [
        (&["inject"], "injection_detect"),
        (&["exfiltrat", "egress", "network"], "egress_monitor"),
        (&["secret", "credential", "api key", "api_key"], "secret_scan"),
        (&["pii", "personal data", "personally identifiable"], "pii_detect"),
        (&["allowlist", "allow-list", "whitelist", "limited to"], "tool_allowlist"),
        (
            &["approval", "consent", "human review", "legal review", "sign-off", "sign off"],
            "human_gate",
        ),
        (&["tenant"], "tenant_isolation"),
        (&["rate limit", "rate_limit", "per minute"], "rate_limit"),
        (&["schema"], "schema_enforce"),
    ];
    table
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| words.contains(k)))
        .map(|(_, t)| *t)
}

fn default_scope(kind: &str) -> &'static str {
    match kind {
        "injection_detect" | "tool_allowlist" | "egress_monitor" | "rate_limit" => "pre_worker",
        "tenant_isolation" => "pre_memory_write",
        "schema_enforce" | "output_bounds" => "post_worker",
        _ => "pre_output",
    }
}

/// `critical` → `S0` … `low` → `S3`; `S0`–`S3` stay.
fn severity(old: &str) -> Option<&'static str> {
    Some(match old.trim().to_ascii_lowercase().as_str() {
        "s0" | "critical" | "blocker" => "S0",
        "s1" | "high" | "major" => "S1",
        "s2" | "medium" | "moderate" => "S2",
        "s3" | "low" | "minor" | "info" => "S3",
        _ => return None,
    })
}
