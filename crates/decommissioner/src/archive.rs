//! The archive kept before anything changes, and the state file that lets a failed apply be
//! finished by apply or undone by rollback.
//!
//! Layout of `<archive_root>/<project>/`:
//!
//! | path | what |
//! | --- | --- |
//! | `compose/<n>-<file name>` | each original compose file, byte for byte |
//! | `services/<service>.<n>.yml` | each removed service's block, exactly as written in file n |
//! | `containers/<name>.inspect.json` | `docker inspect` of each container |
//! | `images.json` | container name -> image id |
//! | `config-files/<path in project>` | bind-mounted files that live inside the project folder |
//! | `plan.json`, `gate.json` | the plan and the gate's evidence |
//! | `manifest.json` | sha256 and size of every file above |
//! | `state.json` | progress (not in the manifest: it changes) |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DecomError;

/// Schema tag of `state.json`.
pub const STATE_SCHEMA: &str = "decommission-state/v1";
/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";
/// File name of the state file.
pub const STATE: &str = "state.json";

/// Where a decommission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Archive written, nothing changed yet.
    Archived,
    /// Containers are being stopped and removed.
    Stopping,
    /// Containers removed; the compose file is next.
    ContainersRemoved,
    /// Everything done.
    Done,
    /// Rolled back: the next apply starts a new archive.
    RolledBack,
}

/// One compose file in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedCompose {
    /// Where it lives in the project.
    pub original_path: PathBuf,
    /// Its copy, relative to the archive folder.
    pub archived_as: String,
    /// sha256 of the original bytes.
    pub original_sha256: String,
    /// sha256 of the edited bytes apply writes.
    pub edited_sha256: String,
}

/// One container in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedContainer {
    /// Compose service.
    pub service: String,
    /// Container name.
    pub name: String,
    /// Container id when archived.
    pub id: String,
    /// Image id.
    pub image_id: String,
    /// Its inspect JSON, relative to the archive folder.
    pub inspect_file: String,
    /// Whether the compose tool created it.
    pub compose_managed: bool,
    /// Stop timeout used.
    pub stop_timeout_secs: i64,
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_SCHEMA`].
    pub schema: String,
    /// Compose project.
    pub project: String,
    /// Where it stands.
    pub phase: Phase,
    /// Services being decommissioned, in checklist order.
    pub services: Vec<String>,
    /// Whether no Docker engine was used.
    pub compose_only: bool,
    /// The compose files.
    pub compose_files: Vec<ArchivedCompose>,
    /// The containers.
    pub containers: Vec<ArchivedContainer>,
    /// Services whose containers are all stopped.
    pub stopped: Vec<String>,
    /// Services whose containers are all removed.
    pub removed: Vec<String>,
    /// Whether the compose files hold the edited text.
    pub compose_edited: bool,
    /// Named volumes deleted (only with `remove_unused_volumes`).
    pub volumes_removed: Vec<String>,
    /// When the archive was written (RFC 3339).
    pub archived_at: String,
    /// When the last step finished (RFC 3339).
    pub updated_at: String,
}

/// An archive folder.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The folder.
    pub dir: PathBuf,
}

/// sha256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Archive {
    /// The archive folder of `project` under `root`.
    pub fn new(root: &Path, project: &str) -> Self {
        Self {
            dir: root.join(project),
        }
    }

    /// Writes `bytes` to `relative` (creating folders).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), DecomError> {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DecomError::archive(parent, e))?;
        }
        // Write then rename, so a crash never leaves half a file behind.
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".partial");
        let tmp = path.with_file_name(tmp_name);
        std::fs::write(&tmp, bytes).map_err(|e| DecomError::archive(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| DecomError::archive(&path, e))
    }

    /// Writes `value` as pretty JSON.
    pub fn write_json<T: Serialize>(&self, relative: &str, value: &T) -> Result<(), DecomError> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| DecomError::archive(self.dir.join(relative), e))?;
        self.write(relative, &bytes)
    }

    /// Reads `relative`.
    pub fn read(&self, relative: &str) -> Result<Vec<u8>, DecomError> {
        let path = self.dir.join(relative);
        std::fs::read(&path).map_err(|e| DecomError::archive(&path, e))
    }

    /// Reads the state, if there is one.
    pub fn state(&self) -> Result<Option<State>, DecomError> {
        let path = self.dir.join(STATE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = self.read(STATE)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DecomError::archive(&path, e))
    }

    /// Saves the state.
    pub fn save_state(&self, state: &State) -> Result<(), DecomError> {
        self.write_json(STATE, state)
    }

    /// Every archived file except the manifest and the state, relative and sorted.
    fn files(&self) -> Result<Vec<String>, DecomError> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| DecomError::archive(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| DecomError::archive(&dir, e))?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(relative) = path.strip_prefix(&self.dir) {
                    let relative = relative.to_string_lossy().into_owned();
                    if relative != MANIFEST && relative != STATE {
                        out.push(relative);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes `manifest.json`: sha256 and size of every archived file.
    pub fn seal(&self) -> Result<Manifest, DecomError> {
        let mut files = BTreeMap::new();
        for relative in self.files()? {
            let bytes = self.read(&relative)?;
            files.insert(
                relative,
                ManifestEntry {
                    sha256: sha256_hex(&bytes),
                    bytes: bytes.len() as u64,
                },
            );
        }
        let manifest = Manifest {
            schema: "decommission-manifest/v1".into(),
            files,
        };
        self.write_json(MANIFEST, &manifest)?;
        Ok(manifest)
    }

    /// Checks every file against the manifest; errors list what differs or is missing.
    pub fn verify(&self) -> Result<Manifest, DecomError> {
        let bytes = self.read(MANIFEST)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DecomError::archive(self.dir.join(MANIFEST), e))?;
        let mut bad = Vec::new();
        for (relative, entry) in &manifest.files {
            match std::fs::read(self.dir.join(relative)) {
                Ok(bytes) if sha256_hex(&bytes) == entry.sha256 => {}
                _ => bad.push(relative.clone()),
            }
        }
        for relative in self.files()? {
            if !manifest.files.contains_key(&relative) {
                bad.push(format!("{relative} (not in manifest)"));
            }
        }
        if bad.is_empty() {
            Ok(manifest)
        } else {
            Err(DecomError::Corrupt {
                path: self.dir.clone(),
                files: bad,
            })
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `decommission-manifest/v1`.
    pub schema: String,
    /// Relative path -> checksum.
    pub files: BTreeMap<String, ManifestEntry>,
}

/// One file's checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// sha256 hex.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_detects_a_changed_file() {
        let root = tempfile::tempdir().unwrap();
        let archive = Archive::new(root.path(), "p");
        archive.write("compose/0-a.yml", b"services: {}\n").unwrap();
        archive
            .write("services/x.0.yml", b"  x:\n    image: y\n")
            .unwrap();
        let manifest = archive.seal().unwrap();
        assert_eq!(manifest.files.len(), 2);
        archive.verify().unwrap();
        std::fs::write(archive.dir.join("services/x.0.yml"), b"tampered").unwrap();
        let err = archive.verify().unwrap_err();
        assert!(matches!(err, DecomError::Corrupt { .. }), "{err}");
    }
}
