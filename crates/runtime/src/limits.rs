//! `[limits]` in the bindings: hard limits of a run that LSS leaves to the
//! runtime. LSS 1.0's `cost_limits.token_soft_cap` is soft by definition
//! (it warns); a spec has no token hard cap, so it is set here, with a
//! wall-clock limit that applies beside the spec's `timeout` failure rule.
//!
//! ```toml
//! [limits]
//! max_tokens = 200000      # the run halts once its tokens pass this
//! timeout_seconds = 1800   # the run halts at this wall-clock time, its running step killed
//! ```

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most tokens (input and output, every step together) a run may use;
    /// the step that passes it is the last one.
    pub max_tokens: Option<u64>,
    /// Most wall-clock seconds a run may take from its start (waiting for a
    /// person included, as the spec's `timeout` rule): at the deadline the
    /// running step's process group is killed and the run halts.
    pub timeout_seconds: Option<u64>,
}
