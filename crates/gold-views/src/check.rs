//! Checks generated DDL with sqlparser's ClickHouse dialect.
//!
//! sqlparser 0.64 parses the materialized views (`TO` form, `argMinState` over a tuple,
//! `toStartOfInterval(.., 'UTC')`) and the finalizing views whole. It rejects TTL, table
//! SETTINGS, ON CLUSTER and nested parameterised AggregateFunction types, so for tables the
//! generator hands over [`Fragment`]s: a skeleton with the aggregate argument types elided,
//! each argument type on its own, and each key/partition/TTL expression. What sqlparser
//! cannot see is checked by executing the statements on the real engine in tests.

use sqlparser::dialect::ClickHouseDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::ddl::{Fragment, FragmentKind, Statement};
use crate::error::GoldError;

/// Parses every fragment of `statement`; the first failure names the statement and part.
pub fn check_statement(statement: &Statement) -> Result<(), GoldError> {
    if statement.fragments.is_empty() {
        return Err(GoldError::Unchecked {
            statement: statement.name.clone(),
        });
    }
    for fragment in &statement.fragments {
        check_fragment(fragment).map_err(|message| GoldError::Parse {
            statement: statement.name.clone(),
            part: fragment.what.clone(),
            message,
        })?;
    }
    Ok(())
}

/// Checks all statements, stopping at the first failure.
pub fn check_all(statements: &[Statement]) -> Result<(), GoldError> {
    statements.iter().try_for_each(check_statement)
}

fn check_fragment(fragment: &Fragment) -> Result<(), String> {
    let dialect = ClickHouseDialect {};
    match fragment.kind {
        FragmentKind::Statement => {
            let parsed = Parser::parse_sql(&dialect, &fragment.sql).map_err(|e| e.to_string())?;
            if parsed.len() != 1 {
                return Err(format!("expected one statement, parsed {}", parsed.len()));
            }
            Ok(())
        }
        FragmentKind::Expression | FragmentKind::DataType => {
            let mut parser = Parser::new(&dialect)
                .try_with_sql(&fragment.sql)
                .map_err(|e| e.to_string())?;
            if fragment.kind == FragmentKind::Expression {
                parser.parse_expr().map_err(|e| e.to_string())?;
            } else {
                parser.parse_data_type().map_err(|e| e.to_string())?;
            }
            match parser.peek_token().token {
                Token::EOF => Ok(()),
                other => Err(format!("unparsed text from `{other}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClusterConfig, GoldConfig, TimeframeStorage};
    use crate::ddl::{ObjectKind, generate};

    #[test]
    fn default_ddl_passes_sqlparser() {
        check_all(&generate(&GoldConfig::default())).unwrap();
    }

    #[test]
    fn views_are_parsed_whole() {
        for statement in generate(&GoldConfig::default()) {
            if statement.kind != ObjectKind::Table {
                assert_eq!(statement.fragments.len(), 1);
                assert_eq!(statement.fragments[0].sql, statement.sql);
            }
        }
    }

    #[test]
    fn cluster_ddl_passes_sqlparser_once_on_cluster_is_split_off() {
        let config = GoldConfig {
            cluster: Some(ClusterConfig::default()),
            ..GoldConfig::default()
        };
        check_all(&generate(&config)).unwrap();
    }

    #[test]
    fn custom_partition_and_ttl_are_checked() {
        let mut config = GoldConfig::default();
        config.storage.insert(
            "1m".into(),
            TimeframeStorage {
                partition_by: Some("toYYYYMMDD(window_start)".into()),
                ttl: Some("window_start + INTERVAL 90 DAY".into()),
            },
        );
        check_all(&generate(&config)).unwrap();
        config.storage.insert(
            "1m".into(),
            TimeframeStorage {
                partition_by: Some("toYYYYMM(window_start".into()),
                ttl: None,
            },
        );
        let err = check_all(&generate(&config)).unwrap_err();
        assert!(
            err.to_string()
                .contains("PARTITION BY of gold_ohlcv_1m_state"),
            "{err}"
        );
    }

    #[test]
    fn trailing_garbage_in_an_expression_is_refused() {
        let fragment = Fragment {
            what: "x".into(),
            kind: FragmentKind::Expression,
            sql: "toYear(window_start) DROP".into(),
        };
        assert!(check_fragment(&fragment).is_err());
    }
}
