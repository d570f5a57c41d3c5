//! Why a validation could not be carried out (as opposed to a FAIL verdict, which is a
//! successful validation with bad news).

use std::path::PathBuf;

/// Errors of [`crate::validate`] and [`crate::legacy_job`].
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// A statement failed in ClickHouse or could not be sent.
    #[error("clickhouse: {context}: {source}")]
    ClickHouse {
        /// What the statement was for, e.g. "compare 1m candles".
        context: String,
        /// The client's error, which carries the server's message.
        source: clickhouse::error::Error,
    },
    /// A table or view the configuration names has no columns in `system.columns`.
    #[error("{object} does not exist (or has no columns)")]
    MissingObject {
        /// Qualified name.
        object: String,
    },
    /// A configured column is absent from its table.
    #[error("{object}: column `{column}` (config key `{key}`) does not exist")]
    MissingColumn {
        /// Qualified name of the table.
        object: String,
        /// The column.
        column: String,
        /// Config key naming the column.
        key: String,
    },
    /// A v1 export file cannot be read.
    #[error("v1 file `{path}`: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A v1 export file has an extension the validator does not know how to load.
    #[error("v1 file `{path}`: unsupported extension (expected .parquet or .csv)")]
    FileFormat {
        /// The file.
        path: PathBuf,
    },
}

impl ValidatorError {
    pub(crate) fn clickhouse(
        context: impl Into<String>,
    ) -> impl FnOnce(clickhouse::error::Error) -> Self {
        let context = context.into();
        move |source| ValidatorError::ClickHouse { context, source }
    }
}
