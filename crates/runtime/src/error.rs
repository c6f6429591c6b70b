//! The error of the runtime's public entry points ([`crate::start_run`],
//! [`crate::decide`], [`crate::launch::Launcher`], [`crate::Runner`], the
//! bindings, traces, inputs, the sandbox), one variant per kind of thing
//! that went wrong, so that a front end decides by the variant (retry,
//! ask for other bindings, report a corrupt state) and never by a message.
//!
//! `Display` is the message `loopc` prints, unchanged by the variant that
//! carries it. Inside a running loop the interpreter keeps reporting
//! failures as text; they arrive here as [`Error::Run`].

use std::path::{Path, PathBuf};

use crate::bindings::BindingsError;
use crate::inputs::InputError;
use crate::store::StoreError;

/// What a public entry point of the runtime reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run store failed, or holds something it cannot use.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bindings cannot be read, or say something wrong.
    #[error(transparent)]
    Bindings(#[from] BindingsError),
    /// A plan of a version this runtime does not run.
    #[error("plan version {found} is not supported (this runtime runs version {supported})")]
    PlanVersion { found: String, supported: &'static str },
    /// A plan the interpreter would misbehave on, with every problem found.
    #[error("invalid plan: {}", .0.join("; "))]
    InvalidPlan(Vec<String>),
    /// A run input as a person typed it is malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Where the run state would be kept is unusable.
    #[error(transparent)]
    StateLocation(#[from] StateLocationError),
    /// An executor of the bindings cannot be built or is not allowed (an
    /// unreadable script, an empty argv, a program the sandbox refuses).
    /// Retrying does not help; other bindings do.
    #[error("{0}")]
    Executor(String),
    /// A file or directory the runtime needs cannot be used. `context`
    /// says what for, as the message begins: `cannot create`, `cannot
    /// write`, `sandbox root`.
    #[error("{context} {}: {source}", .path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A run's workspace (worktree, copy) cannot be made or used.
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    /// The sandbox root exists but is not a directory.
    #[error("sandbox root {} is not a directory", .path.display())]
    SandboxRoot { path: PathBuf },
    /// A failure while a run is prepared or executed, as the interpreter
    /// reports it (its internals work with text).
    #[error("{0}")]
    Run(String),
}

impl Error {
    /// An [`Error::Io`]: `context` as the message begins it, then `path`.
    pub fn io(context: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why the state directory cannot be used (see [`crate::default_state_dir`]
/// and [`crate::check_state_location`]).
#[derive(Debug, thiserror::Error)]
pub enum StateLocationError {
    /// No default location exists: neither `XDG_STATE_HOME` nor `HOME` is set.
    #[error("cannot place the state directory: neither XDG_STATE_HOME nor HOME is set; give --state-dir")]
    NoDefault,
    /// The state directory is in the sandbox root, where a worker could
    /// write its own approvals.
    #[error(
        "the state directory {} is inside the sandbox root {}: a worker could change its own run state (approve itself). Keep the state elsewhere (--state-dir, LOOPC_STATE_DIR; the default is outside the workspace)",
        .state.display(),
        .root.display()
    )]
    InsideWorkspace { state: PathBuf, root: PathBuf },
    /// The working directory, or an existing part of the state
    /// directory's path, cannot be resolved.
    #[error(transparent)]
    Resolve(std::io::Error),
}

/// Interpreter internals report failures as text; an entry point's error
/// among them becomes its message (the `?` operator uses this).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wrapping changes no message: each variant prints what the function
    /// returning it printed when it returned text.
    #[test]
    fn messages_are_unchanged() {
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let cases = [
            (Error::from(StoreError::not_found("r1")), "no run `r1`".to_owned()),
            (Error::InvalidPlan(vec!["a".into(), "b".into()]), "invalid plan: a; b".to_owned()),
            (
                Error::PlanVersion {
                    found: "1".into(),
                    supported: "2",
                },
                "plan version 1 is not supported (this runtime runs version 2)".to_owned(),
            ),
            (
                Error::io("cannot write", Path::new("/t/r.json"), missing()),
                format!("cannot write /t/r.json: {}", missing()),
            ),
            (Error::from(StateLocationError::Resolve(missing())), missing().to_string()),
            (Error::Run("run vanished".into()), "run vanished".to_owned()),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
