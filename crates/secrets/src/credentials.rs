//! Passwords that have no format of their own, found by where they stand:
//! the password of a URL (`scheme://user:password@host`) and the value of a
//! credential assignment (`password=…`, `DB_PASSWORD: …`, `"client_secret": "…"`).
//!
//! Both look for a credential's *place*, so they also see references and
//! placeholders there (`${DB_PASSWORD}`, `<password>`, `os.environ[…]`,
//! `********`); those are not secrets and are left alone.

use crate::SecretMatch;

/// Key endings that name a credential (compared in lower case, `-` as `_`).
const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secret_key",
    "secretkey",
    "api_key",
    "apikey",
    "access_token",
    "auth_token",
    "refresh_token",
    "private_key",
];

/// Shortest value taken for a password: shorter ones are examples and flags.
const MIN_VALUE: usize = 6;

pub(crate) fn find(text: &str, out: &mut Vec<SecretMatch>) {
    url_passwords(text, out);
    assignments(text, out);
}

/// Whether `value` is a reference or a placeholder, not a secret.
fn placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let first = value.chars().next().unwrap_or(' ');
    matches!(first, '$' | '<' | '{' | '%' | '[' | '(' | '*' | '@')
        || value.contains('(')
        || value.contains('[')
        || value.chars().all(|c| c == value.chars().next().unwrap_or(' '))
        || value.contains("REDACTED")
        || [
            "null",
            "none",
            "true",
            "false",
            "undefined",
            "required",
            "optional",
            "string",
            "changeme",
            "example",
            "password",
            "secret",
            "xxxxxx",
        ]
        .contains(&lower.as_str())
        || ["self.", "this.", "env.", "process.env", "os.environ", "secrets."]
            .iter()
            .any(|p| lower.starts_with(p))
}

/// `scheme://user:password@host`: the password.
fn url_passwords(text: &str, out: &mut Vec<SecretMatch>) {
    for (at, _) in text.match_indices("://") {
        let authority_start = at + 3;
        let authority_len = text[authority_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '`' | '>' | '?' | '#'))
            .unwrap_or(text.len() - authority_start);
        let authority = &text[authority_start..authority_start + authority_len];
        let Some(userinfo_len) = authority.rfind('@') else { continue };
        let userinfo = &authority[..userinfo_len];
        let Some(colon) = userinfo.find(':') else { continue };
        let password = &userinfo[colon + 1..];
        if password.is_empty() || placeholder(password) {
            continue;
        }
        let start = authority_start + colon + 1;
        out.push(SecretMatch {
            start,
            end: start + password.len(),
            format: "password in a URL",
            entropy: None,
        });
    }
}

/// `key = value`, `key: value`, `"key": "value"` where the key names a credential.
fn assignments(text: &str, out: &mut Vec<SecretMatch>) {
    let bytes = text.as_bytes();
    for (at, c) in text.match_indices(['=', ':']) {
        // `==`, `:=`… and `://` are not assignments of this kind.
        if bytes.get(at + 1).is_some_and(|b| matches!(b, b'=' | b'/')) || (c == "=" && at > 0 && b"!<>=".contains(&bytes[at - 1])) {
            continue;
        }
        let Some(key) = key_before(text, at) else { continue };
        let key = key.to_ascii_lowercase().replace('-', "_");
        // `password`, `db_password`, and run-together names such as `pgpassword`.
        let names_a_credential = |k: &&str| key == *k || key.ends_with(&format!("_{k}")) || (k.len() > 6 && key.ends_with(k));
        if !CREDENTIAL_KEYS.iter().any(names_a_credential) {
            continue;
        }
        let mut start = at + 1;
        while bytes.get(start).is_some_and(|b| *b == b' ' || *b == b'\t') {
            start += 1;
        }
        let quote = bytes.get(start).copied().filter(|b| matches!(b, b'"' | b'\''));
        if quote.is_some() {
            start += 1;
        }
        let len = text[start..]
            .find(|ch: char| match quote {
                Some(q) => ch == q as char || ch == '\n',
                None => ch.is_whitespace() || matches!(ch, ',' | ';' | '}' | '"' | '\'' | '&'),
            })
            .unwrap_or(text.len() - start);
        let value = &text[start..start + len];
        if value.chars().count() < MIN_VALUE || placeholder(value) || value.eq_ignore_ascii_case(&key) {
            continue;
        }
        out.push(SecretMatch {
            start,
            end: start + len,
            format: "credential assignment",
            entropy: None,
        });
    }
}

/// The key that ends just before `at` (its closing quote and spaces
/// skipped): letters, digits, `_`, `-` and `.`.
fn key_before(text: &str, at: usize) -> Option<&str> {
    let head = text[..at].trim_end_matches([' ', '\t']);
    let head = head.strip_suffix(['"', '\'']).unwrap_or(head);
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .last()
        .map(|(i, _)| i)?;
    let key = &head[start..];
    // The last segment of a dotted key (`spring.datasource.password`).
    Some(key.rsplit('.').next().unwrap_or(key)).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut out);
        out.iter().map(|m| &text[m.start..m.end]).collect()
    }

    #[test]
    fn passwords_in_urls_and_assignments_are_found() {
        for (text, secret) in [
            ("postgres://app:s3cr3t-Pa55@db.internal:5432/app", "s3cr3t-Pa55"),
            ("git clone https://bot:ghx9Lq2Wz@example.test/r.git", "ghx9Lq2Wz"),
            ("PGPASSWORD=hunter22 psql", "hunter22"),
            ("DB_PASSWORD: 'correct horse battery'", "correct horse battery"),
            ("{\"client_secret\": \"q8Fz0-Lp3Rt\"}", "q8Fz0-Lp3Rt"),
            ("spring.datasource.password=Winter2026!", "Winter2026!"),
            ("export MYAPP_SECRETKEY=abc123def456", "abc123def456"),
            ("api-key = 7f3e9a1c5b", "7f3e9a1c5b"),
        ] {
            assert_eq!(found(text), [secret], "{text}");
        }
    }

    #[test]
    fn references_placeholders_and_prose_are_not_secrets() {
        for text in [
            "https://github.com/org/repo.git",
            "git@github.com:org/repo.git",
            "mailto:someone@example.com",
            "https://user@example.test/path",
            "password: ${DB_PASSWORD}",
            "password=<your password>",
            "api_key: null",
            "PASSWORD = os.environ[\"PASSWORD\"]",
            "password = getpass()",
            "secret: ********",
            "if password == expected:",
            "password: password",
            "the secret: keep",
            "token_count: 123456",
            "type: secret_scan",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
