//! The ordered, idempotent migration runner.
//!
//! A migration set is a list of `.sql` templates with names that sort in the order they
//! must run (`0001_silver_trades.sql`, `0002_...`). Each file holds exactly one statement,
//! because the engine front accepts one statement per request. Templates name their
//! parameters as `{{name}}`; [`Params`] fills them through [`crate::quote`] (identifiers and
//! string literals) or as plain unsigned integers, so no caller-supplied text reaches SQL
//! raw. An unknown placeholder is an error, never left in place.
//!
//! What ran is recorded in `<database>.schema_migrations` (`name`, `checksum`,
//! `applied_at`). A recorded migration is skipped; a recorded migration whose template
//! changed since (different SHA-256) stops the run: edit history by adding a migration,
//! never by rewriting one.
//!
//! ```no_run
//! # async fn demo(client: clickhouse::Client) -> Result<(), ch_support::migrations::MigrationError> {
//! use ch_support::migrations::{self, MigrationSet, Params};
//! let set = MigrationSet::from_dir("silver", "sql/silver")?;
//! let params = Params::new("default").number("ttl_days", 30);
//! let applied = migrations::apply(&client, &set, &params).await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::quote;

/// Name of the table that records applied migrations, in the target database.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The migration directory or one of its files cannot be read.
    #[error("migrations in `{path}`: {source}")]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template uses a placeholder that no parameter fills.
    #[error("migration `{migration}`: placeholder `{{{{{placeholder}}}}}` has no value")]
    MissingParam {
        /// The migration.
        migration: String,
        /// The placeholder's name.
        placeholder: String,
    },
    /// A template has `{{` without a closing `}}`.
    #[error("migration `{migration}`: unterminated placeholder")]
    Unterminated {
        /// The migration.
        migration: String,
    },
    /// A template holds more than one statement or none at all.
    #[error("migration `{migration}`: {message}")]
    NotOneStatement {
        /// The migration.
        migration: String,
        /// What is wrong.
        message: String,
    },
    /// A migration recorded as applied has been edited since.
    #[error(
        "migration `{migration}` was applied with checksum {recorded} but the file now has {current}; add a new migration instead of editing an applied one"
    )]
    ChecksumChanged {
        /// The migration.
        migration: String,
        /// Checksum in `schema_migrations`.
        recorded: String,
        /// Checksum of the template now.
        current: String,
    },
    /// ClickHouse refused a statement.
    #[error("migration `{migration}`: {source}")]
    ClickHouse {
        /// The migration, or `schema_migrations` for the runner's own bookkeeping.
        migration: String,
        /// The client error.
        source: clickhouse::error::Error,
    },
}

/// One migration: a name that sorts into place and a one-statement SQL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// File name without directory, e.g. `0001_silver_trades.sql`.
    pub name: String,
    /// The template text, with `{{placeholders}}`.
    pub template: String,
}

impl Migration {
    /// SHA-256 of the template (not of the rendered SQL, so changing a parameter such as
    /// the TTL does not look like an edited migration).
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.template.as_bytes()))
    }
}

/// An ordered list of migrations under one label (`silver`, `gold`, ...). The label
/// prefixes the names recorded in `schema_migrations`, so sets never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    /// Label of the set, e.g. `silver`.
    pub label: String,
    /// Migrations, sorted by name.
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// Reads every `*.sql` file of `dir`, sorted by file name.
    pub fn from_dir(label: &str, dir: impl AsRef<Path>) -> Result<Self, MigrationError> {
        let dir = dir.as_ref();
        let read_err = |path: &Path, source| MigrationError::Read {
            path: path.to_owned(),
            source,
        };
        let mut migrations = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))? {
            let path = entry.map_err(|e| read_err(dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let template = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            migrations.push(Migration { name, template });
        }
        Ok(Self::new(label, migrations))
    }

    /// Builds a set from templates compiled into the binary (`include_str!`).
    pub fn embedded(label: &str, files: &[(&str, &str)]) -> Self {
        let migrations = files
            .iter()
            .map(|(name, template)| Migration {
                name: (*name).to_owned(),
                template: (*template).to_owned(),
            })
            .collect();
        Self::new(label, migrations)
    }

    fn new(label: &str, mut migrations: Vec<Migration>) -> Self {
        migrations.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            label: label.to_owned(),
            migrations,
        }
    }
}

/// A value for a template placeholder, rendered safely by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// An identifier, rendered with [`quote::ident`].
    Ident(String),
    /// A string literal, rendered with [`quote::string_literal`].
    Literal(String),
    /// An unsigned integer, rendered in decimal.
    Number(u64),
}

impl ParamValue {
    fn render(&self) -> String {
        match self {
            Self::Ident(name) => quote::ident(name),
            Self::Literal(text) => quote::string_literal(text),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// Template parameters. `database` is always set and also names where
/// `schema_migrations` lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    database: String,
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Parameters for `database`; `{{database}}` renders as its quoted identifier.
    pub fn new(database: &str) -> Self {
        let mut values = BTreeMap::new();
        values.insert(
            "database".to_owned(),
            ParamValue::Ident(database.to_owned()),
        );
        Self {
            database: database.to_owned(),
            values,
        }
    }

    /// Adds an identifier parameter.
    pub fn ident(mut self, name: &str, value: &str) -> Self {
        self.values
            .insert(name.to_owned(), ParamValue::Ident(value.to_owned()));
        self
    }

    /// Adds a string-literal parameter.
    pub fn literal(mut self, name: &str, value: &str) -> Self {
        self.values
            .insert(name.to_owned(), ParamValue::Literal(value.to_owned()));
        self
    }

    /// Adds an integer parameter.
    pub fn number(mut self, name: &str, value: u64) -> Self {
        self.values
            .insert(name.to_owned(), ParamValue::Number(value));
        self
    }

    /// The target database.
    pub fn database(&self) -> &str {
        &self.database
    }
}

/// Renders one template: every `{{name}}` replaced by its safely rendered value.
pub fn render(migration: &Migration, params: &Params) -> Result<String, MigrationError> {
    let mut out = String::with_capacity(migration.template.len() + 64);
    let mut rest = migration.template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| MigrationError::Unterminated {
                migration: migration.name.clone(),
            })?;
        let placeholder = after[..end].trim();
        let value = params
            .values
            .get(placeholder)
            .ok_or_else(|| MigrationError::MissingParam {
                migration: migration.name.clone(),
                placeholder: placeholder.to_owned(),
            })?;
        out.push_str(&value.render());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let statement = strip_comments_and_terminator(&out);
    check_one_statement(&migration.name, &statement)?;
    Ok(statement)
}

/// Drops `--` line comments and a trailing `;`, keeping the statement text.
fn strip_comments_and_terminator(sql: &str) -> String {
    let body: Vec<&str> = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    let joined = body.join("\n");
    let trimmed = joined.trim();
    trimmed
        .strip_suffix(';')
        .unwrap_or(trimmed)
        .trim()
        .to_owned()
}

/// A cheap guard against two statements in one file: a `;` outside quotes.
fn check_one_statement(name: &str, statement: &str) -> Result<(), MigrationError> {
    if statement.is_empty() {
        return Err(MigrationError::NotOneStatement {
            migration: name.to_owned(),
            message: "no statement".to_owned(),
        });
    }
    let mut quote_char: Option<char> = None;
    let mut escaped = false;
    for c in statement.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote_char, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote_char = None,
            (None, '\'' | '`' | '"') => quote_char = Some(c),
            (None, ';') => {
                return Err(MigrationError::NotOneStatement {
                    migration: name.to_owned(),
                    message: "more than one statement; put each in its own file".to_owned(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// What [`apply`] did with one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran now.
    Applied(String),
    /// It was already recorded with the same checksum.
    AlreadyApplied(String),
}

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Recorded {
    name: String,
    checksum: String,
}

/// Applies every migration of `set` not yet recorded, in order, and records each one.
/// Checks every recorded checksum before running anything.
pub async fn apply(
    client: &clickhouse::Client,
    set: &MigrationSet,
    params: &Params,
) -> Result<Vec<Outcome>, MigrationError> {
    let bookkeeping = |source| MigrationError::ClickHouse {
        migration: MIGRATIONS_TABLE.to_owned(),
        source,
    };
    let table = quote::qualified(params.database(), MIGRATIONS_TABLE);
    if params.database() != "default" {
        // The client may point at the database being created, so talk to `default`.
        client
            .clone()
            .with_database("default")
            .query(&format!(
                "CREATE DATABASE IF NOT EXISTS {}",
                quote::ident(params.database())
            ))
            .execute()
            .await
            .map_err(bookkeeping)?;
    }
    client
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (name String, checksum String, \
             applied_at DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')) \
             ENGINE = ReplacingMergeTree ORDER BY name"
        ))
        .execute()
        .await
        .map_err(bookkeeping)?;
    let recorded: BTreeMap<String, String> = client
        .query(&format!("SELECT name, checksum FROM {table} FINAL"))
        .fetch_all::<Recorded>()
        .await
        .map_err(bookkeeping)?
        .into_iter()
        .map(|r| (r.name, r.checksum))
        .collect();

    let mut planned = Vec::new();
    for migration in &set.migrations {
        let recorded_name = format!("{}/{}", set.label, migration.name);
        let current = migration.checksum();
        match recorded.get(&recorded_name) {
            Some(previous) if *previous != current => {
                return Err(MigrationError::ChecksumChanged {
                    migration: recorded_name,
                    recorded: previous.clone(),
                    current,
                });
            }
            Some(_) => planned.push((recorded_name, None)),
            None => planned.push((recorded_name, Some((render(migration, params)?, current)))),
        }
    }

    let mut outcomes = Vec::with_capacity(planned.len());
    for (name, work) in planned {
        let Some((statement, checksum)) = work else {
            outcomes.push(Outcome::AlreadyApplied(name));
            continue;
        };
        tracing::info!(migration = %name, "applying migration");
        client
            .query(&statement)
            .execute()
            .await
            .map_err(|source| MigrationError::ClickHouse {
                migration: name.clone(),
                source,
            })?;
        client
            .query(&format!(
                "INSERT INTO {table} (name, checksum) VALUES ({}, {})",
                quote::string_literal(&name),
                quote::string_literal(&checksum)
            ))
            .execute()
            .await
            .map_err(bookkeeping)?;
        outcomes.push(Outcome::Applied(name));
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(template: &str) -> Migration {
        Migration {
            name: "0001_test.sql".into(),
            template: template.into(),
        }
    }

    #[test]
    fn placeholders_render_through_quoting() {
        let m = migration(
            "-- a comment\nCREATE TABLE {{database}}.`t` (x UInt8) TTL x + {{ttl_days}};\n",
        );
        let sql = render(&m, &Params::new("my`db").number("ttl_days", 30)).unwrap();
        assert_eq!(sql, "CREATE TABLE `my\\`db`.`t` (x UInt8) TTL x + 30");
    }

    #[test]
    fn literal_parameter_is_escaped() {
        let m = migration("SELECT {{note}}");
        let sql = render(&m, &Params::new("d").literal("note", "it's")).unwrap();
        assert_eq!(sql, "SELECT 'it\\'s'");
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let err = render(&migration("SELECT {{nope}}"), &Params::new("d")).unwrap_err();
        assert!(
            matches!(err, MigrationError::MissingParam { ref placeholder, .. } if placeholder == "nope")
        );
    }

    #[test]
    fn two_statements_in_one_file_are_refused() {
        let err = render(&migration("SELECT 1; SELECT 2"), &Params::new("d")).unwrap_err();
        assert!(
            matches!(err, MigrationError::NotOneStatement { .. }),
            "{err}"
        );
    }

    #[test]
    fn semicolon_inside_a_literal_is_fine() {
        render(&migration("SELECT 'a;b'"), &Params::new("d")).unwrap();
    }

    #[test]
    fn embedded_sets_sort_by_name() {
        let set = MigrationSet::embedded("s", &[("0002_b.sql", "B"), ("0001_a.sql", "A")]);
        let names: Vec<_> = set.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0001_a.sql", "0002_b.sql"]);
    }

    #[test]
    fn checksum_ignores_parameters() {
        let m = migration("X {{ttl_days}}");
        assert_eq!(m.checksum().len(), 64);
    }
}
