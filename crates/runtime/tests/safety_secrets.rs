//! `secret_scan`: known formats, entropy, redaction and masking.
//! Fake secrets are assembled at run time so that no scanner flags this file.

use std::path::Path;

use loopc_plan::SafetyCheck;
use loopc_runtime::safety::secrets::{mask, scan_text, shannon_entropy, SecretConfig};
use loopc_runtime::safety::{Finding, SafetyEngine, Scope, Subject};
use serde_json::{json, Value};

fn engine(action: &str, config: Value) -> SafetyEngine {
    let check = SafetyCheck::from_lss("secrets", "secret_scan", "pre_output", &["fixer"], action, config).unwrap();
    SafetyEngine::new(&[check], Path::new(env!("CARGO_TARGET_TMPDIR")), false).unwrap()
}

fn scan(e: &SafetyEngine, output: &Value) -> Vec<Finding> {
    e.check(Scope::PreOutput, "fixer", &Subject::Output(output))
}

/// A pseudo-random string over `alphabet` (deterministic).
fn noise(len: usize, alphabet: &str, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn fakes() -> Vec<(&'static str, String)> {
    vec![
        ("AWS access key", format!("AKIA{}", noise(16, UPPER_DIGITS, 1))),
        ("AWS access key", format!("ASIA{}", noise(16, UPPER_DIGITS, 2))),
        ("GitHub token", format!("ghp_{}", noise(36, ALNUM, 3))),
        ("GitHub token", format!("gho_{}", noise(36, ALNUM, 4))),
        ("GitHub token", format!("ghs_{}", noise(36, ALNUM, 5))),
        (
            "GitHub token",
            format!("github_pat_{}_{}", noise(22, ALNUM, 6), noise(59, ALNUM, 7)),
        ),
        ("OpenAI API key", format!("sk-{}", noise(48, ALNUM, 8))),
        ("OpenAI API key", format!("sk-proj-{}", noise(40, B64URL, 9))),
        ("Anthropic API key", format!("sk-ant-api03-{}", noise(40, B64URL, 10))),
        (
            "Slack token",
            format!("xoxb-{}-{}", noise(12, "0123456789", 11), noise(24, ALNUM, 12)),
        ),
        ("Slack token", format!("xoxp-{}", noise(30, ALNUM, 13))),
        ("Google API key", format!("AIza{}", noise(35, B64URL, 14))),
        ("Stripe secret key", format!("sk_live_{}", noise(24, ALNUM, 15))),
        (
            "private key",
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                noise(64, ALNUM, 16)
            ),
        ),
        (
            "private key",
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----",
                noise(64, ALNUM, 17)
            ),
        ),
        (
            "JWT",
            format!("eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}", noise(30, B64URL, 18), noise(43, B64URL, 19)),
        ),
    ]
}

#[test]
fn every_known_format_is_found_by_name() {
    let cfg = SecretConfig {
        entropy: false,
        ..SecretConfig::default()
    };
    for (format, secret) in fakes() {
        let text = format!("config: {secret} # end");
        let found = scan_text(&text, &cfg);
        assert_eq!(found.len(), 1, "{format}: {found:?}");
        assert_eq!(found[0].format, format, "{secret}");
        assert_eq!(&text[found[0].start..found[0].end], secret, "{format} spans the whole secret");
    }
    // A private key without its END line is a secret up to the end of the text.
    let text = "key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nmore";
    let found = scan_text(text, &cfg);
    assert_eq!(
        (found.len(), found[0].format, found[0].start, found[0].end),
        (1, "private key", 5, text.len())
    );
}

#[test]
fn near_misses_are_not_secrets() {
    let cfg = SecretConfig {
        entropy: false,
        ..SecretConfig::default()
    };
    let short = [
        "AKIA1234".to_string(),                                    // too short
        format!("akia{}", noise(15, UPPER_DIGITS, 20)), // too short in any case (a full one is found: prefixes match in any case)
        format!("XAKIA{}", noise(16, UPPER_DIGITS, 21)), // inside a word
        "ghp_short".into(),                             // too short
        "sk-short-key".into(),                          // under 20 characters
        "the risk-assessment-of-the-whole-project is done".into(), // `sk-` inside a word
        "task-management-for-the-team-and-more".into(), // `sk-` inside a word
        "xoxz-1234567890abcdef".into(),                 // not a Slack kind
        "AIzaShort".into(),                             // too short
        "sk_test_abcdefghijklmnopqrstuvwx".into(),      // Stripe test key
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into(),
        "-----BEGIN PUBLIC KEY-----\nMIIB".into(),
        "eyJhbGciOiJIUzI1NiJ9 alone".into(), // a JWT header only
    ];
    for text in short {
        assert!(scan_text(&text, &cfg).is_empty(), "{text}: {:?}", scan_text(&text, &cfg));
    }
}

#[test]
fn entropy_threshold() {
    assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-9);
    let random = noise(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 30);
    assert!(shannon_entropy(&random) > 4.5, "{}", shannon_entropy(&random));
    let cfg = SecretConfig::default();
    // (Beside `aws_secret_access_key` it would be recognised by its context first.)
    let found = scan_text(&format!("token = {random}"), &cfg);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].format, "high-entropy string");
    assert!(found[0].entropy.unwrap() > 4.5);

    // Ordinary long tokens stay under the default threshold.
    for benign in [
        "crates/runtime/src/executor/mod.rs",
        "src/components/HeaderNavigation/index",
        "550e8400-e29b-41d4-a716-446655440000",
        "test_output_bounds_rejects_long_strings",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "9fceb02d0ae598e95dc970b74767f19372d61af8", // a commit hash: hex cannot exceed 4 bits/char
    ] {
        assert!(scan_text(benign, &cfg).is_empty(), "{benign}: {}", shannon_entropy(benign));
    }
    // Short tokens are not scored, however random.
    assert!(scan_text(&noise(19, ALNUM, 31), &cfg).is_empty());

    // A lower threshold flags more; hex has its own threshold.
    let lax = SecretConfig {
        entropy_threshold: 3.0,
        ..SecretConfig::default()
    };
    assert_eq!(scan_text("crates/runtime/src/executor/mod.rs", &lax).len(), 1);
    let hex = SecretConfig {
        hex_entropy_threshold: Some(3.0),
        ..SecretConfig::default()
    };
    assert_eq!(scan_text("9fceb02d0ae598e95dc970b74767f19372d61af8", &hex).len(), 1);
}

#[test]
fn engine_scans_all_strings_and_masks_messages() {
    let e = engine("quarantine", Value::Null);
    let aws = format!("AKIA{}", noise(16, UPPER_DIGITS, 40));
    let gh = format!("ghp_{}", noise(36, ALNUM, 41));
    let output = json!({
        "patch": "fine",
        "files": [{"name": "a", "env": format!("TOKEN={gh}")}],
        "nested": {"deep": {"key": aws}},
        "count": 3
    });
    let findings = scan(&e, &output);
    assert_eq!(findings.len(), 1, "one finding per check");
    let f = &findings[0];
    assert_eq!(
        (f.check_id.as_str(), f.kind_name(), f.action.as_str()),
        ("secrets", "secret_scan", "quarantine")
    );
    assert!(
        f.message.contains("GitHub token") && f.message.contains("AWS access key"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("$.files[0].env") && f.message.contains("$.nested.deep.key"),
        "{}",
        f.message
    );
    assert!(f.message.contains(&mask(&aws)) && f.message.contains("AKIA…"), "{}", f.message);
    assert!(
        !f.message.contains(&aws) && !f.message.contains(&gh),
        "message leaks: {}",
        f.message
    );
    assert!(!f.message.contains(&aws[4..12]), "message leaks a part: {}", f.message);
    assert_eq!(f.redacted, None, "only strip carries a redacted output");

    assert!(scan(&e, &json!({"patch": "no secrets here", "n": [1, 2]})).is_empty());
    assert!(scan(&e, &json!("plain text output")).is_empty());
}

#[test]
fn strip_replaces_the_secrets_only() {
    let e = engine("strip", Value::Null);
    let key = format!("sk-proj-{}", noise(40, B64URL, 50));
    let pem = format!(
        "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----",
        noise(64, ALNUM, 51)
    );
    let output = json!({"text": format!("use {key} to call"), "list": ["ok", pem], "n": 1, format!("{key}"): "as a key"});
    let findings = scan(&e, &output);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].action, "strip");
    let redacted = findings[0].redacted.clone().expect("strip gives the redacted output");
    assert_eq!(
        redacted,
        json!({"text": "use [REDACTED] to call", "list": ["ok", "[REDACTED]"], "n": 1, "[REDACTED]": "as a key"})
    );
    // A string output stays a string.
    let findings = scan(&e, &json!(format!("key: {key}\n")));
    assert_eq!(findings[0].redacted, Some(json!("key: [REDACTED]\n")));
}

#[test]
fn entropy_config_is_read() {
    let token = "crates/runtime/src/executor/mod.rs";
    assert!(scan(&engine("warn", Value::Null), &json!(token)).is_empty());
    assert_eq!(scan(&engine("warn", json!({"entropy_threshold": 3.0})), &json!(token)).len(), 1);
    let random = noise(40, ALNUM, 60);
    assert_eq!(scan(&engine("warn", Value::Null), &json!(random)).len(), 1);
    assert!(scan(&engine("warn", json!({"entropy": false})), &json!(random)).is_empty());
    assert!(scan(&engine("warn", json!({"min_length": 41})), &json!(random)).is_empty());
    for bad in [
        json!({"entropy_threshold": -1}),
        json!({"entropy_threshold": "high"}),
        json!({"min_length": 3}),
        json!({"entropy": "no"}),
    ] {
        let built = SafetyCheck::from_lss("s", "secret_scan", "pre_output", &["w"], "warn", bad.clone())
            .and_then(|check| SafetyEngine::new(&[check], Path::new("."), false).map(drop));
        assert!(built.is_err(), "{bad}");
    }
}
