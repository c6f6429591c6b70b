//! `loopc serve --ui`: web pages for the people in the loop — the runs,
//! a run's live progress, its phase graph, its iterations and trace, pool
//! reports, and the runs that wait for a person with approve / reject.
//!
//! Server-rendered HTML (minijinja, auto-escaped), usable without
//! JavaScript; a small script adds the live parts (Server-Sent Events) and
//! draws the diagrams with the Mermaid bundled in the binary (no CDN: the
//! pages work offline). A decision is not taken by the server itself: it is
//! queued and executed as `loopc approve|reject RUN --note …`, exactly what
//! a person would type, by the same dispatcher as triggered runs.

mod assets;
pub mod auth;
mod pages;
mod sse;

use std::io::Read;
use std::path::PathBuf;

use loopc_runtime::Store;
use minijinja::Environment;
use serde_json::Value;
use tiny_http::{Header, Method, Request, Response};

use auth::Auth;

/// The largest form body read.
const MAX_FORM: u64 = 64 * 1024;

pub struct Ui {
    auth: Auth,
    env: Environment<'static>,
    /// The `loopc` executable (`loopc diagram` draws the phase graphs).
    exe: PathBuf,
    state_dir: PathBuf,
}

/// What a page handler answers.
pub(crate) enum Page {
    Html(u16, String),
    /// `303 See Other` to `to`, setting `cookie` when there is one.
    Redirect {
        to: String,
        cookie: Option<String>,
    },
}

impl Ui {
    pub fn new(token: String, exe: PathBuf, state_dir: PathBuf) -> Result<Ui, String> {
        let mut env = Environment::new();
        env.add_filter("code_spans", |text: String| minijinja::Value::from_safe_string(code_spans(&text)));
        for (name, text) in TEMPLATES {
            env.add_template(name, text).map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(Ui {
            auth: Auth::new(token),
            env,
            exe,
            state_dir,
        })
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Answer `request` when it is one of the UI's; give it back when not.
    pub fn handle(&self, store: &Store, mut request: Request) -> Option<Request> {
        let url = request.url().to_owned();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let query = form(query.as_bytes());
        let method = request.method().clone();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let page = match (&method, segments.as_slice()) {
            (Method::Get, ["login"]) => Page::Html(200, self.login_page(false, get(&query, "next"))),
            (Method::Post, ["login"]) => return self.login(request),
            (Method::Post, ["logout"]) => match self.own_form(&mut request) {
                Some(_) => redirect("/login", Some(Auth::logout_cookie())),
                None => self.forbidden(store),
            },
            (Method::Get, ["assets", name]) => {
                assets::serve(request, name);
                return None;
            }
            (Method::Get, [""]) => pages::runs(self, store, &query),
            (Method::Get, ["queue"]) => pages::queue(self, store, &query),
            (Method::Get, ["pools", id]) => pages::pool(self, store, id),
            (Method::Get, ["runs", id]) => pages::run(self, store, id, &query),
            (Method::Get, ["runs", id, "trace.json"]) => return pages::trace(request, store, id),
            (Method::Get, ["runs", id, "events"]) => match store.find_run(id) {
                Ok(row) => {
                    sse::stream(request, self.state_dir.clone(), row.id);
                    return None;
                }
                Err(e) => Page::Html(404, self.error_page(store, "No such run", &e.to_string())),
            },
            (Method::Post, ["runs", id, "decision"]) => match self.own_form(&mut request) {
                Some(fields) => pages::decide(self, store, id, &fields),
                None => self.forbidden(store),
            },
            _ => return Some(request),
        };
        respond_with(request, page);
        None
    }

    /// The fields of a form that one of this server's pages sent (its CSRF
    /// value matches, no other site's `Origin`); `None` for any other.
    fn own_form(&self, request: &mut Request) -> Option<Vec<(String, String)>> {
        let fields = read_form(request);
        (!auth::cross_site(request) && self.auth.is_csrf(get(&fields, "csrf"))).then_some(fields)
    }

    fn forbidden(&self, store: &Store) -> Page {
        Page::Html(
            403,
            self.error_page(store, "Forbidden", "The form did not come from this server's pages."),
        )
    }

    fn login(&self, mut request: Request) -> Option<Request> {
        let fields = read_form(&mut request);
        let next = safe_next(get(&fields, "next"));
        if self.auth.is_token(get(&fields, "token")) {
            respond_with(request, redirect(&next, Some(self.auth.login_cookie())));
        } else {
            respond_with(request, Page::Html(401, self.login_page(true, &next)));
        }
        None
    }

    pub(crate) fn login_page(&self, failed: bool, next: &str) -> String {
        self.render(
            "login.html",
            serde_json::json!({"failed": failed, "next": safe_next(next), "css": assets::CSS}),
        )
    }

    pub(crate) fn error_page(&self, store: &Store, title: &str, message: &str) -> String {
        self.page(store, "error.html", "", serde_json::json!({"title": title, "message": message}))
    }

    /// A page of the site: `values` and what every page shows (the CSRF
    /// value for its forms, how many runs wait for a person).
    pub(crate) fn page(&self, store: &Store, template: &str, page: &str, mut values: Value) -> String {
        if let Value::Object(map) = &mut values {
            map.insert("page".into(), page.into());
            map.insert("csrf".into(), self.auth.csrf().into());
            map.insert("waiting".into(), pages::waiting(store).len().into());
        }
        self.render(template, values)
    }

    fn render(&self, template: &str, values: Value) -> String {
        self.env
            .get_template(template)
            .and_then(|t| t.render(minijinja::value::Serde(&values)))
            .unwrap_or_else(|e| {
                format!(
                    "<!doctype html><title>Error</title><p>rendering {template}: {}</p>",
                    html_escape(&e.to_string())
                )
            })
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("runs.html", include_str!("../../templates/runs.html")),
    ("queue.html", include_str!("../../templates/queue.html")),
    ("decision.html", include_str!("../../templates/decision.html")),
    ("run.html", include_str!("../../templates/run.html")),
    ("pool.html", include_str!("../../templates/pool.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// Where a login goes on to: a path of this site only, of characters a
/// URL path and query take as they are — never `//other`, nor a tab, CR
/// or LF a browser would drop (`/\t/other` is `//other`), nor anything a
/// `Location` header could not carry.
fn safe_next(next: &str) -> String {
    let plain = next.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-.~?=&%+:,".contains(&b));
    if plain && next.starts_with('/') && !next.starts_with("//") {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

pub(crate) fn redirect(to: &str, cookie: Option<String>) -> Page {
    Page::Redirect { to: to.to_owned(), cookie }
}

/// The security headers of every page: no framing, no third-party
/// anything, scripts from this server only (Mermaid's SVG carries inline
/// styles, hence `style-src 'unsafe-inline'`).
fn page_headers() -> Vec<Header> {
    [
        ("Content-Type", "text/html; charset=utf-8"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        // Not `no-referrer`: with it Chromium sends `Origin: null` on the site's own forms.
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]
    .into_iter()
    .filter_map(|(k, v)| header(k, v))
    .collect()
}

/// A header, when `value` can be one (printable ASCII): request data never
/// reaches a header unchecked, and a bad one is left out, not a panic.
pub(crate) fn header(name: &str, value: &str) -> Option<Header> {
    if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return None;
    }
    Header::from_bytes(name, value).ok()
}

pub(crate) fn respond_with(request: Request, page: Page) {
    let response = match page {
        Page::Html(status, body) => {
            let mut r = Response::from_string(body).with_status_code(status);
            for h in page_headers() {
                r.add_header(h);
            }
            r
        }
        Page::Redirect { to, cookie } => {
            let mut r = Response::from_string(String::new()).with_status_code(303);
            r.add_header(header("Location", &to).unwrap_or_else(|| header("Location", "/").expect("a plain header")));
            if let Some(c) = cookie.as_deref().and_then(|c| header("Set-Cookie", c)) {
                r.add_header(c);
            }
            r
        }
    };
    let _ = request.respond(response);
}

/// `401` for a request without the token: a page that links to the login
/// form for a browser, JSON for the API.
pub fn unauthorized(ui: &Ui, request: Request) {
    let url = request.url().to_owned();
    let path = url.split('?').next().unwrap_or("/").to_owned();
    if path.starts_with("/api/") || path.ends_with("/events") || path.starts_with("/assets/") {
        let body = serde_json::json!({"error": "this server needs its token: Authorization: Bearer $LOOPC_UI_TOKEN"}).to_string();
        let mut r = Response::from_string(body).with_status_code(401);
        r.add_header(header("Content-Type", "application/json").expect("a plain header"));
        r.add_header(header("WWW-Authenticate", "Bearer").expect("a plain header"));
        let _ = request.respond(r);
        return;
    }
    let next = if request.method() == &Method::Get { url } else { "/".to_owned() };
    respond_with(request, Page::Html(401, ui.login_page(false, &next)));
}

/// The fields of a form body or a query string.
pub(crate) fn form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The fields of a form body; none when it is larger than a form of these
/// pages can be (its CSRF check then fails).
fn read_form(request: &mut Request) -> Vec<(String, String)> {
    if request.body_length().is_some_and(|n| n as u64 > MAX_FORM) {
        return Vec::new();
    }
    let mut body = Vec::new();
    if request.as_reader().take(MAX_FORM).read_to_end(&mut body).is_err() {
        return Vec::new();
    }
    form(&body)
}

pub(crate) fn get<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// `text` escaped for HTML, with its `backtick` spans as `<code>` (the
/// runtime's messages quote commands that way).
fn code_spans(text: &str) -> String {
    let mut out = String::new();
    for (n, part) in html_escape(text).split('`').enumerate() {
        if n % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    // An odd number of backticks: the last one was not a span's end.
    if text.matches('`').count() % 2 == 1 {
        return html_escape(text);
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_goes_on_to_this_site_only() {
        assert_eq!(safe_next("/runs/r1"), "/runs/r1");
        assert_eq!(safe_next("/?status=running&q=a%20b"), "/?status=running&q=a%20b");
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\r\nSet-Cookie: x=1"), "/");
        assert_eq!(safe_next("/runs/\u{e9}"), "/");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn backtick_spans_become_code_and_nothing_else_is_markup() {
        assert_eq!(code_spans("run `loopc approve r1` now"), "run <code>loopc approve r1</code> now");
        assert_eq!(code_spans("<b>`x`</b>"), "&lt;b&gt;<code>x</code>&lt;/b&gt;");
        assert_eq!(code_spans("a ` b"), "a ` b");
    }

    #[test]
    fn every_template_parses() {
        let ui = Ui::new("t".into(), PathBuf::from("loopc"), PathBuf::from(".")).unwrap();
        for (name, _) in TEMPLATES {
            assert!(ui.env.get_template(name).is_ok(), "{name}");
        }
    }
}
