//! Spans, source files and the diagnostic model shared by every loopc crate,
//! with the renderers that turn diagnostics into text for people and machines.
//!
//! Nothing here knows about YAML or LSS: a [`Diagnostic`] is a code, a severity,
//! a message, labelled byte ranges of a [`SourceFile`] and optional help.

mod diagnostic;
pub mod render;
mod source;
mod span;

pub use diagnostic::{Diagnostic, Edit, Fix, Label, RuleMeta, Severity};
pub use source::{LineCol, SourceFile};
pub use span::Span;
