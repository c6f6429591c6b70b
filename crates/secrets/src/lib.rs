//! Secret detection, shared by the runtime's `secret_scan` constraint and
//! redaction of run state (`loopc-runtime`) and by `loopc check`, which
//! warns about credentials written into a spec: known key formats, matched
//! by hand, credentials by where they stand, and the Shannon entropy of
//! long base64/hex-alphabet tokens.

mod credentials;
mod encoded;
mod normalize;
mod shaped;

use serde_json::Value;

/// What replaces a secret when a constraint strips it.
pub const REDACTED: &str = "[REDACTED]";

/// Default entropy threshold, bits per character (truffleHog's base64 value).
pub const DEFAULT_ENTROPY_THRESHOLD: f64 = 4.5;

/// Tokens shorter than this are not scored for entropy.
pub const DEFAULT_MIN_TOKEN_LENGTH: usize = 20;

/// How `secret_scan` scores text.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretConfig {
    /// Tokens with more bits per character than this are secrets.
    pub entropy_threshold: f64,
    /// Threshold for tokens made of hex digits only (which carry at most 4
    /// bits/char); `None`: the general threshold, so hex never triggers by
    /// entropy alone (commit hashes are common in agent output).
    pub hex_entropy_threshold: Option<f64>,
    pub min_token_length: usize,
    /// Whether the entropy test runs at all.
    pub entropy: bool,
}

impl Default for SecretConfig {
    fn default() -> Self {
        SecretConfig {
            entropy_threshold: DEFAULT_ENTROPY_THRESHOLD,
            hex_entropy_threshold: None,
            min_token_length: DEFAULT_MIN_TOKEN_LENGTH,
            entropy: true,
        }
    }
}

/// One secret in a string: byte offsets (ASCII boundaries) and what it looks like.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretMatch {
    pub start: usize,
    pub end: usize,
    /// `AWS access key`, `GitHub token`, …, or `high-entropy string`.
    pub format: &'static str,
    /// Bits per character, for entropy matches.
    pub entropy: Option<f64>,
}

impl SecretMatch {
    /// The first four characters and `…`: safe to show.
    pub fn preview(&self, text: &str) -> String {
        mask(&text[self.start..self.end])
    }
}

/// The first four characters of `secret` and `…`.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…")
}

fn is_tok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn b64_entropy_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

/// A prefix followed by at least `min` characters of a class.
struct Format {
    name: &'static str,
    prefixes: &'static [&'static str],
    class: fn(u8) -> bool,
    min: usize,
    /// Prefixes that belong to another format (`sk-ant-` is not an OpenAI key).
    not_followed_by: &'static [&'static str],
    /// Whether the body (upper case and digits) is matched in any case: an
    /// AWS key lower-cased is still recognisable.
    fold_body: bool,
}

const FORMATS: &[Format] = &[
    Format {
        name: "AWS access key",
        prefixes: &["AKIA", "ASIA"],
        class: upper_digit,
        min: 16,
        not_followed_by: &[],
        fold_body: true,
    },
    Format {
        name: "GitHub token",
        prefixes: &["ghp_", "gho_", "ghs_", "ghu_", "ghr_"],
        class: alnum,
        min: 30,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "GitHub token",
        prefixes: &["github_pat_"],
        class: alnum_underscore,
        min: 22,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "Anthropic API key",
        prefixes: &["sk-ant-"],
        class: is_tok,
        min: 20,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "OpenAI API key",
        prefixes: &["sk-"],
        class: is_tok,
        min: 20,
        not_followed_by: &["ant-"],
        fold_body: false,
    },
    Format {
        name: "Slack token",
        prefixes: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xapp-"],
        class: alnum_dash,
        min: 10,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "Google API key",
        prefixes: &["AIza"],
        class: is_tok,
        min: 35,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "GitLab token",
        prefixes: &["glpat-", "gldt-", "glrt-"],
        class: is_tok,
        min: 20,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "npm token",
        prefixes: &["npm_"],
        class: alnum,
        min: 36,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "Hugging Face token",
        prefixes: &["hf_"],
        class: alnum,
        min: 30,
        not_followed_by: &[],
        fold_body: false,
    },
    Format {
        name: "Stripe secret key",
        prefixes: &["sk_live_", "rk_live_"],
        class: alnum,
        min: 16,
        not_followed_by: &[],
        fold_body: false,
    },
];

pub(crate) fn run_len(bytes: &[u8], from: usize, class: fn(u8) -> bool) -> usize {
    bytes[from..].iter().take_while(|b| class(**b)).count()
}

/// The maximal runs of `class` bytes in `bytes`, as `start..end` ranges.
pub(crate) fn runs_of(bytes: &[u8], class: fn(u8) -> bool) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        i += bytes[i..].iter().take_while(|b| !class(**b)).count();
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        i += run_len(bytes, i, class);
        Some(start..i)
    })
}

/// Whether a key may start at `at`: not inside a longer token, except
/// where the text before it is an escape that ends in a letter or digit
/// (`\n`, `\t` in JSON or logs, `%3D` in a URL), or the prefix is one no
/// word contains (`ghp_`, `sk-ant-`, `xoxb-`: four characters or more with a
/// `_` or `-`; `sk-` is in "risk-" and "task-", so it needs a boundary).
fn left_boundary(bytes: &[u8], at: usize, prefix: &str) -> bool {
    if at == 0 || !is_tok(bytes[at - 1]) || (prefix.len() >= 4 && prefix.contains(['_', '-'])) {
        return true;
    }
    escape_before(bytes, at)
}

/// Whether the text just before `at` is an escape that ends in a letter or
/// digit: `\n`, `\t`, `\r` (JSON, logs), `%3D` (URLs), or an ANSI colour
/// sequence such as `ESC[1m` (terminal output).
pub(crate) fn escape_before(bytes: &[u8], at: usize) -> bool {
    let escaped = at >= 2 && bytes[at - 2] == b'\\' && matches!(bytes[at - 1], b'n' | b't' | b'r');
    let percent = at >= 3 && bytes[at - 3] == b'%' && bytes[at - 2].is_ascii_hexdigit() && bytes[at - 1].is_ascii_hexdigit();
    let ansi = at >= 3 && bytes[at - 1].is_ascii_alphabetic() && {
        let mut i = at - 1;
        while i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b';') {
            i -= 1;
        }
        i >= 2 && bytes[i - 1] == b'[' && bytes[i - 2] == 0x1b
    };
    escaped || percent || ansi
}

/// Every format's prefixes in one automaton, matched in any ASCII case,
/// with the format and prefix each pattern is: one pass over a text finds
/// them all (a search per prefix set up a searcher per prefix per text).
static PREFIXES: std::sync::LazyLock<(aho_corasick::AhoCorasick, Vec<(usize, usize)>)> = std::sync::LazyLock::new(|| {
    let mut patterns = Vec::new();
    let mut which = Vec::new();
    for (fi, f) in FORMATS.iter().enumerate() {
        for (pi, prefix) in f.prefixes.iter().enumerate() {
            patterns.push(*prefix);
            which.push((fi, pi));
        }
    }
    // A contiguous NFA: a DFA searches a little faster but costs more to
    // build than a one-file check spends searching.
    let automaton = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
        .build(&patterns)
        .expect("the prefixes build an automaton");
    (automaton, which)
});

/// Where each prefix occurs in `bytes` (in any case), as (format, prefix,
/// start), ordered by format, prefix and position, each prefix's
/// occurrences not overlapping one another — what one left-to-right search
/// per prefix would find, in that order.
fn prefix_hits(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let (automaton, which) = &*PREFIXES;
    let mut hits: Vec<(usize, usize, usize)> = automaton
        .find_overlapping_iter(bytes)
        .map(|m| {
            let (fi, pi) = which[m.pattern().as_usize()];
            (fi, pi, m.start())
        })
        .collect();
    hits.sort_unstable();
    let mut next_free = (usize::MAX, usize::MAX, 0);
    hits.retain(|&(fi, pi, at)| {
        if (next_free.0, next_free.1) == (fi, pi) && at < next_free.2 {
            return false;
        }
        next_free = (fi, pi, at + FORMATS[fi].prefixes[pi].len());
        true
    });
    hits
}

fn known_formats(text: &str, out: &mut Vec<SecretMatch>) {
    let bytes = text.as_bytes();
    // Prefixes are matched in any case (`AKIA`, `akia`, `Ghp_`): a key
    // changed in case is still the key to whoever reads it.
    for (fi, pi, at) in prefix_hits(bytes) {
        let f = &FORMATS[fi];
        let prefix = f.prefixes[pi];
        if !left_boundary(bytes, at, prefix) {
            continue;
        }
        let body = at + prefix.len();
        if f.not_followed_by.iter().any(|p| {
            bytes
                .get(body..body + p.len())
                .is_some_and(|next| next.eq_ignore_ascii_case(p.as_bytes()))
        }) {
            continue;
        }
        let n = if f.fold_body {
            // In any case, but one case throughout, and a lower-case
            // body needs a digit: `AsiaPacificNortheast` is a word.
            let n = run_len(bytes, body, |b| upper_digit(b.to_ascii_uppercase()));
            let run = &bytes[body..body + n];
            let upper = run.iter().all(|b| !b.is_ascii_lowercase());
            let lower = run.iter().all(|b| !b.is_ascii_uppercase()) && run.iter().any(u8::is_ascii_digit);
            if upper || lower {
                n
            } else {
                0
            }
        } else {
            run_len(bytes, body, f.class)
        };
        if n >= f.min {
            out.push(SecretMatch {
                start: at,
                end: body + n,
                format: f.name,
                entropy: None,
            });
        }
    }
    crate::shaped::private_keys(text, out);
    crate::shaped::jwts(text, out);
    crate::shaped::aws_secret_keys(text, out);
    crate::credentials::find(text, out);
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    let mut n = 0usize;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| *c as f64 / n)
        .map(|p| -p * p.log2())
        .sum()
}

fn high_entropy(text: &str, cfg: &SecretConfig, known: &[SecretMatch], out: &mut Vec<SecretMatch>) {
    for std::ops::Range { start, end } in runs_of(text.as_bytes(), b64_entropy_char) {
        if end - start < cfg.min_token_length || known.iter().any(|m| m.start < end && start < m.end) {
            continue;
        }
        let token = &text[start..end];
        let hex = token.bytes().all(|b| b.is_ascii_hexdigit());
        let threshold = if hex {
            cfg.hex_entropy_threshold.unwrap_or(cfg.entropy_threshold)
        } else {
            cfg.entropy_threshold
        };
        let e = shannon_entropy(token);
        if e > threshold {
            out.push(SecretMatch {
                start,
                end,
                format: "high-entropy string",
                entropy: Some(e),
            });
        }
    }
}

/// The secrets in `text`, in order of position, overlapping matches merged
/// into the first (known formats win over entropy). The text is matched as
/// written and as normalized ([`crate::normalize`]: NFKC, invisible
/// characters removed, string pieces joined), and base64 runs are decoded
/// and matched too; every match is a range of `text`.
pub fn scan_text(text: &str, cfg: &SecretConfig) -> Vec<SecretMatch> {
    let mut found = scan_visible(text, cfg);
    if let Some(view) = crate::normalize::View::of(text) {
        found.extend(scan_visible(&view.text, cfg).into_iter().map(|m| {
            let (start, end) = view.back(m.start, m.end);
            SecretMatch { start, end, ..m }
        }));
    }
    crate::encoded::secrets(text, &mut found);
    merge(found)
}

fn merge(mut found: Vec<SecretMatch>) -> Vec<SecretMatch> {
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut merged: Vec<SecretMatch> = Vec::with_capacity(found.len());
    for m in found {
        match merged.last_mut() {
            Some(last) if m.start < last.end => last.end = last.end.max(m.end),
            _ => merged.push(m),
        }
    }
    merged
}

pub(crate) fn scan_visible(text: &str, cfg: &SecretConfig) -> Vec<SecretMatch> {
    let mut found = Vec::new();
    known_formats(text, &mut found);
    if cfg.entropy {
        let known = found.clone();
        high_entropy(text, cfg, &known, &mut found);
    }
    merge(found)
}

/// `text` with every match replaced by [`REDACTED`].
pub fn redact_text(text: &str, matches: &[SecretMatch]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in matches {
        out.push_str(&text[at..m.start]);
        out.push_str(REDACTED);
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A secret found in a JSON value: where (`$.a[0]`, `$.a{key}` for an object key) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub path: String,
    pub format: &'static str,
    pub preview: String,
    pub entropy: Option<f64>,
}

/// Scan every string (values and object keys) of `value`; returns what was
/// found and the value with the secrets replaced by [`REDACTED`].
pub fn scan_value(value: &Value, cfg: &SecretConfig) -> (Vec<Located>, Value) {
    let mut found = Vec::new();
    let redacted = walk(value, "$", cfg, &mut found);
    (found, redacted)
}

fn scan_string(s: &str, path: &str, cfg: &SecretConfig, found: &mut Vec<Located>) -> String {
    let matches = scan_text(s, cfg);
    if matches.is_empty() {
        return s.to_owned();
    }
    for m in &matches {
        found.push(Located {
            path: path.to_owned(),
            format: m.format,
            preview: m.preview(s),
            entropy: m.entropy,
        });
    }
    redact_text(s, &matches)
}

fn walk(value: &Value, path: &str, cfg: &SecretConfig, found: &mut Vec<Located>) -> Value {
    match value {
        Value::String(s) => Value::String(scan_string(s, path, cfg, found)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| walk(v, &format!("{path}[{i}]"), cfg, found))
                .collect(),
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                let key = scan_string(k, &format!("{path}{{key}}"), cfg, found);
                let child = walk(v, &json_path_child(path, k), cfg, found);
                out.insert(key, child);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// What the state store and the trace writer pass every value through, so
/// that no secret is ever at rest: known key formats always, and the entropy
/// test when the run's spec opts into it with a `secret_scan` constraint
/// (entropy alone flags lock-file hashes and base64 blobs, which a loop must
/// be able to write unless its author asked for the stricter scan).
///
/// A secret becomes `[REDACTED:sha256:<12 hex>]`: the fingerprint lets a
/// person match two sightings of the same key without the key itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Redactor {
    config: SecretConfig,
}

impl Default for Redactor {
    /// Known formats only.
    fn default() -> Self {
        Redactor {
            config: SecretConfig {
                entropy: false,
                ..SecretConfig::default()
            },
        }
    }
}

/// The marker that replaces `secret` at rest.
pub fn fingerprint_marker(secret: &str) -> String {
    format!("[REDACTED:sha256:{}]", &sha256_hex(secret.as_bytes())[..12])
}

/// The SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON path of member `key` under `path`: `a.b` for a plain key,
/// `a["odd key"]` otherwise.
pub fn json_path_child(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

/// The SHA-256 of an output as JSON: what a person can match a withheld
/// or blocked output against, when its stored copy is redacted.
pub fn fingerprint(output: &serde_json::Value) -> String {
    format!("sha256:{}", sha256_hex(output.to_string().as_bytes()))
}

impl Redactor {
    /// The scanner for a run: the most sensitive of its `secret_scan`
    /// configurations (lowest thresholds), or known formats only.
    pub fn for_configs<'a>(configs: impl IntoIterator<Item = &'a SecretConfig>) -> Redactor {
        let mut merged: Option<SecretConfig> = None;
        for c in configs {
            merged = Some(match merged {
                None => c.clone(),
                Some(m) => SecretConfig {
                    entropy_threshold: m.entropy_threshold.min(c.entropy_threshold),
                    hex_entropy_threshold: match (m.hex_entropy_threshold, c.hex_entropy_threshold) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                    min_token_length: m.min_token_length.min(c.min_token_length),
                    entropy: m.entropy || c.entropy,
                },
            });
        }
        merged.map_or_else(Redactor::default, |config| Redactor { config })
    }

    /// `text` with every secret replaced by its fingerprint marker; borrowed when clean.
    pub fn text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let matches = scan_text(text, &self.config);
        if matches.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in &matches {
            out.push_str(&text[at..m.start]);
            out.push_str(&fingerprint_marker(&text[m.start..m.end]));
            at = m.end;
        }
        out.push_str(&text[at..]);
        std::borrow::Cow::Owned(out)
    }

    /// Redact every string (and object key) of `value` in place; whether anything changed.
    pub fn value(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => match self.text(s) {
                std::borrow::Cow::Owned(clean) => {
                    *s = clean;
                    true
                }
                std::borrow::Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, v| self.value(v) | changed),
            Value::Object(map) => {
                let dirty_keys = map.keys().any(|k| matches!(self.text(k), std::borrow::Cow::Owned(_)));
                if dirty_keys {
                    let old = std::mem::take(map);
                    for (k, mut v) in old {
                        self.value(&mut v);
                        map.insert(self.text(&k).into_owned(), v);
                    }
                    return true;
                }
                map.values_mut().fold(false, |changed, v| self.value(v) | changed)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {

    /// One search per prefix over the lower-cased text, as the scanner did
    /// before the automaton: the automaton must find exactly this.
    fn hits_one_prefix_at_a_time(text: &str) -> Vec<(usize, usize, usize)> {
        let folded = text.to_ascii_lowercase();
        let mut hits = Vec::new();
        for (fi, f) in FORMATS.iter().enumerate() {
            for (pi, prefix) in f.prefixes.iter().enumerate() {
                for (at, _) in folded.match_indices(&prefix.to_ascii_lowercase()) {
                    hits.push((fi, pi, at));
                }
            }
        }
        hits
    }

    #[test]
    fn the_prefix_automaton_finds_what_a_search_per_prefix_finds() {
        for text in [
            "",
            "no keys here",
            "AKIAakiaAkIa ASIAASIA",
            "ghp_ghp_ghp_ GHO_x github_pat_github_pat_",
            "sk-ant-sk-sk-proj-xoxb-xoxb-",
            "risk-task-sk-live sk_live_rk_live_ hf_hf_",
            "é AKIA ü ghp_ \u{1F600} sk-ant-",
        ] {
            assert_eq!(prefix_hits(text.as_bytes()), hits_one_prefix_at_a_time(text), "{text:?}");
        }
    }

    use super::*;

    #[test]
    fn entropy_values() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn overlapping_matches_merge() {
        let t = "x AKIAIOSFODNN7EXAMPLE y";
        let m = scan_text(t, &SecretConfig::default());
        assert_eq!(m.len(), 1);
        assert_eq!(&t[m[0].start..m[0].end], "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(redact_text(t, &m), "x [REDACTED] y");
    }

    #[test]
    fn more_formats_and_contexts() {
        let cfg = SecretConfig {
            entropy: false,
            ..SecretConfig::default()
        };
        let body = "Zq7Lm2Xw9Rt4Yp6Vb3Nc8Kd5Hs1Jf0GaQw3Er5Ty7U";
        for text in [
            "\x1b[1mAKIAIOSFODNN7EXAMPLE\x1b[0m".to_owned(),
            format!("\x1b[32msk-proj-{body}"),
            format!("token\\neyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{body}"),
            format!("x%3DeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{body}"),
            format!("AWS_SECRET_ACCESS_KEY={}", &body[..40]),
            format!("aws_secret_access_key: \"{}\"", &body[..40]),
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----".to_owned(),
            format!("xapp-1-A0123-{body}"),
            format!("glpat-{}", &body[..20]),
            format!("npm_{}", &body[..36]),
            format!("hf_{}", &body[..34]),
        ] {
            assert_eq!(scan_text(&text, &cfg).len(), 1, "{text:?}: {:?}", scan_text(&text, &cfg));
        }
        // A 40-character token without the context is not an AWS secret.
        assert!(scan_text(&format!("commit {}", &body[..40]), &cfg).is_empty());
    }

    #[test]
    fn zero_width_characters_do_not_hide_a_key() {
        let key = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let hidden: String = key.chars().flat_map(|c| [c, '\u{200b}']).collect();
        let text = format!("token {hidden} end");
        let m = scan_text(&text, &SecretConfig::default());
        assert_eq!(m.len(), 1, "{m:?}");
        let shown: String = text[m[0].start..m[0].end].chars().filter(|c| *c != '\u{200b}').collect();
        assert_eq!(shown, key);
        assert_eq!(
            redact_text(&text, &m),
            "token [REDACTED] end",
            "the invisible characters go with it"
        );
    }

    #[test]
    fn keys_behind_escapes_and_in_urls_are_found() {
        let key = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let aws = "AKIAIOSFODNN7EXAMPLE";
        for text in [
            format!("auth failed\\n{key}"),
            format!("?token%3D{key}"),
            format!("user{key}"),
            format!("id\\n{aws} x"),
            format!("k%3D{aws}"),
        ] {
            assert_eq!(scan_text(&text, &SecretConfig::default()).len(), 1, "{text}");
        }
        // A word that merely contains the letters is not a key.
        assert!(scan_text(
            "TAKIAIOSFODNN7EXAMPLE",
            &SecretConfig {
                entropy: false,
                ..SecretConfig::default()
            }
        )
        .is_empty());
    }

    #[test]
    fn redactor_fingerprints_and_keeps_clean_text() {
        let r = Redactor::default();
        let key = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let marker = fingerprint_marker(&key);
        assert!(marker.starts_with("[REDACTED:sha256:") && marker.len() == "[REDACTED:sha256:]".len() + 12);
        assert_eq!(r.text(&format!("token {key}.")), format!("token {marker}."));
        assert!(matches!(r.text("nothing here"), std::borrow::Cow::Borrowed(_)));
        // Known formats only by default: a lock-file hash stays.
        let integrity = "sha512-Qm9vQmFyQmF6UXV4cXV1eHpxd2VydHl1aW9wYXNkZmdoamts";
        assert_eq!(r.text(integrity), integrity);
        let strict = Redactor::for_configs([&SecretConfig::default()]);
        assert_ne!(strict.text(integrity), integrity);
        let mut v = serde_json::json!({"a": [key.clone()], key.clone(): 1, "n": 2});
        assert!(r.value(&mut v));
        assert!(!v.to_string().contains(&key), "{v}");
        assert!(!r.value(&mut v));
    }
}
