//! The one error type of the library's entry points.

use std::path::PathBuf;

use crate::compose::ComposeError;
use crate::docker::DockerError;
use crate::gate::GateError;
use crate::plan::Dependent;

/// Why a plan, apply or rollback did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DecomError {
    /// A compose file cannot be read or edited.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The Docker engine refused or is unreachable.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The validation gate refuses. Nothing was changed.
    #[error("{0}; nothing was changed")]
    Gate(#[from] GateError),
    /// Kept services depend on services to remove. Nothing was changed.
    #[error(
        "kept services depend on services to decommission: {}; decommission them too (--also) \
         or change them first; nothing was changed",
        describe(.0)
    )]
    Dependents(Vec<Dependent>),
    /// A named service is in no compose file and has no container.
    #[error("service `{0}` is in no compose file and has no container")]
    UnknownService(String),
    /// Reading or writing the archive failed.
    #[error("archive `{path}`: {message}")]
    Archive {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The archive's checksums do not match its files.
    #[error("archive `{path}`: checksum mismatch for {files:?}; refusing to use it")]
    Corrupt {
        /// The archive folder.
        path: PathBuf,
        /// Files whose checksum differs or that are missing.
        files: Vec<String>,
    },
    /// The compose file changed since it was archived, in a way apply did not make.
    #[error(
        "compose file `{0}` changed since it was archived and is neither the original nor the \
         edited version; resolve by hand (rollback restores the original)"
    )]
    ComposeDrift(PathBuf),
    /// Rollback was asked for but nothing was archived.
    #[error("no decommission archive at `{0}`: nothing to roll back")]
    NothingToRollBack(PathBuf),
}

fn describe(dependents: &[Dependent]) -> String {
    dependents
        .iter()
        .map(|d| format!("`{}` ({} `{}`)", d.service, d.via, d.on))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DecomError {
    /// An archive I/O error.
    pub(crate) fn archive(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        Self::Archive {
            path: path.into(),
            message: e.to_string(),
        }
    }
}
