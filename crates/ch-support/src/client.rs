//! The one `clickhouse::Client` setup.

use serde::{Deserialize, Serialize};

/// Where the local stack's ClickHouse front listens unless configured otherwise.
pub const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:18123";

/// How to reach ClickHouse. Every tool embeds this under a `clickhouse` key of its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database that unqualified names resolve in.
    pub database: String,
    /// User name; empty means the server's default user.
    pub user: String,
    /// Password; empty means none.
    pub password: String,
    /// LZ4-compress request bodies (the crate's default).
    pub compression: bool,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_CLICKHOUSE_URL.to_owned(),
            database: "default".to_owned(),
            user: String::new(),
            password: String::new(),
            compression: true,
        }
    }
}

/// Builds the client every crate uses.
pub fn client(config: &ClickHouseConfig) -> clickhouse::Client {
    let mut client = clickhouse::Client::default()
        .with_url(&config.url)
        .with_database(&config.database);
    if !config.user.is_empty() {
        client = client.with_user(&config.user);
    }
    if !config.password.is_empty() {
        client = client.with_password(&config.password);
    }
    if !config.compression {
        client = client.with_compression(clickhouse::Compression::None);
    }
    client
}
