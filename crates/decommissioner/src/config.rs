//! What the decommissioner is told: which services go, how the gate judges the report,
//! where the archive lives. Defaults come from `config/legacy-services.toml`, kept in the
//! repository next to this crate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use layered_config::{ConfigError, Validate};
use serde::{Deserialize, Serialize};

/// The bundled default configuration (the ten legacy services and the gate's defaults).
pub const BUNDLED: &str = include_str!("../config/legacy-services.toml");

/// A service to decommission and its row name in the tracker's checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The compose service name.
    pub name: String,
    /// The row name in the "Services Decommission Checklist".
    pub display: String,
}

/// How the gate judges the validation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The report may be at most this old, in seconds.
    pub max_report_age_secs: u64,
    /// Expected `range.start` (RFC 3339); empty means "not checked".
    pub expected_range_start: String,
    /// Expected `range.end` (RFC 3339); empty means "not checked".
    pub expected_range_end: String,
}

/// Everything the decommissioner needs besides the compose files, project and report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecomConfig {
    /// Folder holding one archive folder per project; relative to the first compose file.
    pub archive_root: PathBuf,
    /// At most this many containers are stopped concurrently.
    pub max_parallel_stops: usize,
    /// Stop timeout for containers that declare none.
    pub default_stop_timeout_secs: u64,
    /// Delete named volumes that only removed services used.
    pub remove_unused_volumes: bool,
    /// The compose command printed when the compose tool owns the containers.
    pub compose_command: String,
    /// The gate.
    pub gate: GateConfig,
    /// The services to decommission, in checklist order.
    pub services: Vec<ServiceSpec>,
    /// Checklist names of other services that may be added to the list.
    pub display_names: BTreeMap<String, String>,
}

impl DecomConfig {
    /// Parses the bundled defaults.
    pub fn bundled() -> Result<Self, ConfigError> {
        toml::from_str(BUNDLED).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("crates/decommissioner/config/legacy-services.toml"),
            message: e.to_string(),
        })
    }

    /// The checklist name of `service`: from the service list, then `display_names`, else
    /// the service name itself.
    pub fn display_name(&self, service: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name == service)
            .map(|s| s.display.clone())
            .or_else(|| self.display_names.get(service).cloned())
            .unwrap_or_else(|| service.to_owned())
    }

    /// The service names to decommission, plus `also` (deduplicated, in order).
    pub fn service_names(&self, also: &[String]) -> Vec<String> {
        let mut names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        for extra in also {
            if !names.contains(extra) {
                names.push(extra.clone());
            }
        }
        names
    }
}

impl Default for DecomConfig {
    fn default() -> Self {
        // The bundled file is tested to parse; an empty list is the safe fallback.
        Self::bundled().unwrap_or_else(|_| Self {
            archive_root: PathBuf::from("decommission-archive"),
            max_parallel_stops: 4,
            default_stop_timeout_secs: 10,
            remove_unused_volumes: false,
            compose_command: "docker compose".into(),
            gate: GateConfig {
                max_report_age_secs: 86_400,
                expected_range_start: String::new(),
                expected_range_end: String::new(),
            },
            services: Vec::new(),
            display_names: BTreeMap::new(),
        })
    }
}

impl Validate for DecomConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        };
        if self.max_parallel_stops == 0 {
            return Err(invalid("max_parallel_stops", "must be at least 1"));
        }
        if self.gate.max_report_age_secs == 0 {
            return Err(invalid("gate.max_report_age_secs", "must be at least 1"));
        }
        if self.gate.expected_range_start.is_empty() != self.gate.expected_range_end.is_empty() {
            return Err(invalid(
                "gate.expected_range_start",
                "set both expected_range_start and expected_range_end, or neither",
            ));
        }
        if self.services.is_empty() {
            return Err(invalid(
                "services",
                "the list of services to decommission is empty",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_defaults_list_the_ten_legacy_services() {
        let config = DecomConfig::bundled().unwrap();
        assert_eq!(config.services.len(), 10);
        assert_eq!(
            config.display_name("gold-aggregation"),
            "Spark Streaming Job 5"
        );
        assert_eq!(
            config.display_name("spark-checkpoint-cleaner"),
            "Spark Checkpoint Cleaner"
        );
        config.validate().unwrap();
        assert_eq!(DecomConfig::default(), config);
    }

    #[test]
    fn environment_overrides_name_the_key() {
        let env = [(
            "DECOM__GATE__MAX_REPORT_AGE_SECS".to_owned(),
            "x".to_owned(),
        )];
        let err = layered_config::load_from::<DecomConfig, _>(None, "DECOM", env).unwrap_err();
        assert!(
            err.to_string().contains("gate.max_report_age_secs"),
            "{err}"
        );
    }
}
