//! The tracker's "Services Decommission Checklist" and the count of services eliminated.

use serde::{Deserialize, Serialize};

/// One row of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistRow {
    /// Compose service name.
    pub service: String,
    /// Row name in the tracker.
    pub display: String,
    /// Its containers are stopped (and removed).
    pub stopped: bool,
    /// Its block is gone from the compose file(s).
    pub removed_from_compose: bool,
    /// Its configuration is in a verified archive.
    pub config_preserved: bool,
    /// The tracker's status cell.
    pub status: String,
}

/// The checklist and the counted result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// Rows in the configured order.
    pub rows: Vec<ChecklistRow>,
    /// Services stopped, removed from compose and preserved (in compose-only mode: removed
    /// from compose and preserved), counted from the rows.
    pub services_eliminated: usize,
    /// Remarks, e.g. a claimed count that differs from the counted one.
    pub notes: Vec<String>,
}

/// What the tracker's phase plan claims ("9 services eliminated" while listing ten).
pub const CLAIMED_ELIMINATED: usize = 9;

impl ChecklistRow {
    /// A row with its status derived from the three marks.
    pub fn new(
        service: &str,
        display: &str,
        stopped: bool,
        removed_from_compose: bool,
        config_preserved: bool,
        rolled_back: bool,
    ) -> Self {
        let status = if rolled_back {
            "⏪ Rolled Back"
        } else if stopped && removed_from_compose && config_preserved {
            "✅ Complete"
        } else if stopped || removed_from_compose || config_preserved {
            "🔄 In Progress"
        } else {
            "⬜ Pending"
        };
        Self {
            service: service.to_owned(),
            display: display.to_owned(),
            stopped,
            removed_from_compose,
            config_preserved,
            status: status.to_owned(),
        }
    }
}

impl Checklist {
    /// Counts the rows; `compose_only` counts services without looking at containers.
    pub fn new(rows: Vec<ChecklistRow>, compose_only: bool) -> Self {
        let services_eliminated = rows
            .iter()
            .filter(|r| (r.stopped || compose_only) && r.removed_from_compose && r.config_preserved)
            .count();
        let mut notes = Vec::new();
        if compose_only {
            notes.push(
                "compose-only mode: no Docker engine was used, containers were not stopped".into(),
            );
        }
        if services_eliminated > 0 && services_eliminated != CLAIMED_ELIMINATED {
            notes.push(format!(
                "counted {services_eliminated} services eliminated; the phase plan claims \
                 {CLAIMED_ELIMINATED} while listing ten"
            ));
        }
        Self {
            rows,
            services_eliminated,
            notes,
        }
    }

    /// The table in the tracker's exact format.
    pub fn to_markdown(&self) -> String {
        let mark = |b: bool| if b { "✅" } else { "⬜" };
        let mut out = String::from(
            "| Service | Stopped | Removed from Compose | Config Preserved | Status |\n\
             |---------|---------|----------------------|------------------|--------|\n",
        );
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                row.display,
                mark(row.stopped),
                mark(row.removed_from_compose),
                mark(row.config_preserved),
                row.status
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_rows_match_the_seed_tracker() {
        let rows = vec![
            ChecklistRow::new("spark-master", "Spark Master", false, false, false, false),
            ChecklistRow::new("prefect-agent", "Prefect Agent", false, false, false, false),
        ];
        let table = Checklist::new(rows, false).to_markdown();
        assert_eq!(
            table,
            "| Service | Stopped | Removed from Compose | Config Preserved | Status |\n\
             |---------|---------|----------------------|------------------|--------|\n\
             | Spark Master | ⬜ | ⬜ | ⬜ | ⬜ Pending |\n\
             | Prefect Agent | ⬜ | ⬜ | ⬜ | ⬜ Pending |\n"
        );
    }

    #[test]
    fn counts_what_is_really_done() {
        let rows = (0..10)
            .map(|i| ChecklistRow::new(&format!("s{i}"), "S", true, true, true, false))
            .collect();
        let checklist = Checklist::new(rows, false);
        assert_eq!(checklist.services_eliminated, 10);
        assert!(checklist.notes[0].contains("claims 9"));
        assert!(
            checklist
                .to_markdown()
                .contains("| S | ✅ | ✅ | ✅ | ✅ Complete |")
        );
    }
}
