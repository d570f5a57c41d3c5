//! The dry run: what would be stopped, removed and cut, and what stands in the way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use bollard::models::ContainerInspectResponse;
use serde::{Deserialize, Serialize};

use crate::compose::ComposeFile;
use crate::config::DecomConfig;
use crate::docker::{ContainerInfo, Engine, FoundBy, LABEL_SERVICE};
use crate::error::DecomError;

/// Where the plan looks besides the compose files.
#[derive(Clone)]
pub enum Target {
    /// A Docker engine: containers are found, stopped and removed.
    Docker(Engine),
    /// No engine (e.g. a demo machine): only the compose files are planned and edited.
    ComposeOnly {
        /// Why (printed in every report).
        reason: String,
    },
}

/// How a kept service depends on a removed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum DependencyKind {
    /// `depends_on` (list or map form): start order only; the entry is cut on apply.
    DependsOn,
    /// `links`: a legacy DNS alias; the entry is cut on apply.
    Links,
    /// Both mount the same named volume: the kept one works on the removed one's data.
    SharedVolume(String),
    /// `network_mode: service:X`: the kept one lives in the removed one's network stack.
    NetworkMode,
    /// `volumes_from`: the kept one mounts whatever the removed one mounted.
    VolumesFrom,
}

impl DependencyKind {
    /// Whether apply must refuse: the dependency cannot be cut out of the file without
    /// changing what the kept service does.
    pub fn blocks(&self) -> bool {
        !matches!(self, Self::DependsOn | Self::Links)
    }
}

impl fmt::Display for DependencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DependsOn => write!(f, "depends_on"),
            Self::Links => write!(f, "links"),
            Self::SharedVolume(v) => write!(f, "shares named volume `{v}` with"),
            Self::NetworkMode => write!(f, "network_mode: service:"),
            Self::VolumesFrom => write!(f, "volumes_from"),
        }
    }
}

/// A kept service that depends on a service to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependent {
    /// The kept service.
    pub service: String,
    /// The removed service(s) it depends on (comma-separated for a shared volume).
    pub on: String,
    /// How.
    pub via: DependencyKind,
    /// Whether this blocks apply (otherwise the reference is cut on apply).
    pub blocking: bool,
}

/// One service to decommission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedService {
    /// Compose service name.
    pub name: String,
    /// Checklist row name.
    pub display: String,
    /// The compose files defining it.
    pub defined_in: Vec<PathBuf>,
    /// Declared `deploy.resources.limits.cpus`, as written.
    pub declared_cpus: Option<String>,
    /// Declared `deploy.resources.limits.memory`, as written.
    pub declared_memory: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerInfo>,
}

/// Declared and actual resources of the services to decommission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceTotals {
    /// Sum of declared CPU limits (defaults of `${VAR:-x}` taken).
    pub declared_cpus: f64,
    /// Sum of declared memory limits, bytes.
    pub declared_memory_bytes: u64,
    /// Sum of the containers' actual CPU limits (0 = unlimited is counted as 0).
    pub actual_cpus: f64,
    /// Sum of the containers' actual memory limits, bytes.
    pub actual_memory_bytes: u64,
    /// Containers running without any CPU or memory limit.
    pub unlimited_containers: Vec<String>,
}

/// The dry run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Compose project name.
    pub project: String,
    /// The compose files.
    pub compose_files: Vec<PathBuf>,
    /// Set when no Docker engine is used, with the reason.
    pub compose_only: Option<String>,
    /// The services to decommission.
    pub services: Vec<PlannedService>,
    /// Services that stay.
    pub kept_services: Vec<String>,
    /// Containers of services that stay.
    pub kept_containers: Vec<ContainerInfo>,
    /// Kept services depending on removed ones.
    pub dependents: Vec<Dependent>,
    /// Named volumes only removed services use (kept unless configured otherwise).
    pub unused_volumes: Vec<String>,
    /// Networks only removed services join.
    pub unused_networks: Vec<String>,
    /// Resources declared and actually set.
    pub resources: ResourceTotals,
    /// Things worth a look that do not block.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Dependents that make apply refuse.
    pub fn blocking_dependents(&self) -> Vec<Dependent> {
        self.dependents
            .iter()
            .filter(|d| d.blocking)
            .cloned()
            .collect()
    }

    /// The set of service names to remove.
    pub fn removed_names(&self) -> BTreeSet<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }
}

/// Parses `${VAR:-3.5}` as its default and plain numbers as themselves.
fn declared_number(text: &str) -> Option<String> {
    let text = text.trim();
    match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        Some(inner) => inner.split_once(":-").map(|(_, d)| d.to_owned()),
        None => Some(text.to_owned()),
    }
}

/// `2G`, `512M`, `256m`, `1024` -> bytes.
pub fn memory_bytes(text: &str) -> Option<u64> {
    let text = declared_number(text)?;
    let text = text.trim().to_ascii_lowercase();
    let text = text.trim_end_matches('b');
    let (digits, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let value: f64 = digits.parse().ok()?;
    let factor = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * factor) as u64)
}

/// `"1.0"`, `${X:-3.5}` -> CPUs.
pub fn cpus(text: &str) -> Option<f64> {
    declared_number(text)?.parse().ok()
}

/// Builds the plan for removing `services` (compose names) from `project`.
pub async fn plan(
    config: &DecomConfig,
    compose_files: &[PathBuf],
    project: &str,
    services: &[String],
    target: &Target,
) -> Result<Plan, DecomError> {
    let files: Vec<ComposeFile> = compose_files
        .iter()
        .map(|p| ComposeFile::load(p))
        .collect::<Result<_, _>>()?;
    let removed: BTreeSet<String> = services.iter().cloned().collect();

    // Every service across the files, later files adding to earlier ones.
    let mut defs: BTreeMap<String, Vec<&crate::compose::ServiceDef>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for file in &files {
        for s in &file.services {
            if !defs.contains_key(&s.name) {
                order.push(s.name.clone());
            }
            defs.entry(s.name.clone()).or_default().push(s);
        }
    }
    let kept_services: Vec<String> = order
        .iter()
        .filter(|s| !removed.contains(*s))
        .cloned()
        .collect();

    // Containers.
    let mut by_service: BTreeMap<String, Vec<ContainerInspectResponse>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let compose_only = match target {
        Target::ComposeOnly { reason } => {
            warnings.push(format!(
                "compose-only mode: {reason}; no container is looked at"
            ));
            Some(reason.clone())
        }
        Target::Docker(_) => None,
    };
    if let Target::Docker(engine) = target {
        for inspect in engine.project_containers(project).await? {
            let service = inspect
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_SERVICE))
                .cloned()
                .unwrap_or_default();
            by_service.entry(service).or_default().push(inspect);
        }
    }
    let mut found_by: BTreeMap<String, FoundBy> = BTreeMap::new();
    if let Target::Docker(engine) = target {
        for name in services {
            if by_service.contains_key(name) {
                continue;
            }
            let mut candidates: Vec<String> = defs
                .get(name)
                .into_iter()
                .flatten()
                .filter_map(|d| d.container_name.clone())
                .collect();
            candidates.extend([
                format!("{project}_{name}_1"),
                format!("{project}-{name}-1"),
                name.clone(),
            ]);
            for candidate in candidates {
                if let Some(inspect) = engine.inspect(&candidate).await? {
                    by_service.entry(name.clone()).or_default().push(inspect);
                    found_by.insert(name.clone(), FoundBy::Name);
                    break;
                }
            }
        }
    }
    let info = |service: &str, inspect: &ContainerInspectResponse| {
        ContainerInfo::from_inspect(
            inspect,
            service,
            found_by
                .get(service)
                .copied()
                .unwrap_or(FoundBy::ComposeLabels),
        )
    };

    let mut planned = Vec::new();
    let mut resources = ResourceTotals::default();
    for name in services {
        let service_defs = defs.get(name).cloned().unwrap_or_default();
        let containers: Vec<ContainerInfo> = by_service
            .get(name)
            .map(|list| list.iter().map(|i| info(name, i)).collect())
            .unwrap_or_default();
        if service_defs.is_empty() && containers.is_empty() && compose_only.is_none() {
            return Err(DecomError::UnknownService(name.clone()));
        }
        if service_defs.is_empty() {
            if compose_only.is_some() {
                return Err(DecomError::UnknownService(name.clone()));
            }
            warnings.push(format!(
                "service `{name}` has containers but is in none of the compose files"
            ));
        }
        if containers.is_empty() && compose_only.is_none() {
            warnings.push(format!(
                "service `{name}` has no container in project `{project}`"
            ));
        }
        let declared_cpus = service_defs
            .iter()
            .rev()
            .find_map(|d| d.declared_cpus.clone());
        let declared_memory = service_defs
            .iter()
            .rev()
            .find_map(|d| d.declared_memory.clone());
        if let Some(c) = declared_cpus.as_deref().and_then(cpus) {
            resources.declared_cpus += c;
        }
        if let Some(m) = declared_memory.as_deref().and_then(memory_bytes) {
            resources.declared_memory_bytes += m;
        }
        for c in &containers {
            resources.actual_cpus += c.nano_cpus as f64 / 1e9;
            resources.actual_memory_bytes += u64::try_from(c.memory_bytes).unwrap_or(0);
            if c.nano_cpus == 0 && c.memory_bytes == 0 {
                resources.unlimited_containers.push(c.name.clone());
            }
            let declared = declared_cpus.as_deref().and_then(cpus);
            if let Some(declared) = declared
                && c.nano_cpus != 0
                && (declared - c.nano_cpus as f64 / 1e9).abs() > 1e-9
            {
                warnings.push(format!(
                    "`{}` declares {declared} CPUs but its container `{}` is limited to {} CPUs",
                    name,
                    c.name,
                    c.nano_cpus as f64 / 1e9
                ));
            }
        }
        planned.push(PlannedService {
            name: name.clone(),
            display: config.display_name(name),
            defined_in: files
                .iter()
                .filter(|f| f.service(name).is_some())
                .map(|f| f.path.clone())
                .collect(),
            declared_cpus,
            declared_memory,
            containers,
        });
    }
    if !resources.unlimited_containers.is_empty() {
        warnings.push(format!(
            "{} container(s) run without any limit although limits may be declared: {}",
            resources.unlimited_containers.len(),
            resources.unlimited_containers.join(", ")
        ));
    }

    // Dependents among kept services.
    let mut dependents = Vec::new();
    let removed_volumes: BTreeSet<&String> = removed
        .iter()
        .flat_map(|r| defs.get(r).into_iter().flatten())
        .flat_map(|d| d.named_volumes.iter())
        .collect();
    for kept in &kept_services {
        for def in defs.get(kept).into_iter().flatten() {
            let mut add = |on: &str, via: DependencyKind| {
                let dependent = Dependent {
                    service: kept.clone(),
                    on: on.to_owned(),
                    blocking: via.blocks(),
                    via,
                };
                if !dependents.contains(&dependent) {
                    dependents.push(dependent);
                }
            };
            for target in def.depends_on.iter().filter(|t| removed.contains(*t)) {
                add(target, DependencyKind::DependsOn);
            }
            for target in def.links.iter().filter(|t| removed.contains(*t)) {
                add(target, DependencyKind::Links);
            }
            for target in def.volumes_from.iter().filter(|t| removed.contains(*t)) {
                add(target, DependencyKind::VolumesFrom);
            }
            if let Some(target) = def
                .network_mode_service
                .as_ref()
                .filter(|t| removed.contains(*t))
            {
                add(target, DependencyKind::NetworkMode);
            }
            for volume in def
                .named_volumes
                .iter()
                .filter(|v| removed_volumes.contains(v))
            {
                let owners: Vec<&str> = services
                    .iter()
                    .filter(|r| {
                        defs.get(*r)
                            .into_iter()
                            .flatten()
                            .any(|d| d.named_volumes.contains(volume))
                    })
                    .map(String::as_str)
                    .collect();
                add(
                    &owners.join(", "),
                    DependencyKind::SharedVolume(volume.clone()),
                );
            }
        }
    }

    // Volumes and networks that only removed services use.
    let kept_defs = || {
        kept_services
            .iter()
            .flat_map(|k| defs.get(k).into_iter().flatten())
    };
    let kept_volumes: BTreeSet<&String> =
        kept_defs().flat_map(|d| d.named_volumes.iter()).collect();
    let unused_volumes: Vec<String> = removed_volumes
        .iter()
        .filter(|v| !kept_volumes.contains(*v))
        .map(|v| (*v).clone())
        .collect();
    let network_of = |d: &&crate::compose::ServiceDef| -> Vec<String> {
        if d.networks.is_empty() && d.network_mode_service.is_none() {
            vec!["default".to_owned()]
        } else {
            d.networks.clone()
        }
    };
    let kept_networks: BTreeSet<String> = kept_defs().flat_map(network_of).collect();
    let removed_networks: BTreeSet<String> = removed
        .iter()
        .flat_map(|r| defs.get(r).into_iter().flatten())
        .flat_map(network_of)
        .collect();
    let unused_networks = removed_networks
        .into_iter()
        .filter(|n| !kept_networks.contains(n))
        .collect();

    let kept_containers = by_service
        .iter()
        .filter(|(s, _)| !removed.contains(*s))
        .flat_map(|(s, list)| list.iter().map(|i| info(s, i)))
        .collect();

    Ok(Plan {
        project: project.to_owned(),
        compose_files: compose_files.to_vec(),
        compose_only,
        services: planned,
        kept_services,
        kept_containers,
        dependents,
        unused_volumes,
        unused_networks,
        resources,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_limits_read_like_compose() {
        assert_eq!(cpus("1.0"), Some(1.0));
        assert_eq!(cpus("${SPARK_WORKER_CPUS:-3.5}"), Some(3.5));
        assert_eq!(memory_bytes("2G"), Some(2 << 30));
        assert_eq!(memory_bytes("512M"), Some(512 << 20));
        assert_eq!(memory_bytes("256m"), Some(256 << 20));
        assert_eq!(memory_bytes("1gb"), Some(1 << 30));
    }

    fn legacy() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/legacy/docker-compose.v1.yml")
    }

    #[tokio::test]
    async fn compose_only_plan_reports_the_checkpoint_cleaner() {
        let config = DecomConfig::default();
        let target = Target::ComposeOnly {
            reason: "test".into(),
        };
        let services = config.service_names(&[]);
        let plan = plan(&config, &[legacy()], "market-v1", &services, &target)
            .await
            .unwrap();
        let blocking = plan.blocking_dependents();
        assert_eq!(blocking.len(), 1, "{blocking:?}");
        assert_eq!(blocking[0].service, "spark-checkpoint-cleaner");
        assert_eq!(
            blocking[0].via,
            DependencyKind::SharedVolume("spark-checkpoints".into())
        );
        let soft: Vec<_> = plan
            .dependents
            .iter()
            .filter(|d| !d.blocking)
            .map(|d| (d.service.as_str(), d.on.as_str(), d.via.to_string()))
            .collect();
        assert_eq!(
            soft,
            [
                (
                    "market-dashboard",
                    "prefect-server",
                    "depends_on".to_owned()
                ),
                ("market-dashboard", "prefect-server", "links".to_owned())
            ]
        );
        assert_eq!(plan.unused_volumes, ["prefect-db", "spark-events"]);
        assert_eq!(plan.unused_networks, ["spark-net"]);
        // 2 + 3.5 + 3.5 + 5 x 1 + 0.5 + 0.25, as DOMAIN.md's table says.
        assert!((plan.resources.declared_cpus - 14.75).abs() < 1e-9);

        let with_cleaner = config.service_names(&["spark-checkpoint-cleaner".to_owned()]);
        let plan = super::plan(&config, &[legacy()], "market-v1", &with_cleaner, &target)
            .await
            .unwrap();
        assert!(plan.blocking_dependents().is_empty());
        assert_eq!(
            plan.unused_volumes,
            ["prefect-db", "spark-checkpoints", "spark-events"]
        );
    }
}
