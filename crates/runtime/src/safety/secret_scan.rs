//! `secret_scan`: known key formats and the Shannon entropy of long tokens
//! ([`super::secrets`]). `entropy_threshold` (bits/char, default 4.5),
//! `hex_entropy_threshold` (hex-only tokens; default: the general threshold,
//! which hex cannot exceed), `min_length` (default 20), `entropy: false` to
//! match known formats only. A `strip` replaces each secret by `[REDACTED]`.

use serde_json::Value;

use super::constraint::{Constraint, Context, Found};
use super::secrets::{self, SecretConfig};

pub(crate) struct SecretScan {
    config: SecretConfig,
}

/// The scanner settings of a `secret_scan` constraint.
pub(crate) fn scanner(config: &loopc_plan::SecretScan) -> Result<SecretConfig, String> {
    let mut sc = SecretConfig::default();
    for (key, threshold) in [
        ("entropy_threshold", config.entropy_threshold),
        ("hex_entropy_threshold", config.hex_entropy_threshold),
    ] {
        if threshold.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
            return Err(format!("`config.{key}` must be a number above 0"));
        }
    }
    if let Some(t) = config.entropy_threshold {
        sc.entropy_threshold = t;
    }
    sc.hex_entropy_threshold = config.hex_entropy_threshold;
    if let Some(n) = config.min_length {
        if n < 8 {
            return Err("`config.min_length` must be at least 8".into());
        }
        sc.min_token_length = n as usize;
    }
    if let Some(e) = config.entropy {
        sc.entropy = e;
    }
    Ok(sc)
}

impl SecretScan {
    pub fn new(config: &loopc_plan::SecretScan) -> Result<Self, String> {
        Ok(SecretScan { config: scanner(config)? })
    }
}

impl Constraint for SecretScan {
    fn output(&self, cx: &Context<'_>, value: &Value) -> Option<Found> {
        let (found, redacted) = secrets::scan_value(value, &self.config);
        if found.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = found
            .iter()
            .take(5)
            .map(|l| match l.entropy {
                Some(e) => format!("{} ({e:.2} bits/char) `{}` at {}", l.format, l.preview, l.path),
                None => format!("{} `{}` at {}", l.format, l.preview, l.path),
            })
            .collect();
        if found.len() > 5 {
            parts.push(format!("and {} more", found.len() - 5));
        }
        Some(Found {
            redacted: cx.strips().then_some(redacted),
            ..Found::new(format!("{} possible secret(s) in the output: {}", found.len(), parts.join("; ")))
        })
    }
}
