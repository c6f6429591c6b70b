//! `loopc lsp`: a language server for LSS specs.
//!
//! Diagnostics come from the engine behind `loopc check` (every rule, the
//! nearest `loopc.toml`'s levels and limits), and each has its rule's code,
//! documentation link and `--fix` edit as a quick fix. Hover explains keys
//! from the LSS schema and findings from the rules' docs; completion,
//! go-to-definition, references and rename work on the ids a spec defines
//! and references. Built on rust-analyzer's `lsp-server` scaffold, over
//! standard input and output.

pub mod completion;
pub mod convert;
pub mod document;
pub mod hover;
pub mod position;
pub mod schema_docs;
mod server;
pub mod symbols;

pub use convert::{RuleDoc, RuleDocs};
pub use document::SettingsSource;
pub use server::{serve, serve_stdio, Config, Ended, ServeError};
