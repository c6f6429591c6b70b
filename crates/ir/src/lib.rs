//! The typed intermediate representation of an LSS 1.0 document, with the
//! LSS 1.1 `composition` block, lowered from the spanned syntax tree.
//!
//! Lowering is lenient on purpose: a field of the wrong type becomes `None`
//! (the schema layer reports it), so the semantic rules can still run on
//! the rest of a broken document and report everything in one pass.

mod lower;
mod meant;
mod model;
pub mod safety_config;
mod spanned;
pub mod when;

pub use lower::lower;
pub use model::*;
pub use spanned::Sp;
