//! `pii_detect`: personal data in an output, by formats that carry a check
//! of their own or a shape ordinary text does not have, so that version
//! strings, ids and dates do not trip it: `email` addresses, `phone`
//! numbers (`+` and a country code, or a North American number written
//! with separators), US social security numbers (`ssn`, `123-45-6789`,
//! outside the never-issued ranges), `credit_card` numbers (Luhn checksum,
//! a card network's prefix and length) and `iban`s (ISO 13616 mod-97).
//! `config.categories` narrows the scan (default: all). A `strip` replaces
//! each finding by `[PII:<category>]`.
//!
//! Names and street addresses have no such shape; they are left to an
//! external enforcer.

use loopc_plan::PiiKind;
use serde_json::Value;

use super::constraint::{Constraint, Context, Found};

pub(crate) struct PiiDetect {
    kinds: Vec<PiiKind>,
}

impl PiiDetect {
    pub fn new(config: &loopc_plan::PiiDetect) -> Self {
        PiiDetect {
            kinds: config.categories.clone().unwrap_or_else(|| PiiKind::ALL.to_vec()),
        }
    }
}

impl Constraint for PiiDetect {
    fn output(&self, cx: &Context<'_>, value: &Value) -> Option<Found> {
        let mut found = Vec::new();
        let redacted = walk(value, "$", &self.kinds, &mut found);
        if found.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = found.iter().take(5).map(|(kind, path)| format!("{kind} at {path}")).collect();
        if found.len() > 5 {
            parts.push(format!("and {} more", found.len() - 5));
        }
        Some(Found {
            redacted: cx.strips().then_some(redacted),
            ..Found::new(format!(
                "{} item(s) of personal data in the output: {}",
                found.len(),
                parts.join("; ")
            ))
        })
    }
}

/// The value with each finding replaced, and `(kind, JSON path)` per finding.
fn walk(value: &Value, path: &str, kinds: &[PiiKind], found: &mut Vec<(PiiKind, String)>) -> Value {
    match value {
        Value::String(s) => {
            let matches = scan(s, kinds);
            found.extend(matches.iter().map(|m| (m.kind, path.to_owned())));
            Value::String(redact(s, &matches))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| walk(v, &format!("{path}[{i}]"), kinds, found))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), walk(v, &super::json_path_child(path, k), kinds, found)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A finding: its kind and byte range in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// Every finding of `kinds` in `text`, in order, not overlapping.
pub(crate) fn scan(text: &str, kinds: &[PiiKind]) -> Vec<Match> {
    let mut all = Vec::new();
    for kind in kinds {
        let finder: fn(&str) -> Vec<(usize, usize)> = match kind {
            PiiKind::Email => emails,
            PiiKind::Phone => phones,
            PiiKind::Ssn => ssns,
            PiiKind::CreditCard => cards,
            PiiKind::Iban => ibans,
        };
        all.extend(finder(text).into_iter().map(|(start, end)| Match { kind: *kind, start, end }));
    }
    all.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut out: Vec<Match> = Vec::with_capacity(all.len());
    for m in all {
        if out.last().is_none_or(|last| m.start >= last.end) {
            out.push(m);
        }
    }
    out
}

fn redact(text: &str, matches: &[Match]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in matches {
        out.push_str(&text[at..m.start]);
        out.push_str(&format!("[PII:{}]", m.kind));
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

fn email_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}

fn email_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// `local@domain.tld`: a dotted domain whose last label is two or more letters.
fn emails(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = (0..at).rev().take_while(|&i| email_local(bytes[i])).last().unwrap_or(at);
        let mut end = (at + 1..bytes.len())
            .take_while(|&i| email_domain(bytes[i]))
            .last()
            .map_or(at + 1, |i| i + 1);
        // A sentence's full stop or a trailing hyphen is not part of the domain.
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        // `git@github.com:org/repo`: an SSH remote (user@host:path), not a mailbox.
        if bytes.get(end) == Some(&b':') {
            continue;
        }
        let local = &text[start..at];
        let domain = &text[at + 1..end];
        let labels: Vec<&str> = domain.split('.').collect();
        let tld = labels.last().copied().unwrap_or("");
        let valid = !local.is_empty()
            && !documentation_domain(domain)
            && !local.starts_with('.')
            && labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            && tld.len() >= 2
            && tld.bytes().all(|b| b.is_ascii_alphabetic());
        if valid && out.last().is_none_or(|&(_, e)| start >= e) {
            out.push((start, end));
        }
    }
    out
}

/// The domains reserved for documentation and tests (RFC 2606, RFC 6761):
/// `user@example.com` in a README or a test is nobody's address.
fn documentation_domain(domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || [".example", ".test", ".invalid", ".localhost"].iter().any(|t| domain.ends_with(t))
}

/// Runs of digits with one or two separators between groups, not inside
/// a longer run of digits or word characters: `(start, end, digits)`.
fn digit_runs(text: &str, separators: &[u8]) -> Vec<(usize, usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        let mut end = i;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                digits.push(bytes[i] as char);
                i += 1;
                end = i;
            } else if separators.contains(&bytes[i]) {
                // One or two separators (`) ` in a phone number), then a digit.
                let gap = if i + 1 < bytes.len() && separators.contains(&bytes[i + 1]) {
                    2
                } else {
                    1
                };
                if i + gap < bytes.len() && bytes[i + gap].is_ascii_digit() {
                    i += gap;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        let glued = end < bytes.len() && (bytes[end].is_ascii_alphabetic() || bytes[end] == b'_');
        if !glued {
            out.push((start, end, digits));
        }
    }
    out
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Whether `digits` has the prefix and a length of a card network (Visa,
/// Mastercard, American Express, Discover, JCB, Diners Club, UnionPay).
fn card_network(digits: &str) -> bool {
    let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let len = digits.len();
    let visa = digits.starts_with('4') && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4))) && len == 16;
    let amex = matches!(prefix(2), 34 | 37) && len == 15;
    let discover = (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3))) && (16..=19).contains(&len);
    let jcb = (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38)) && (14..=19).contains(&len);
    let unionpay = prefix(2) == 62 && (16..=19).contains(&len);
    visa || mastercard || amex || discover || jcb || diners || unionpay
}

/// A card network's number (grouped by spaces or hyphens, or not),
/// Luhn-valid and not all one digit.
fn cards(text: &str) -> Vec<(usize, usize)> {
    digit_runs(text, b" -")
        .into_iter()
        .filter(|(_, _, d)| card_network(d) && luhn(d) && d.bytes().any(|b| b != d.as_bytes()[0]))
        .map(|(s, e, _)| (s, e))
        .collect()
}

/// `+` and 8 to 15 digits starting with a country code (E.164, grouped by
/// spaces, hyphens, dots or a bracketed area code), or a North American
/// number with its separators: `(212) 555-0147`, `212-555-0147`,
/// `212.555.0147` (area code and exchange starting 2–9).
fn phones(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (start, end, digits) in digit_runs(text, b" -.()") {
        let international = start > 0 && bytes[start - 1] == b'+';
        let from = if international || (start > 0 && bytes[start - 1] == b'(') {
            start - 1
        } else {
            start
        };
        let before_ok = from == 0 || !(bytes[from - 1].is_ascii_alphanumeric() || bytes[from - 1] == b'+');
        let found = if international {
            // Bare `+12345678` is as likely a number in a diff: ungrouped
            // numbers need the length of a full international number.
            let grouped = end - start > digits.len();
            !digits.starts_with('0') && (8..=15).contains(&digits.len()) && (grouped || digits.len() >= 10)
        } else {
            nanp(&text[from..end], &digits)
        };
        if found && before_ok {
            out.push((from, end));
        }
    }
    out
}

/// `(NPA) NXX-XXXX`, `NPA-NXX-XXXX` or `NPA.NXX.XXXX`, N being 2–9.
fn nanp(shape: &str, digits: &str) -> bool {
    let d = digits.as_bytes();
    let groups = [
        format!(
            "({}) {}-{}",
            &digits.get(..3).unwrap_or(""),
            &digits.get(3..6).unwrap_or(""),
            &digits.get(6..).unwrap_or("")
        ),
        format!(
            "{}-{}-{}",
            &digits.get(..3).unwrap_or(""),
            &digits.get(3..6).unwrap_or(""),
            &digits.get(6..).unwrap_or("")
        ),
        format!(
            "{}.{}.{}",
            &digits.get(..3).unwrap_or(""),
            &digits.get(3..6).unwrap_or(""),
            &digits.get(6..).unwrap_or("")
        ),
    ];
    d.len() == 10 && (b'2'..=b'9').contains(&d[0]) && (b'2'..=b'9').contains(&d[3]) && groups.iter().any(|g| g == shape)
}

/// `AAA-GG-SSSS` with the hyphens, outside the ranges never issued (area
/// 000, 666, 900–999; group 00; serial 0000).
fn ssns(text: &str) -> Vec<(usize, usize)> {
    digit_runs(text, b"-")
        .into_iter()
        .filter(|&(s, e, ref d)| {
            let shape = &text.as_bytes()[s..e];
            d.len() == 9
                && shape.len() == 11
                && shape[3] == b'-'
                && shape[6] == b'-'
                && !matches!(&d[..3], "000" | "666")
                && !d.starts_with('9')
                && &d[3..5] != "00"
                && &d[5..] != "0000"
        })
        .map(|(s, e, _)| (s, e))
        .collect()
}

/// A country code, two check digits and 11–30 letters or digits (in groups
/// of four separated by single spaces, or not), whose mod-97 value is 1.
fn ibans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let starts = bytes[i].is_ascii_uppercase()
            && bytes[i + 1].is_ascii_uppercase()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let mut chars: Vec<u8> = bytes[i..i + 4].to_vec();
        let mut end = i + 4;
        let mut j = end;
        while j < bytes.len() && chars.len() < 34 {
            if bytes[j].is_ascii_uppercase() || bytes[j].is_ascii_digit() {
                chars.push(bytes[j]);
                j += 1;
                end = j;
            } else if bytes[j] == b' ' && j + 1 < bytes.len() && bytes[j + 1].is_ascii_alphanumeric() && (chars.len() % 4 == 0) {
                j += 1;
            } else {
                break;
            }
        }
        let glued = end < bytes.len() && bytes[end].is_ascii_alphanumeric();
        if (15..=34).contains(&chars.len()) && !glued && iban_checksum(&chars) {
            out.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// ISO 13616: move the first four characters to the end, letters to
/// 10..35, the number mod 97 is 1.
fn iban_checksum(chars: &[u8]) -> bool {
    let mut rest = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let value = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rest = if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        };
    }
    rest == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_in(text: &str) -> Vec<(PiiKind, &str)> {
        scan(text, PiiKind::ALL)
            .into_iter()
            .map(|m| (m.kind, &text[m.start..m.end]))
            .collect()
    }

    #[test]
    fn finds_each_kind_with_its_own_check() {
        assert_eq!(
            kinds_in("mail jane.doe+ci@acme.co.uk."),
            [(PiiKind::Email, "jane.doe+ci@acme.co.uk")]
        );
        assert_eq!(
            kinds_in("card 4111 1111 1111 1111 ok"),
            [(PiiKind::CreditCard, "4111 1111 1111 1111")]
        );
        assert_eq!(kinds_in("amex 3782-822463-10005"), [(PiiKind::CreditCard, "3782-822463-10005")]);
        assert_eq!(kinds_in("ssn 123-45-6789;"), [(PiiKind::Ssn, "123-45-6789")]);
        assert_eq!(kinds_in("call +44 20 7946 0958."), [(PiiKind::Phone, "+44 20 7946 0958")]);
        assert_eq!(
            kinds_in("call (212) 555-0147 or 212.555.0199"),
            [(PiiKind::Phone, "(212) 555-0147"), (PiiKind::Phone, "212.555.0199")]
        );
        assert_eq!(
            kinds_in("pay GB82 WEST 1234 5698 7654 32 now"),
            [(PiiKind::Iban, "GB82 WEST 1234 5698 7654 32")]
        );
        assert_eq!(kinds_in("DE89370400440532013000"), [(PiiKind::Iban, "DE89370400440532013000")]);
    }

    #[test]
    fn ordinary_text_is_not_personal_data() {
        for text in [
            "git@github.com:org/repo.git is a remote; user@localhost too",
            "version 1.2.3 at 2026-12-02T10:00:00Z, build 20261202100000",
            "sha 4111111111111112 fails Luhn; 0000000000000000 is one digit",
            "order 123456789012 of 12 digits; ticket ABC-1234567890123",
            "ssn-shaped but never issued: 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567",
            "GB82 WEST 1234 5698 7654 33 has a wrong checksum",
            "x@y, a@b.c, @handle, name@domain.123",
            "versions 10.20.3040, 1.2.3-4, ip 192.168.100.200, 2026-12-02, range 100-200-3000",
            "a score of +5 and a delta of +1234567, a diff line +12345678",
            "docs: user@example.com, ci@build.example, a@b.test",
            "uuid 550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert_eq!(kinds_in(text), [], "{text}");
        }
    }

    #[test]
    fn kinds_narrow_the_scan_and_strip_names_the_kind() {
        let text = "jane@acme.io 123-45-6789";
        assert_eq!(scan(text, &[PiiKind::Ssn]).len(), 1);
        assert_eq!(redact(text, &scan(text, PiiKind::ALL)), "[PII:email] [PII:ssn]");
    }

    #[test]
    fn a_digit_run_inside_a_word_is_not_a_card() {
        assert_eq!(kinds_in("id_4111111111111111 and 4111111111111111abc"), []);
    }
}
