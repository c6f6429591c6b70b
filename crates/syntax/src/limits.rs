/// Resource limits applied while reading a file. They exist so that hostile
/// or broken input fails fast with a clear message instead of exhausting
/// memory or time; the defaults are far above any real spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: usize,
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// Most nodes that alias expansion (`*name`) may add to the tree, each
    /// 64 bytes of copied text counting as one more node. A "billion
    /// laughs" document needs billions; real specs need a handful.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 16 * 1024 * 1024,
            max_depth: 128,
            max_alias_nodes: 100_000,
        }
    }
}
