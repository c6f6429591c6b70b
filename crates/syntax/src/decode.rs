use std::path::PathBuf;

use loopc_diagnostics::{SourceFile, Span};

use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::Limits;

/// Turn raw bytes into source text: size limit, UTF-8 (a leading BOM is
/// dropped), no NUL bytes. On failure the returned source still allows the
/// diagnostic to be rendered with a line and column.
pub fn decode(path: impl Into<PathBuf>, bytes: &[u8], limits: &Limits) -> Result<SourceFile, (SourceFile, SyntaxError)> {
    let path = path.into();
    if bytes.len() > limits.max_file_bytes {
        let source = SourceFile::new(path, String::new());
        let d = SyntaxError::new(
            SyntaxErrorKind::FileTooLarge,
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
            let d = SyntaxError::new(
                SyntaxErrorKind::InvalidUtf8,
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
        let d = SyntaxError::new(
            SyntaxErrorKind::NulByte,
            format!("NUL byte at byte offset {offset}"),
            Span::new(offset, offset + 1),
        )
        .with_label("NUL byte")
        .with_help("YAML does not allow NUL characters; the file may be binary or UTF-16 encoded");
        return Err((source, d));
    }
    Ok(source)
}
