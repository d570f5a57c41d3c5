//! # layered-config
//!
//! The one configuration layer of the workspace. A tool's settings are a plain serde struct
//! with `Default`; [`load`] builds it from three layers, later ones winning:
//!
//! 1. the struct's `Default`;
//! 2. an optional TOML file;
//! 3. environment variables `PREFIX__SECTION__KEY=value` (double underscores separate
//!    nesting levels, names are case-insensitive).
//!
//! The result is deserialized once, and an error names the offending key, e.g.
//! `config key \`batch.max_rows\`: invalid type: string "x", expected u64`.
//!
//! ```
//! #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings { port: u16, name: String }
//! impl layered_config::Validate for Settings {}
//!
//! let env = [("DEMO__PORT".to_owned(), "8080".to_owned())];
//! let s: Settings = layered_config::load_from(None, "DEMO", env).unwrap();
//! assert_eq!(s.port, 8080);
//! ```

use std::path::{Path, PathBuf};

use serde::{Serialize, de::DeserializeOwned};
use toml::{Table, Value};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named on the command line or in the environment cannot be read.
    #[error("config file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file `{path}`: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key has a wrong type or value, or is unknown.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted path of the key, e.g. `batch.max_rows`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value passed every type check but breaks a rule of the tool (see [`Validate`]).
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// Dotted path of the key.
        key: String,
        /// The rule it breaks.
        message: String,
    },
    /// The defaults themselves could not be represented (a bug in the tool).
    #[error("config defaults cannot be represented as TOML: {0}")]
    Defaults(String),
}

/// Rules beyond types, checked once after loading.
pub trait Validate {
    /// Returns the first broken rule as [`ConfigError::Invalid`].
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Loads `T` from its defaults, `file` (if any) and the process environment under `prefix`.
pub fn load<T>(file: Option<&Path>, prefix: &str) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned + Validate,
{
    load_from(file, prefix, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (for tests and embedding).
pub fn load_from<T, I>(file: Option<&Path>, prefix: &str, env: I) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned + Validate,
    I: IntoIterator<Item = (String, String)>,
{
    let mut table =
        Table::try_from(T::default()).map_err(|e| ConfigError::Defaults(e.to_string()))?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let from_file: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        merge(&mut table, from_file);
    }
    let env_prefix = format!("{}__", prefix.to_ascii_uppercase());
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter_map(|(k, v)| {
            k.to_ascii_uppercase()
                .strip_prefix(&env_prefix)
                .map(|rest| (rest.to_ascii_lowercase(), v))
        })
        .collect();
    overrides.sort();
    for (key, raw) in overrides {
        let path: Vec<&str> = key.split("__").collect();
        set_path(&mut table, &path, &raw);
    }
    let config: T =
        serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| ConfigError::Key {
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    config.validate()?;
    Ok(config)
}

/// Deep-merges `over` into `base`: tables merge, everything else replaces.
fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// Sets a dotted path from an environment string. The existing value's type decides how
/// the text is read: a string stays text, anything else is parsed as a TOML value, so
/// `PREFIX__NAME=123` stays the string `"123"` when `name` is a string.
fn set_path(table: &mut Table, path: &[&str], raw: &str) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    let value = match current.get(*last) {
        Some(Value::String(_)) => Value::String(raw.to_owned()),
        _ => parse_scalar(raw),
    };
    current.insert((*last).to_owned(), value);
}

fn parse_scalar(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Batch {
        max_rows: u64,
        topic: String,
    }
    impl Default for Batch {
        fn default() -> Self {
            Self {
                max_rows: 100,
                topic: "raw".into(),
            }
        }
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        name: String,
        batch: Batch,
        topics: Vec<String>,
    }
    impl Validate for Settings {
        fn validate(&self) -> Result<(), ConfigError> {
            if self.batch.max_rows == 0 {
                return Err(ConfigError::Invalid {
                    key: "batch.max_rows".into(),
                    message: "must be at least 1".into(),
                });
            }
            Ok(())
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_without_file_or_env() {
        let s: Settings = load_from(None, "T", env(&[])).unwrap();
        assert_eq!(s.batch, Batch::default());
    }

    #[test]
    fn file_then_env_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "name = \"file\"\n[batch]\nmax_rows = 7\n").unwrap();
        let s: Settings = load_from(
            Some(&path),
            "T",
            env(&[("T__BATCH__MAX_ROWS", "9"), ("T__TOPICS", "[\"a\", \"b\"]")]),
        )
        .unwrap();
        assert_eq!(s.name, "file");
        assert_eq!(s.batch.max_rows, 9);
        assert_eq!(s.topics, vec!["a", "b"]);
    }

    #[test]
    fn numeric_text_for_a_string_key_stays_text() {
        let s: Settings = load_from(None, "T", env(&[("T__BATCH__TOPIC", "123")])).unwrap();
        assert_eq!(s.batch.topic, "123");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = load_from::<Settings, _>(None, "T", env(&[("T__BATCH__MAX_ROWS", "lots")]))
            .unwrap_err();
        assert!(err.to_string().contains("batch.max_rows"), "{err}");
    }

    #[test]
    fn unknown_key_names_the_key() {
        let err =
            load_from::<Settings, _>(None, "T", env(&[("T__BATCH__MAX_ROSW", "1")])).unwrap_err();
        assert!(err.to_string().contains("max_rosw"), "{err}");
    }

    #[test]
    fn rule_violation_names_the_key() {
        let err =
            load_from::<Settings, _>(None, "T", env(&[("T__BATCH__MAX_ROWS", "0")])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { ref key, .. } if key == "batch.max_rows"));
    }
}
