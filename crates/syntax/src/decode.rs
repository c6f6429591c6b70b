use std::path::PathBuf;

use loopc_diagnostics::{Diagnostic, SourceFile, Span};

use crate::codes::{FILE_TOO_LARGE, INVALID_UTF8, NUL_BYTE};
use crate::Limits;

/// Turn raw bytes into source text: size limit, UTF-8 (a leading BOM is
/// dropped), no NUL bytes. On failure the returned source still allows the
/// diagnostic to be rendered with a line and column.
pub fn decode(path: impl Into<PathBuf>, bytes: &[u8], limits: &Limits) -> Result<SourceFile, (SourceFile, Diagnostic)> {
    let path = path.into();
    if bytes.len() > limits.max_file_bytes {
        let source = SourceFile::new(path, String::new());
        let d = Diagnostic::error(
            FILE_TOO_LARGE.0,
            FILE_TOO_LARGE.1,
            format!(
                "file is {} bytes, more than the limit of {} bytes",
                bytes.len(),
                limits.max_file_bytes
            ),
            Span::point(0),
        )
        .with_help("raise `limits.max_file_bytes` in loopc.toml (or --max-file-bytes) if this file is meant to be this large");
        return Err((source, d));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.valid_up_to();
            // The valid prefix is kept as is by the lossy conversion, so the
            // offset still names the right line and column.
            let source = SourceFile::new(path, String::from_utf8_lossy(bytes).into_owned());
            let bad = bytes[offset];
            let d = Diagnostic::error(
                INVALID_UTF8.0,
                INVALID_UTF8.1,
                format!("invalid UTF-8: byte 0x{bad:02X} at byte offset {offset}"),
                Span::new(offset, offset + 1),
            )
            .with_label("not UTF-8")
            .with_help("YAML files must be UTF-8; re-encode the file (for Latin-1: `iconv -f latin1 -t utf-8`)");
            return Err((source, d));
        }
    };
    let source = SourceFile::new(path, text);
    if let Some(offset) = text.bytes().position(|b| b == 0) {
        let d = Diagnostic::error(
            NUL_BYTE.0,
            NUL_BYTE.1,
            format!("NUL byte at byte offset {offset}"),
            Span::new(offset, offset + 1),
        )
        .with_label("NUL byte")
        .with_help("YAML does not allow NUL characters; the file may be binary or UTF-16 encoded");
        return Err((source, d));
    }
    Ok(source)
}
