//! Where things live: the workspace root, the stack's state directory and the tools cache.

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// State, pids, logs and data of the local stack: `target/stack/`, or `$PHASE4_STACK_DIR`
/// to run a second, isolated stack (with other ports) next to the default one.
pub fn stack_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PHASE4_STACK_DIR") {
        // Relative to the workspace root, so every part sees the same absolute path.
        return workspace_root().join(dir);
    }
    workspace_root().join("target").join("stack")
}

/// Installed tools (tansu, the chDB virtualenv). Outside the clone so CI and later
/// checkouts reuse them: `$PHASE4_TOOLS_DIR`, else `~/.cache/phase4/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PHASE4_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("phase4").join("tools")
}

/// Log files of the stack's parts: `target/stack/logs/`.
pub fn stack_logs_dir() -> PathBuf {
    stack_dir().join("logs")
}

/// The pinned tansu install: `<tools>/tansu-0.6.0`, binary in its `bin/`.
pub fn tansu_root() -> PathBuf {
    tools_dir().join("tansu-0.6.0")
}

/// The chDB virtualenv: `<tools>/chdb-venv`.
pub fn chdb_venv() -> PathBuf {
    tools_dir().join("chdb-venv")
}
