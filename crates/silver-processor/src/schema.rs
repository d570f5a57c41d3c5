//! The silver migrations, compiled in from `sql/silver/`, so the binary, xtask and tests
//! apply the same text through `ch_support::migrations`.

use ch_support::migrations::{self, MigrationError, MigrationSet, Outcome, Params};

use crate::config::SchemaSettings;

/// The label the silver migrations are recorded under in `schema_migrations`.
pub const LABEL: &str = "silver";

/// The `sql/silver` files, embedded.
pub fn migration_set() -> MigrationSet {
    MigrationSet::embedded(
        LABEL,
        &[
            (
                "0001_silver_trades.sql",
                include_str!("../../../sql/silver/0001_silver_trades.sql"),
            ),
            (
                "0002_silver_ingest_state.sql",
                include_str!("../../../sql/silver/0002_silver_ingest_state.sql"),
            ),
        ],
    )
}

/// Template parameters for `database` and the schema settings.
pub fn params(database: &str, schema: &SchemaSettings) -> Params {
    Params::new(database)
        .number("ttl_days", u64::from(schema.ttl_days))
        .number("dedup_window", u64::from(schema.dedup_window))
}

/// Applies the silver migrations (idempotent).
pub async fn apply(
    client: &clickhouse::Client,
    database: &str,
    schema: &SchemaSettings,
) -> Result<Vec<Outcome>, MigrationError> {
    migrations::apply(client, &migration_set(), &params(database, schema)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_render() {
        let set = migration_set();
        let params = params("default", &SchemaSettings::default());
        for m in &set.migrations {
            let sql = migrations::render(m, &params).unwrap();
            assert!(!sql.contains("{{"), "{sql}");
        }
        let silver = migrations::render(&set.migrations[0], &params).unwrap();
        assert!(silver.contains("INTERVAL 30 DAY"), "{silver}");
        assert!(silver.contains("non_replicated_deduplication_window = 10000"));
    }
}
