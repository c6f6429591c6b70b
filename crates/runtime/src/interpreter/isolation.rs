//! What keeps a run's processes in their place: the OS sandbox settings
//! for the run, and the digests of the files its executors run.

use std::path::PathBuf;

/// Each file with the SHA-256 of its content (`missing` when it is not there).
pub(super) fn digests(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    files
        .iter()
        .map(|f| {
            let content = std::fs::read(f).map_or_else(|_| "missing".to_owned(), |b| crate::safety::secrets::sha256_hex(&b));
            (f.clone(), content)
        })
        .collect()
}

/// How the run's processes are isolated (see [`crate::process::Isolation`]):
/// loopc's state directory (and, for the default location, every project's)
/// not mounted, the bindings file empty, the read-only files read-only.
pub(super) fn isolation_for(
    sandbox: &crate::bindings::SandboxConfig,
    workspace: &std::path::Path,
    state_dir: &std::path::Path,
    bindings_file: Option<&std::path::Path>,
    read_only: &[PathBuf],
) -> Result<crate::process::Isolation, String> {
    use crate::process::IsolationMode;
    let bwrap = match sandbox.isolation {
        IsolationMode::None => None,
        IsolationMode::Auto => crate::process::bubblewrap().map(std::path::Path::to_path_buf),
        IsolationMode::Bwrap => Some(crate::process::bubblewrap().map(std::path::Path::to_path_buf).ok_or(
            "[sandbox] isolation = \"bwrap\": bubblewrap is not installed here, or cannot create namespaces (install the `bubblewrap` package)",
        )?),
    };
    let root = std::fs::canonicalize(workspace).map_err(|e| format!("workspace {}: {e}", workspace.display()))?;
    let state = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let mut hidden_dirs = vec![state.clone()];
    // The default location holds every project's runs: none of them is any
    // worker's business, whichever state directory this run uses.
    if let Some(all) = crate::default_state_base().and_then(|b| std::fs::canonicalize(b).ok()) {
        hidden_dirs.push(all);
    }
    let mut hidden_files: Vec<PathBuf> = bindings_file.and_then(|f| std::fs::canonicalize(f).ok()).into_iter().collect();
    for credentials in home_credentials() {
        // Not when the workspace itself lies inside one (hiding it would hide the root).
        if root.starts_with(&credentials) {
            continue;
        }
        if credentials.is_dir() {
            hidden_dirs.push(credentials);
        } else if credentials.is_file() {
            hidden_files.push(credentials);
        }
    }
    Ok(crate::process::Isolation {
        bwrap,
        root,
        hidden_dirs,
        hidden_files,
        read_only: read_only.to_vec(),
        network: sandbox.network,
        pass_env: sandbox.pass_env.clone(),
    })
}

/// Where a home directory keeps credentials: SSH and GPG keys, cloud and
/// cluster logins, registry and forge tokens. The OS sandbox mounts the
/// system read-only, so without this a worker could read (and print, or
/// send to its model) the user's private keys; each is hidden (an empty
/// directory, an empty file) from every sandboxed process.
pub const HOME_CREDENTIALS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gh",
    ".config/gcloud",
    ".config/hub",
    ".config/glab-cli",
    ".password-store",
    ".local/share/keyrings",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
];

/// [`HOME_CREDENTIALS`] under `$HOME` that exist, canonical; the
/// `.config/` ones under `$XDG_CONFIG_HOME` too, when it is set elsewhere.
fn home_credentials() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut found = Vec::new();
    if let Some(home) = var("HOME") {
        found.extend(HOME_CREDENTIALS.iter().filter_map(|c| std::fs::canonicalize(home.join(c)).ok()));
    }
    if let Some(config) = var("XDG_CONFIG_HOME").filter(|c| c.is_absolute()) {
        found.extend(
            HOME_CREDENTIALS
                .iter()
                .filter_map(|c| c.strip_prefix(".config/"))
                .filter_map(|c| std::fs::canonicalize(config.join(c)).ok()),
        );
    }
    found.sort();
    found.dedup();
    found
}
