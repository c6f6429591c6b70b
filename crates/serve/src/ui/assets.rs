//! The UI's static files, compiled into the binary: its stylesheet and
//! script, and Mermaid (vendored, see assets/README.md), gzip-compressed
//! as it is stored.

use tiny_http::{Request, Response};

pub const CSS: &str = include_str!("../../assets/ui.css");
const JS: &str = include_str!("../../assets/ui.js");
/// Mermaid 11.17.2's `dist/mermaid.min.js`, gzip -9.
const MERMAID_GZ: &[u8] = include_bytes!("../../assets/mermaid.min.js.gz");

pub fn serve(request: Request, name: &str) {
    let (body, content_type, gzip): (&[u8], &str, bool) = match name {
        "ui.css" => (CSS.as_bytes(), "text/css; charset=utf-8", false),
        "ui.js" => (JS.as_bytes(), "text/javascript; charset=utf-8", false),
        "mermaid.min.js" => (MERMAID_GZ, "text/javascript; charset=utf-8", true),
        _ => {
            let _ = request.respond(Response::from_string("no such asset").with_status_code(404));
            return;
        }
    };
    let mut response = Response::from_data(body.to_vec());
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Cache-Control", "private, max-age=3600"),
        ("X-Content-Type-Options", "nosniff"),
    ];
    if gzip {
        // Every browser takes gzip; the file is stored compressed.
        headers.push(("Content-Encoding", "gzip"));
    }
    for h in headers.into_iter().filter_map(|(k, v)| super::header(k, v)) {
        response.add_header(h);
    }
    let _ = request.respond(response);
}
