//! `loopc lsp`: the language server of `crates/lsp`, over standard input
//! and output, with the rules' documentation from `loopc explain` and the
//! links SARIF gives them.

use std::path::Path;

use clap::Args;
use loopc_lsp::{Config, Ended, RuleDoc, RuleDocs, SettingsSource};

use super::{sarif, usage_error, EXIT_FINDINGS, EXIT_OK};

#[derive(Args, Debug)]
pub struct LspArgs {
    /// Talk over standard input and output. This is the only transport and
    /// the default; the flag is accepted because editors' LSP clients pass it.
    #[arg(long)]
    pub stdio: bool,
}

/// Serve until the client ends the conversation. `--config` and
/// `--no-config` apply to every document; without them each document
/// gets the nearest `loopc.toml` upward from it.
pub fn run(_args: &LspArgs, config: Option<&Path>, no_config: bool) -> u8 {
    let settings = match (no_config, config) {
        (true, _) => SettingsSource::Defaults,
        (false, Some(file)) => SettingsSource::File(file.to_path_buf()),
        (false, None) => SettingsSource::Nearest,
    };
    let config = Config {
        settings,
        rules: rule_docs(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    match loopc_lsp::serve_stdio(config) {
        Ok(Ended::Shutdown) => EXIT_OK,
        // The protocol: without `shutdown` first, the server exits with 1.
        Ok(Ended::ExitWithoutShutdown | Ended::Disconnected) => EXIT_FINDINGS,
        Err(e) => usage_error(format!("lsp: {e}")),
    }
}

/// Every rule's `loopc explain` text and docs/rules.md address.
fn rule_docs() -> RuleDocs {
    let mut docs = RuleDocs::default();
    for rule in sarif::rules() {
        docs.insert(
            rule.meta.code,
            RuleDoc {
                text: rule.help_text,
                url: Some(rule.help_uri),
            },
        );
    }
    docs
}
