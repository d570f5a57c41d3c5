//! Shared setup for the decommissioner's tests: a copy of the legacy deployment in a
//! temporary project folder, the stand-in image, and validation reports.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use decommissioner::gate::sample_report;
use time::{Duration, OffsetDateTime};

pub const RANGE_START: &str = "2026-02-01T00:00:00Z";
pub const RANGE_END: &str = "2026-02-08T00:00:00Z";
pub const IMAGE: &str = "phase4/legacy-standin:local";

/// The services every test decommissions besides the configured ten: the helper the plan
/// reports as a blocking dependent.
pub const HELPER: &str = "spark-checkpoint-cleaner";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of `deploy/legacy` (compose file and bind-mounted config) in a temporary folder.
pub struct ProjectDir {
    pub dir: tempfile::TempDir,
    pub compose: PathBuf,
    pub original: Vec<u8>,
}

impl ProjectDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let legacy = repo_root().join("deploy/legacy");
        let compose = dir.path().join("docker-compose.v1.yml");
        std::fs::copy(legacy.join("docker-compose.v1.yml"), &compose).unwrap();
        for file in [
            "config/spark/spark-defaults.conf",
            "config/spark/log4j2.properties",
            "config/prefect/prefect.toml",
        ] {
            let to = dir.path().join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(legacy.join(file), &to).unwrap();
        }
        let original = std::fs::read(&compose).unwrap();
        Self {
            dir,
            compose,
            original,
        }
    }

    pub fn archive_root(&self) -> PathBuf {
        self.dir.path().join("decommission-archive")
    }

    pub fn compose_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.compose).unwrap()
    }

    /// Writes a report and returns its path.
    pub fn report(&self, name: &str, verdict: &str, age: Duration) -> PathBuf {
        let path = self.dir.path().join(name);
        let text = sample_report(
            verdict,
            OffsetDateTime::now_utc() - age,
            RANGE_START,
            RANGE_END,
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Runs a command, panicking with its output when it fails.
pub fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds the stand-in image from deploy/legacy/standin/Dockerfile and Debian's static
/// busybox, unless it exists. Nothing is pulled.
pub fn ensure_standin_image() {
    let exists = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .unwrap()
        .status
        .success();
    if exists {
        return;
    }
    let context = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", context.path().join("busybox"))
        .expect("busybox-static must be installed (/bin/busybox)");
    std::fs::copy(
        repo_root().join("deploy/legacy/standin/Dockerfile"),
        context.path().join("Dockerfile"),
    )
    .unwrap();
    run(Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", IMAGE])
        .arg(context.path()));
}

/// A legacy deployment started with the user's real tool, `docker-compose up -d`, under a
/// unique project name. Dropping it removes its containers, volumes and networks, also
/// when the test failed.
pub struct Deployment {
    pub project: String,
    pub project_dir: ProjectDir,
}

impl Deployment {
    pub fn up(tag: &str) -> Self {
        ensure_standin_image();
        let project = format!("decom{tag}{}", std::process::id());
        let project_dir = ProjectDir::new();
        let deployment = Self {
            project,
            project_dir,
        };
        run(deployment.compose_cmd().args(["up", "-d"]));
        deployment
    }

    fn compose_cmd(&self) -> Command {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(self.project_dir.dir.path())
            .env("SPARK_WORKER_CPUS", "2.0")
            .env("CLICKHOUSE_CPUS", "2.0")
            .args(["-p", &self.project, "-f"])
            .arg(&self.project_dir.compose);
        command
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // Containers first (also ones recreated through the API, which carry the same
        // labels), then compose's own cleanup of networks and volumes.
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
        // The compose file may be the edited one; restore the original so `down` knows
        // every network and volume.
        let _ = std::fs::write(&self.project_dir.compose, &self.project_dir.original);
        let _ = self
            .compose_cmd()
            .args(["down", "-v", "--remove-orphans"])
            .output();
    }
}

/// Connects to Docker, or says loudly why the test is skipped (and fails under CI).
pub async fn docker_or_skip(test: &str) -> Option<decommissioner::docker::Engine> {
    match decommissioner::docker::Engine::connect().await {
        Ok(engine) => Some(engine),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: no Docker engine reachable under CI: {e}"
            );
            eprintln!("SKIPPED {test}: no Docker engine reachable ({e})");
            None
        }
    }
}
