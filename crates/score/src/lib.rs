//! LES 1.0 scoring (see crate docs in lib.rs once written).
