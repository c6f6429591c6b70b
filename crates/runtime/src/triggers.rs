//! What starts runs without a person at a terminal (`loopc serve`): the
//! `[[schedule]]`, `[[hook]]` and `[webhook]` tables of the bindings. Only
//! their shape lives here; the server that reads the clock and the HTTP
//! requests is the `loopc-serve` crate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[[schedule]]`: run `spec` whenever the cron expression is due.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Names the schedule in the queue and the log (default `schedule-<n>`).
    pub name: Option<String>,
    /// Five fields (minute hour day-of-month month day-of-week), in UTC.
    pub cron: String,
    /// The spec to run, relative to the bindings file.
    pub spec: PathBuf,
    /// `--input` values for the run.
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// A work pool's items file (`--items`), relative to the bindings file.
    pub items: Option<PathBuf>,
    /// A command that lists the items (`--items-from`).
    pub items_from: Option<String>,
}

/// `[[hook]]`: a webhook event that enqueues a run of `spec`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The GitHub event (`X-GitHub-Event`), e.g. `issues`, `pull_request`.
    pub event: String,
    /// The payload's `action`s that count (empty: any).
    #[serde(default)]
    pub actions: Vec<String>,
    /// The spec to run, relative to the bindings file.
    pub spec: PathBuf,
    /// Where the work items are in the payload: a dotted path to an object
    /// (one item) or an array (many), e.g. `issue`; empty: the payload is the item.
    #[serde(default)]
    pub items: String,
    /// `--input` values for the run.
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
}

/// `[webhook]`: how webhook requests are authenticated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The environment variable holding the shared secret GitHub signs
    /// deliveries with (`X-Hub-Signature-256`).
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            secret_env: default_secret_env(),
        }
    }
}

fn default_secret_env() -> String {
    "LOOPC_WEBHOOK_SECRET".to_owned()
}
