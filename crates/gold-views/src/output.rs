//! The checked-in copy of the generated DDL (`sql/gold/`): writing it and comparing it.

use std::path::{Path, PathBuf};

use crate::config::GoldConfig;
use crate::ddl::{self, Statement};
use crate::error::GoldError;

/// The command that regenerates the checked-in files, quoted in error messages.
pub const REGENERATE: &str = "cargo run -p gold-views -- generate --out sql/gold";

/// Directory under the output directory that holds the cluster-mode files.
pub const CLUSTER_DIR: &str = "cluster";

/// The file sets `generate --out` writes for `config`: the single-server DDL in the
/// directory itself and the cluster DDL in `cluster/`.
pub fn expected_files(config: &GoldConfig) -> Vec<(PathBuf, String)> {
    let single = GoldConfig {
        cluster: None,
        ..config.clone()
    };
    let cluster = GoldConfig {
        cluster: Some(config.cluster.clone().unwrap_or_default()),
        ..config.clone()
    };
    let mut out = vec![];
    for (dir, statements) in [
        (PathBuf::new(), ddl::generate(&single)),
        (PathBuf::from(CLUSTER_DIR), ddl::generate(&cluster)),
    ] {
        out.extend(
            render(&statements)
                .into_iter()
                .map(|(name, text)| (dir.join(name), text)),
        );
    }
    out
}

fn render(statements: &[Statement]) -> Vec<(String, String)> {
    ddl::render_files(statements)
}

/// Writes the files under `dir`, removing `.sql` files the generator no longer produces.
pub fn write(dir: &Path, config: &GoldConfig) -> Result<Vec<PathBuf>, GoldError> {
    let files = expected_files(config);
    for sub in [dir.to_owned(), dir.join(CLUSTER_DIR)] {
        std::fs::create_dir_all(&sub).map_err(|source| GoldError::Io {
            path: sub.clone(),
            source,
        })?;
        for stale in sql_files(&sub)? {
            let relative = stale.strip_prefix(dir).unwrap_or(&stale).to_owned();
            if !files.iter().any(|(p, _)| *p == relative) {
                std::fs::remove_file(&stale).map_err(|source| GoldError::Io {
                    path: stale.clone(),
                    source,
                })?;
            }
        }
    }
    let mut written = vec![];
    for (relative, text) in files {
        let path = dir.join(relative);
        std::fs::write(&path, text).map_err(|source| GoldError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Files under `dir` that are missing, stale or extra compared with what the generator
/// produces now (relative paths). Empty means the checked-in copy is current.
pub fn differences(dir: &Path, config: &GoldConfig) -> Result<Vec<PathBuf>, GoldError> {
    let files = expected_files(config);
    let mut different = vec![];
    for (relative, text) in &files {
        let path = dir.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == *text => {}
            _ => different.push(relative.clone()),
        }
    }
    for sub in [dir.to_owned(), dir.join(CLUSTER_DIR)] {
        if !sub.exists() {
            continue;
        }
        for path in sql_files(&sub)? {
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_owned();
            if !files.iter().any(|(p, _)| *p == relative) {
                different.push(relative);
            }
        }
    }
    Ok(different)
}

fn sql_files(dir: &Path) -> Result<Vec<PathBuf>, GoldError> {
    let io = |source| GoldError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
