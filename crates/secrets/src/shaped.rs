//! Secrets recognised by their shape rather than a prefix: PEM private-key
//! blocks, JSON Web Tokens, and AWS secret keys by the name before them.

use crate::{escape_before, run_len, runs_of, SecretMatch};

/// An AWS secret access key: 40 characters of `[A-Za-z0-9/+]`, standing
/// alone, with `aws` and `secret` in the 48 characters before it (as in
/// `AWS_SECRET_ACCESS_KEY=…` or `aws_secret_access_key: …`); the key
/// itself has no prefix to recognise it by.
pub(crate) fn aws_secret_keys(text: &str, out: &mut Vec<SecretMatch>) {
    let class = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    for std::ops::Range { start, end } in runs_of(text.as_bytes(), class) {
        if end - start != 40 {
            continue;
        }
        let mut from = start.saturating_sub(48);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let before = text[from..start].to_ascii_lowercase();
        if before.contains("aws") && before.contains("secret") {
            out.push(SecretMatch {
                start,
                end,
                format: "AWS secret access key",
                entropy: None,
            });
        }
    }
}

/// `-----BEGIN … PRIVATE KEY-----` through its `-----END … PRIVATE KEY-----` (or the end).
pub(crate) fn private_keys(text: &str, out: &mut Vec<SecretMatch>) {
    for (at, _) in text.match_indices("-----BEGIN ") {
        let label_start = at + "-----BEGIN ".len();
        let label_len = text[label_start..]
            .bytes()
            .take(60)
            .take_while(|b| b.is_ascii_uppercase() || *b == b' ')
            .count();
        let label = &text[label_start..label_start + label_len];
        // `RSA PRIVATE KEY`, `OPENSSH PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`, …
        let private = label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK");
        if !private || !text[label_start + label_len..].starts_with("-----") {
            continue;
        }
        // Through the `-----` that closes the `-----END …` line, else to the end.
        let end = text[label_start..]
            .find("-----END ")
            .map(|e| label_start + e + "-----END ".len())
            .and_then(|end_label| text[end_label..].find("-----").map(|k| end_label + k + "-----".len()))
            .unwrap_or(text.len());
        out.push(SecretMatch {
            start: at,
            end,
            format: "private key",
            entropy: None,
        });
    }
}

/// `eyJ….eyJ….…` (base64url header and payload of JSON objects, any signature).
pub(crate) fn jwts(text: &str, out: &mut Vec<SecretMatch>) {
    let bytes = text.as_bytes();
    let seg = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    for (at, _) in text.match_indices("eyJ") {
        if at > 0 && (seg(bytes[at - 1]) || bytes[at - 1] == b'.') && !escape_before(bytes, at) {
            continue;
        }
        let h = run_len(bytes, at, seg);
        let p_start = at + h;
        if bytes.get(p_start) != Some(&b'.') || !text[p_start + 1..].starts_with("eyJ") {
            continue;
        }
        let p = run_len(bytes, p_start + 1, seg);
        let s_start = p_start + 1 + p;
        if bytes.get(s_start) != Some(&b'.') {
            continue;
        }
        let s = run_len(bytes, s_start + 1, seg);
        out.push(SecretMatch {
            start: at,
            end: s_start + 1 + s,
            format: "JWT",
            entropy: None,
        });
    }
}
