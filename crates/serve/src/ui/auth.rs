//! Who may use the server: every request but `/login`, `/healthz` and the
//! signed webhook carries the token `loopc serve` was started with
//! (`LOOPC_UI_TOKEN`), as `Authorization: Bearer TOKEN` or as the cookie
//! the login form sets. A state-changing form also carries a CSRF value
//! derived from the token, and a cross-site `Origin` is refused: a page of
//! another site cannot make a logged-in browser approve a run.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tiny_http::Request;

/// The cookie the login form sets.
pub const COOKIE: &str = "loopc_ui_token";

pub struct Auth {
    token: String,
    csrf: String,
}

impl Auth {
    pub fn new(token: String) -> Auth {
        let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(b"loopc serve --ui: csrf");
        let csrf = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        Auth { token, csrf }
    }

    /// The value every state-changing form sends back.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `given` is the token (compared in constant time).
    pub fn is_token(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.token.as_bytes())
    }

    pub fn is_csrf(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.csrf.as_bytes())
    }

    /// Whether the request carries the token (bearer or cookie).
    pub fn admits(&self, request: &Request) -> bool {
        let bearer = header(request, "Authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned));
        if bearer.is_some_and(|t| self.is_token(&t)) {
            return true;
        }
        header(request, "Cookie").is_some_and(|cookies| {
            cookies
                .split(';')
                .filter_map(|c| c.trim().split_once('='))
                .any(|(name, value)| name == COOKIE && self.is_token(value))
        })
    }

    /// The `Set-Cookie` value of a login: the browser sends the token back
    /// to this server only, never to scripts, never from another site.
    pub fn login_cookie(&self) -> String {
        format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.token)
    }

    pub fn logout_cookie() -> String {
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

/// A request from a page of another origin (its `Origin` header names
/// another host than the one it was sent to). No `Origin`: not a browser's
/// cross-site form post.
pub fn cross_site(request: &Request) -> bool {
    let (Some(origin), Some(host)) = (header(request, "Origin"), header(request, "Host")) else {
        return false;
    };
    let origin = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or(&origin);
    origin != host
}

pub fn header(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_value_depends_on_the_token_and_reveals_it_not() {
        let a = Auth::new("secret-one".into());
        let b = Auth::new("secret-two".into());
        assert_ne!(a.csrf(), b.csrf());
        assert_eq!(a.csrf().len(), 64);
        assert!(!a.csrf().contains("secret"));
        assert!(a.is_csrf(a.csrf()) && !a.is_csrf(b.csrf()));
        assert!(a.is_token("secret-one") && !a.is_token("secret-on") && !a.is_token(""));
    }
}
