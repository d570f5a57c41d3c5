//! The Docker engine, through bollard: find a project's containers, stop, remove, and
//! recreate them from preserved `docker inspect` data.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkConnectRequest,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, RemoveVolumeOptions,
    StopContainerOptions,
};
use serde::{Deserialize, Serialize};

/// Compose's label naming the project.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
/// Compose's label naming the service.
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
/// Set only by the compose tool itself (it compares it to decide on recreation), so its
/// presence says the user's compose tool owns the container.
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";

/// A Docker engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No daemon answers.
    #[error("docker: no engine reachable ({0}); use --compose-only to work on the file alone")]
    Unreachable(String),
    /// A call failed.
    #[error("docker: {action} `{target}`: {message}")]
    Call {
        /// What was attempted.
        action: &'static str,
        /// The container, volume or network.
        target: String,
        /// The engine's message.
        message: String,
    },
    /// A recreated container does not stay up.
    #[error("docker: recreated container `{0}` is not running")]
    NotRunning(String),
}

fn call(action: &'static str, target: &str) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let target = target.to_owned();
    move |e| DockerError::Call {
        action,
        target,
        message: e.to_string(),
    }
}

/// How a container was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// By the compose project and service labels.
    ComposeLabels,
    /// By container name (no compose labels).
    Name,
}

/// What the plan shows of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// The compose service it belongs to.
    pub service: String,
    /// `running`, `exited`, ...
    pub state: String,
    /// Whether it runs.
    pub running: bool,
    /// The image reference it was created from.
    pub image: String,
    /// The image id.
    pub image_id: String,
    /// Actual CPU limit in billionths of a CPU (`HostConfig.NanoCpus`, 0 = unlimited).
    pub nano_cpus: i64,
    /// Actual memory limit in bytes (`HostConfig.Memory`, 0 = unlimited).
    pub memory_bytes: i64,
    /// The container's own stop timeout, if it declares one.
    pub stop_timeout_secs: Option<i64>,
    /// Whether the compose tool created it (it carries the config-hash label).
    pub compose_managed: bool,
    /// How it was found.
    pub found_by: FoundBy,
}

impl ContainerInfo {
    /// Summarizes an inspect response.
    pub fn from_inspect(
        inspect: &ContainerInspectResponse,
        service: &str,
        found_by: FoundBy,
    ) -> Self {
        let labels = inspect.config.as_ref().and_then(|c| c.labels.as_ref());
        let state = inspect.state.as_ref();
        let host = inspect.host_config.as_ref();
        Self {
            id: inspect.id.clone().unwrap_or_default(),
            name: container_name(inspect),
            service: service.to_owned(),
            state: state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown".into()),
            running: state.and_then(|s| s.running).unwrap_or(false),
            image: inspect
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            image_id: inspect.image.clone().unwrap_or_default(),
            nano_cpus: host.and_then(|h| h.nano_cpus).unwrap_or(0),
            memory_bytes: host.and_then(|h| h.memory).unwrap_or(0),
            stop_timeout_secs: inspect.config.as_ref().and_then(|c| c.stop_timeout),
            compose_managed: labels.is_some_and(|l| l.contains_key(LABEL_CONFIG_HASH)),
            found_by,
        }
    }
}

/// The container's name without Docker's leading slash.
pub fn container_name(inspect: &ContainerInspectResponse) -> String {
    inspect
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned()
}

/// A connected Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
}

impl Engine {
    /// Connects with the local defaults (`DOCKER_HOST` or the unix socket) and negotiates
    /// the API version down to what the daemon speaks.
    pub async fn connect() -> Result<Self, DockerError> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| DockerError::Unreachable(e.to_string()))?
            .negotiate_version()
            .await
            .map_err(|e| DockerError::Unreachable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| DockerError::Unreachable(e.to_string()))?;
        Ok(Self { docker })
    }

    /// The underlying bollard client.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Inspects every container (running or not) of compose project `project`.
    pub async fn project_containers(
        &self,
        project: &str,
    ) -> Result<Vec<ContainerInspectResponse>, DockerError> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{LABEL_PROJECT}={project}")],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(call("list containers of project", project))?;
        let mut out = Vec::new();
        for summary in list {
            if let Some(id) = summary.id
                && let Some(inspect) = self.inspect(&id).await?
            {
                out.push(inspect);
            }
        }
        Ok(out)
    }

    /// Inspects a container by id or name; `None` when it does not exist.
    pub async fn inspect(&self, id: &str) -> Result<Option<ContainerInspectResponse>, DockerError> {
        match self.docker.inspect_container(id, None).await {
            Ok(inspect) => Ok(Some(inspect)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(call("inspect container", id)(e)),
        }
    }

    /// Stops a container, giving it `timeout_secs` between SIGTERM and SIGKILL.
    pub async fn stop(&self, id: &str, timeout_secs: i64) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout_secs).unwrap_or(i32::MAX)),
            signal: None,
        };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: already stopped. 404: already removed, e.g. by a run killed between
            // the two calls; a resumed run must get past it.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(e) => Err(call("stop container", id)(e)),
        }
    }

    /// Removes a (stopped) container. Named volumes are never touched here.
    pub async fn remove(&self, id: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            v: false,
            force: false,
            link: false,
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(call("remove container", id)(e)),
        }
    }

    /// Removes a named volume.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        self.docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
            .map_err(call("remove volume", name))
    }

    /// Recreates a container from its preserved inspect data (same name, image id, labels,
    /// environment, command, mounts, networks, restart policy and resources), starts it and
    /// checks that it stays up. Returns the new id.
    pub async fn recreate(
        &self,
        preserved: &ContainerInspectResponse,
    ) -> Result<String, DockerError> {
        let name = container_name(preserved);
        let fail = |message: String| DockerError::Call {
            action: "recreate container",
            target: name.clone(),
            message,
        };
        let old_id = preserved.id.clone().unwrap_or_default();
        let short_id: String = old_id.chars().take(12).collect();

        let mut body = serde_json::to_value(&preserved.config).map_err(|e| fail(e.to_string()))?;
        if let Some(object) = body.as_object_mut() {
            object.insert(
                "HostConfig".into(),
                serde_json::to_value(&preserved.host_config).map_err(|e| fail(e.to_string()))?,
            );
            // Pin the exact image the container ran, whatever its tag points at now.
            if let Some(image_id) = &preserved.image {
                object.insert("Image".into(), serde_json::Value::String(image_id.clone()));
            }
            // The old hostname defaulted to the old id; let Docker pick the new one then.
            if object.get("Hostname").and_then(|h| h.as_str()) == Some(short_id.as_str()) {
                object.remove("Hostname");
            }
        }
        let mut create: ContainerCreateBody =
            serde_json::from_value(body).map_err(|e| fail(e.to_string()))?;

        let endpoint_of = |settings: &EndpointSettings| EndpointSettings {
            aliases: settings.aliases.as_ref().map(|aliases| {
                aliases
                    .iter()
                    .filter(|a| **a != short_id)
                    .cloned()
                    .collect()
            }),
            links: settings.links.clone(),
            ipam_config: settings.ipam_config.clone(),
            ..Default::default()
        };
        let mut networks: Vec<(String, EndpointSettings)> = preserved
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|n| n.iter().map(|(k, v)| (k.clone(), endpoint_of(v))).collect())
            .unwrap_or_default();
        networks.sort_by(|a, b| a.0.cmp(&b.0));
        let primary = create
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default();
        let first = networks
            .iter()
            .position(|(n, _)| *n == primary)
            .map(|i| networks.remove(i));
        if let Some((network, endpoint)) = first {
            create.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(network, endpoint)])),
            });
        }

        let options = CreateContainerOptions {
            name: Some(name.clone()),
            platform: String::new(),
        };
        let created = self
            .docker
            .create_container(Some(options), create)
            .await
            .map_err(call("create container", &name))?;
        for (network, endpoint) in networks {
            let request = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(endpoint),
            };
            self.docker
                .connect_network(&network, request)
                .await
                .map_err(call("connect network", &network))?;
        }
        self.docker
            .start_container(&created.id, None)
            .await
            .map_err(call("start container", &name))?;
        // "Runs" means still running a moment after start, not just started.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let running = self
            .inspect(&created.id)
            .await?
            .and_then(|i| i.state)
            .and_then(|s| s.running)
            .unwrap_or(false);
        if !running {
            return Err(DockerError::NotRunning(name));
        }
        Ok(created.id)
    }
}
