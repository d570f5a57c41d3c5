//! The checked-in DDL in `sql/gold/` is exactly what the generator produces now, and all of
//! it passes sqlparser. No server needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use gold_views::{GoldConfig, check, ddl, output};

fn sql_gold() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/gold"))
}

#[test]
fn checked_in_sql_matches_the_generator() {
    let different = output::differences(sql_gold(), &GoldConfig::default()).unwrap();
    assert!(
        different.is_empty(),
        "sql/gold differs from the generator for {different:?}; regenerate with `{}` and commit",
        output::REGENERATE
    );
}

#[test]
fn checked_in_single_server_and_cluster_ddl_pass_sqlparser() {
    let config = GoldConfig::default();
    check::check_all(&ddl::generate(&config)).unwrap();
    let cluster = GoldConfig {
        cluster: Some(Default::default()),
        ..config
    };
    check::check_all(&ddl::generate(&cluster)).unwrap();
}
