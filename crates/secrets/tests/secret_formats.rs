//! Every secret format the scanner knows, in every disguise a leak could
//! take by formatting alone: as written, with zero-width characters, in
//! fullwidth forms (NFKC), split into adjacent string pieces, base64-encoded
//! and lower-cased. `LOOPC_PRINT_SECRET_TABLE=1` prints the table.
//!
//! Example secrets are assembled at run time from harmless pieces so that
//! no scanner mistakes this file for a leak.

use base64::Engine;
use loopc_secrets::{scan_text, SecretConfig};

/// (format, text before the secret, the secret, text after it).
fn examples() -> Vec<(&'static str, String, String, String)> {
    let alnum = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0";
    let s = |parts: &[&str]| parts.concat();
    vec![
        ("AWS access key", "key: ".into(), s(&["AKIA", "IOSFODNN7EXAMPLE"]), "\n".into()),
        (
            "AWS secret access key",
            "AWS_SECRET_ACCESS_KEY=".into(),
            s(&["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY"]),
            "\n".into(),
        ),
        ("GitHub token", "token ".into(), s(&["ghp", "_", &alnum[..36]]), "\n".into()),
        ("GitHub token", "token ".into(), s(&["github", "_pat_", &alnum[..30]]), "\n".into()),
        (
            "Anthropic API key",
            "key ".into(),
            s(&["sk-", "ant-api03-", &alnum[..32]]),
            "\n".into(),
        ),
        ("OpenAI API key", "key ".into(), s(&["sk-", "proj-", &alnum[..32]]), "\n".into()),
        ("Slack token", "slack ".into(), s(&["xox", "b-1234-", &alnum[..24]]), "\n".into()),
        ("Google API key", "g ".into(), s(&["AI", "za", &alnum[..35]]), "\n".into()),
        ("GitLab token", "gl ".into(), s(&["glp", "at-", &alnum[..20]]), "\n".into()),
        ("npm token", "npm ".into(), s(&["np", "m_", &alnum[..36]]), "\n".into()),
        ("Hugging Face token", "hf ".into(), s(&["h", "f_", &alnum[..34]]), "\n".into()),
        (
            "Stripe secret key",
            "stripe ".into(),
            s(&["sk_", "live_", &alnum[..24]]),
            "\n".into(),
        ),
        (
            "JSON Web Token",
            "Authorization: Bearer ".into(),
            s(&["eyJhbGciOiJIUzI1NiJ9", ".eyJzdWIiOiIxIn0.", &alnum[..40]]),
            "\n".into(),
        ),
        (
            "private key (PEM)",
            "".into(),
            s(&[
                "-----BEGIN RSA ",
                "PRIVATE KEY-----\nMIIEow",
                &alnum[..32],
                "\n-----END RSA ",
                "PRIVATE KEY-----",
            ]),
            "\n".into(),
        ),
        (
            "private key (PGP)",
            "".into(),
            s(&[
                "-----BEGIN PGP ",
                "PRIVATE KEY BLOCK-----\nlQOYBF",
                &alnum[..32],
                "\n-----END PGP ",
                "PRIVATE KEY BLOCK-----",
            ]),
            "\n".into(),
        ),
        (
            "password in a URL",
            "DATABASE_URL=postgres://app:".into(),
            s(&["Tr0ub4dor", "-and-3"]),
            "@db:5432/app\n".into(),
        ),
        (
            "password assignment",
            "password = \"".into(),
            s(&["Tr0ub4dor", "-and-3"]),
            "\"\n".into(),
        ),
        (
            "secret assignment",
            "client_secret: ".into(),
            s(&["Tr0ub4dor", "-and-3-x"]),
            "\n".into(),
        ),
    ]
}

fn zero_width(secret: &str) -> String {
    secret.chars().flat_map(|c| [c, '\u{200b}']).collect()
}

fn fullwidth(secret: &str) -> String {
    secret
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            other => other,
        })
        .collect()
}

type Disguise = fn(&str, &str, &str) -> Option<String>;

/// The disguises: each makes the whole text from (before, secret, after), or
/// `None` where it does not apply to a format.
fn disguises() -> Vec<(&'static str, Disguise)> {
    vec![
        ("as written", |b, s, a| Some(format!("{b}{s}{a}"))),
        ("zero-width characters", |b, s, a| Some(format!("{b}{}{a}", zero_width(s)))),
        ("fullwidth (NFKC)", |b, s, a| Some(format!("{b}{}{a}", fullwidth(s)))),
        ("split into pieces", |b, s, a| {
            // Only single-line secrets are assembled from pieces in code.
            (!s.contains('\n')).then(|| {
                let mid = s.len() / 2;
                format!("{b}{}\" + \"{}{a}", &s[..mid], &s[mid..])
            })
        }),
        ("base64-encoded", |b, s, a| {
            Some(format!("{b}{}{a}", base64::engine::general_purpose::STANDARD.encode(s)))
        }),
        ("lower-cased", |b, s, a| Some(format!("{b}{}{a}", s.to_lowercase()))),
    ]
}

/// (disguise, format) pairs the scanner is not expected to find: a secret
/// lower-cased is a different secret unless its format is case-blind.
fn expected(format: &str, disguise: &str) -> bool {
    disguise != "lower-cased"
        || matches!(
            format,
            "AWS access key" | "password in a URL" | "password assignment" | "secret assignment"
        )
}

/// Known formats only (the entropy fallback off): what the rules catch
/// by themselves, as the redaction of stored text uses them.
#[test]
fn every_format_is_found_in_every_disguise() {
    let cfg = SecretConfig {
        entropy: false,
        ..SecretConfig::default()
    };
    let mut table = vec!["| format | ".to_owned() + &disguises().iter().map(|(d, _)| *d).collect::<Vec<_>>().join(" | ") + " |"];
    table.push(format!("|---|{}", "---|".repeat(disguises().len())));
    let mut missed = Vec::new();
    for (format, before, secret, after) in examples() {
        let mut row = format!("| {format} |");
        for (disguise, make) in disguises() {
            let Some(text) = make(&before, &secret, &after) else {
                row.push_str(" n/a |");
                continue;
            };
            let found = scan_text(&text, &cfg);
            let covers = found.iter().any(|m| m.start <= before.len() && m.end >= text.len() - after.len());
            row.push_str(if covers { " found |" } else { " missed |" });
            if !covers && expected(format, disguise) {
                missed.push(format!("{format}, {disguise}: {text:?} → {found:?}"));
            }
        }
        table.push(row);
    }
    if std::env::var_os("LOOPC_PRINT_SECRET_TABLE").is_some() {
        println!("{}", table.join("\n"));
    }
    assert!(missed.is_empty(), "{} missed:\n{}", missed.len(), missed.join("\n"));
}

#[test]
fn ordinary_text_is_not_a_secret() {
    let cfg = SecretConfig {
        entropy: false,
        ..SecretConfig::default()
    };
    for text in [
        "print(\"hello\" + \"world\")",
        "name = 'first' 'second'",
        "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ ｉｓ ｊｕｓｔ ｔｅｘｔ",
        &base64::engine::general_purpose::STANDARD.encode("an ordinary sentence, encoded for transport"),
        "the task-runner ran risk-assessment again",
        "password = \"changeme\"",
        "password: ${DB_PASSWORD}",
        "akia is a word fragment",
        "region AsiaPacificNortheast and AKIAshortText",
    ] {
        assert!(scan_text(text, &cfg).is_empty(), "{text:?}: {:?}", scan_text(text, &cfg));
    }
}
