//! YAML 1.2 and JSON into a tree where every key and value keeps its span.
//!
//! This is the only loopc crate that knows YAML. It refuses what a linter
//! must not silently accept (duplicate keys, several documents, alias bombs,
//! runaway nesting, non-UTF-8 and NUL bytes) with a diagnostic that points at
//! the offending byte, and resolves plain scalars by the YAML 1.2 core schema,
//! so `no`, `yes`, `on` and `off` stay strings.

// A fatal problem ends the parse with one error; they are rare, so the
// size of `Result<_, SyntaxError>` does not matter and boxing would only add noise.
#![allow(clippy::result_large_err)]

mod build;
mod decode;
mod emit;
mod error;
mod limits;
mod scalar;
mod tree;

pub use build::parse;
pub use decode::decode;
pub use emit::to_yaml;
pub use error::{SyntaxError, SyntaxErrorKind};
pub use limits::Limits;
pub use tree::{Entry, Map, Node, PathStep, Value};

use loopc_diagnostics::SourceFile;

/// The result of reading one file: its source (for rendering), the tree if
/// one could be built, and what was wrong on the way.
#[derive(Debug)]
pub struct Parsed {
    pub source: SourceFile,
    pub root: Option<Node>,
    pub errors: Vec<SyntaxError>,
}

/// Decode `bytes` read from `path` and parse them: the whole front door.
pub fn load(path: impl Into<std::path::PathBuf>, bytes: &[u8], limits: &Limits) -> Parsed {
    match decode(path, bytes, limits) {
        Ok(source) => {
            let (root, errors) = parse(&source, limits);
            Parsed { source, root, errors }
        }
        Err((source, error)) => Parsed {
            source,
            root: None,
            errors: vec![error],
        },
    }
}
