//! Secrets hidden in base64: runs of base64 text (standard or URL-safe
//! alphabet, with or without padding) are decoded and the decoded text is
//! matched against the known formats, with the words before the run kept
//! before it (a rule that needs a name still sees it).

use crate::{runs_of, scan_visible, SecretConfig, SecretMatch};

/// Shortest base64 run that is decoded and matched (a 16-character key
/// with a 4-character prefix encodes to 28 characters).
const MIN_ENCODED: usize = 24;
/// Longest base64 run decoded (a larger blob is data, not a credential).
const MAX_ENCODED: usize = 16 * 1024;

fn b64_std(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')
}

fn b64_url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// Base64 runs whose decoded text holds a secret of a known format: the
/// whole run (with its `=` padding) is the match.
pub(crate) fn secrets(text: &str, out: &mut Vec<SecretMatch>) {
    use base64::Engine;
    let cfg = SecretConfig {
        entropy: false,
        ..SecretConfig::default()
    };
    let bytes = text.as_bytes();
    let runs: Vec<std::ops::Range<usize>> = runs_of(bytes, b64_std).chain(runs_of(bytes, b64_url)).collect();
    for std::ops::Range { start, end } in runs {
        let end = end + bytes[end..].iter().take(2).take_while(|b| **b == b'=').count();
        if !(MIN_ENCODED..=MAX_ENCODED).contains(&(end - start)) || out.iter().any(|m| m.start < end && start < m.end) {
            continue;
        }
        let run = text[start..end].trim_end_matches('=');
        let engines = [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let decoded = engines
            .iter()
            .find_map(|e| e.decode(run).ok())
            .and_then(|d| String::from_utf8(d).ok());
        let Some(decoded) = decoded else { continue };
        // The words before the run stay before what it decodes to: a rule
        // that needs a name (`AWS_SECRET_ACCESS_KEY=`) still sees it.
        let mut from = start.saturating_sub(48);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let context = &text[from..start];
        let candidate = format!("{context}{decoded}");
        if scan_visible(&candidate, &cfg).iter().any(|m| m.end > context.len()) {
            out.push(SecretMatch {
                start,
                end,
                format: "base64-encoded secret",
                entropy: None,
            });
        }
    }
}
