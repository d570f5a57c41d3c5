//! Legacy exports (Parquet, CSV with a header) loaded through the ClickHouse engine.
//!
//! The local front blocks the `file()` table function, and production servers rarely see
//! the validator's disk anyway, so the validator streams the file's bytes as the body of
//! `INSERT INTO scratch FORMAT Parquet|CSVWithNames` through the one client. The scratch
//! table has the legacy column types (see [`crate::sql::create_file_table`]): window
//! bounds are microseconds (Int64), prices and volume Float64, trade count UInt64.

use std::path::Path;

use bytes::Bytes;
use clickhouse::Client;
use tokio::io::AsyncReadExt;

use crate::config::ValidatorConfig;
use crate::error::ValidatorError;
use crate::sql;

/// Bytes per request chunk: large enough to keep the engine busy, small enough to stream.
const CHUNK: usize = 1 << 20;

/// The ClickHouse input format for a file, from its extension.
pub fn format_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => Some("Parquet"),
        "csv" => Some("CSVWithNames"),
        _ => None,
    }
}

/// Creates `table` (qualified) and streams `path` into it. Returns the bare table name.
pub async fn load(
    client: &Client,
    config: &ValidatorConfig,
    path: &Path,
    table: String,
) -> Result<String, ValidatorError> {
    let format = format_for(path).ok_or_else(|| ValidatorError::FileFormat {
        path: path.to_owned(),
    })?;
    let file_error = |source| ValidatorError::File {
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(file_error)?;
    client
        .query_raw(&sql::create_file_table(&table, &config.v1.columns))
        .execute()
        .await
        .map_err(ValidatorError::clickhouse(format!("create {table}")))?;
    let context = format!("load {} into {table}", path.display());
    // Sent uncompressed: the bytes are already compact (Parquet) or cheap to send locally,
    // and the local front rejects the crate's LZ4 framing of formatted inserts (checksum
    // mismatch, reported to the front's owner).
    let mut insert = client
        .clone()
        .with_compression(clickhouse::Compression::None)
        .insert_formatted_with(format!("INSERT INTO {table} FORMAT {format}"));
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            let n = file
                .read(&mut buf[filled..])
                .await
                .map_err(|source| ValidatorError::File {
                    path: path.to_owned(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        buf.truncate(filled);
        insert
            .send(Bytes::from(buf))
            .await
            .map_err(ValidatorError::clickhouse(context.clone()))?;
        if filled < CHUNK {
            break;
        }
    }
    insert
        .end()
        .await
        .map_err(ValidatorError::clickhouse(context))?;
    // The bare name: the scratch database is known to the caller.
    Ok(bare_name(&table))
}

/// `` `db`.`name` `` to `name` (scratch names contain no backticks or dots).
fn bare_name(qualified: &str) -> String {
    qualified
        .rsplit('.')
        .next()
        .unwrap_or(qualified)
        .trim_matches('`')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(format_for(Path::new("a/b.PARQUET")), Some("Parquet"));
        assert_eq!(format_for(Path::new("x.csv")), Some("CSVWithNames"));
        assert_eq!(format_for(Path::new("x.json")), None);
        assert_eq!(bare_name("`db`.`_t_1`"), "_t_1");
    }
}
