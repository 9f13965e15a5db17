//! Typed errors of the library. The binary wraps them with `anyhow` at the edge.
use std::path::PathBuf;

/// Everything that can go wrong inside vqlab.
#[derive(Debug, thiserror::Error)]
pub enum VqError {
    /// A configuration field holds a value outside what is allowed.
    #[error("invalid {field} = {value}: {allowed}")]
    InvalidConfig {
        /// The field's name as the user sees it (e.g. `--k` or `k`).
        field: &'static str,
        /// The offending value, printed.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// A data file could not be read or holds something vqlab cannot use.
    #[error("{}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong and where in the file.
        message: String,
    },
    /// Data handed to a function has the wrong shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A LAPACK routine failed.
    #[error("linear algebra failed: {0}")]
    Linalg(String),
    /// libtorch raised an error.
    #[error("libtorch: {0}")]
    Torch(String),
    /// Training produced a non-finite quantity.
    #[error("{method} diverged at step {step}: {quantity} is not finite")]
    Diverged {
        /// The method's name.
        method: String,
        /// The step at which the non-finite value appeared.
        step: usize,
        /// Which quantity (loss, W, E, gradient) went non-finite.
        quantity: String,
    },
    /// The user stopped a long run; finished work was kept.
    #[error("interrupted: {kept} finished run(s) kept in {}; rerun the same command to go on", store.display())]
    Interrupted {
        /// Units finished (and stored) in this invocation.
        kept: usize,
        /// Where they are stored.
        store: PathBuf,
    },
    /// The user stopped `vqlab train`; what it had was written.
    #[error("interrupted at step {step} of {steps}: the results so far are written; {}", match saved {
        Some(dir) => format!("the parameters after step {step} are in {}", dir.display()),
        None => "the method that was choosing its rates (--lr auto) is not saved".to_string(),
    })]
    TrainInterrupted {
        /// Steps done by the method that was running.
        step: usize,
        /// Steps asked for.
        steps: usize,
        /// Where its parameters were saved (None: it was still choosing its
        /// rates).
        saved: Option<PathBuf>,
    },
    /// Some methods of a multi-method run diverged; the others finished.
    #[error("{diverged} of {total} method(s) diverged (marked in the output above, each stopped where it diverged); the output holds every method")]
    SomeDiverged {
        /// Methods that diverged.
        diverged: usize,
        /// Methods run.
        total: usize,
    },
    /// A study file that cannot run as written.
    #[error("{}, line {line}: {message}", path.display())]
    StudyFile {
        /// The file.
        path: PathBuf,
        /// The line the problem is on (1-based).
        line: usize,
        /// What is wrong, and what is allowed.
        message: String,
    },
    /// `vqlab check`: no candidate matches the probe within the tolerance.
    #[error("no candidate matches within {tolerance:e}; the closest: {closest}")]
    NoMatch {
        /// The tolerance asked for.
        tolerance: f64,
        /// The closest candidate, described.
        closest: String,
    },
    /// The work would allocate more memory than the machine has available.
    #[error("not started: {what} needs about {needed_gib:.1} GiB, and this machine has {available_gib:.1} GiB available; ask for less")]
    TooLarge {
        /// What the estimate counts.
        what: String,
        /// The estimate, GiB.
        needed_gib: f64,
        /// Available memory, GiB.
        available_gib: f64,
    },
    /// Reading or writing a file failed. (The OS error is part of the
    /// message, not a separate source, so `anyhow`'s chain prints it once.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
}

impl From<ndarray_linalg::error::LinalgError> for VqError {
    fn from(e: ndarray_linalg::error::LinalgError) -> Self {
        VqError::Linalg(e.to_string())
    }
}

impl From<tch::TchError> for VqError {
    fn from(e: tch::TchError) -> Self {
        VqError::Torch(e.to_string())
    }
}

/// Shorthand used throughout the library.
pub type Result<T> = std::result::Result<T, VqError>;

/// Builds an [`VqError::InvalidConfig`].
pub(crate) fn invalid(
    field: &'static str,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> VqError {
    VqError::InvalidConfig {
        field,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}
