//! GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the
//! HMAC-SHA256 of the raw body under the shared secret. Compared in
//! constant time (`Mac::verify_slice`), so a timing side channel does not
//! reveal how much of a forged signature was right.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether `header` is the signature of `body` under `secret`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(given) = decode_hex(hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The header value that signs `body` (for tests and documentation).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_githubs_example_and_nothing_else() {
        // The example of GitHub's "Validating webhook deliveries" page.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(b"It's a Secret to Everybody", b"Hello, World!", Some(header)));
        assert_eq!(sign(b"It's a Secret to Everybody", b"Hello, World!"), header);
        assert!(!verify(b"another secret", b"Hello, World!", Some(header)));
        assert!(!verify(b"It's a Secret to Everybody", b"Hello, World?", Some(header)));
        assert!(!verify(b"It's a Secret to Everybody", b"Hello, World!", None));
        assert!(!verify(b"It's a Secret to Everybody", b"Hello, World!", Some("sha1=757107")));
        assert!(!verify(b"It's a Secret to Everybody", b"Hello, World!", Some("sha256=zz")));
        assert!(!verify(b"It's a Secret to Everybody", b"Hello, World!", Some(&header[..20])));
    }
}
