//! Paths as SARIF `uri` values: RFC 3986 URI references, percent-encoded
//! per path segment, so that a name with a space, `%`, `#`, `,` or a
//! non-ASCII character is still a valid URI that decodes back to the name.

use std::path::{Component, Path};

/// Whether `byte` stays as it is in a path segment: RFC 3986's unreserved
/// characters. Everything else (reserved characters included) is encoded.
fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// One path segment, percent-encoded byte by byte (UTF-8 for text; on
/// Unix, the file name's own bytes even when they are not UTF-8).
fn encode_segment(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(unix)]
fn segment_bytes(s: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().into()
}

#[cfg(not(unix))]
fn segment_bytes(s: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    match s.to_string_lossy() {
        std::borrow::Cow::Borrowed(t) => t.as_bytes().into(),
        std::borrow::Cow::Owned(t) => t.into_bytes().into(),
    }
}

/// The segments of `path`, each encoded; `.` is dropped.
fn segments(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => {
                let mut segment = String::new();
                encode_segment(&segment_bytes(name), &mut segment);
                out.push(segment);
            }
            Component::ParentDir => out.push("..".to_owned()),
            // A drive (`C:`) stays as RFC 8089 writes it: `file:///C:/…`.
            Component::Prefix(prefix) => out.push(prefix.as_os_str().to_string_lossy().replace('\\', "/")),
            Component::RootDir | Component::CurDir => {}
        }
    }
    out
}

/// A relative path (`specs/a b.yaml`) as a relative reference (`specs/a%20b.yaml`).
pub fn relative_uri(path: &Path) -> String {
    segments(path).join("/")
}

/// An absolute path as a `file:///…` URI; `directory` adds the trailing `/`
/// that a base URI needs.
pub fn file_uri(path: &Path, directory: bool) -> String {
    let mut uri = String::from("file:///");
    uri.push_str(&segments(path).join("/"));
    if directory && !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_characters_are_encoded_per_segment() {
        assert_eq!(relative_uri(Path::new("specs/a b.yaml")), "specs/a%20b.yaml");
        assert_eq!(
            relative_uri(Path::new("./x/100%,#1.yaml")),
            "x/100%25%2C%231.yaml",
            "`%`, `,` and `#` are data, not delimiters"
        );
        assert_eq!(relative_uri(Path::new("日本/é.yaml")), "%E6%97%A5%E6%9C%AC/%C3%A9.yaml");
        assert_eq!(relative_uri(Path::new("a~b_c-d.e")), "a~b_c-d.e", "unreserved stay");
        assert_eq!(relative_uri(Path::new("a:b/c?d")), "a%3Ab/c%3Fd");
    }

    #[cfg(unix)]
    #[test]
    fn absolute_paths_are_file_uris_and_directories_end_in_a_slash() {
        assert_eq!(file_uri(Path::new("/tmp/my repo"), true), "file:///tmp/my%20repo/");
        assert_eq!(file_uri(Path::new("/"), true), "file:///");
        assert_eq!(file_uri(Path::new("/x/a#b.yaml"), false), "file:///x/a%23b.yaml");
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.yaml");
        assert_eq!(relative_uri(Path::new(name)), "caf%E9.yaml");
    }
}
