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
        let status = row_status(
            [
                stopped.into(),
                removed_from_compose.into(),
                config_preserved.into(),
            ],
            rolled_back,
        );
        Self {
            service: service.to_owned(),
            display: display.to_owned(),
            stopped,
            removed_from_compose,
            config_preserved,
            status: status.to_owned(),
        }
    }

    /// A row where nothing has happened yet: `| Spark Master | ⬜ | ⬜ | ⬜ | ⬜ Pending |`.
    pub fn pending(service: &str, display: &str) -> Self {
        Self::new(service, display, false, false, false, false)
    }
}

/// One check in the table: done, not done, or not applicable where it ran (e.g. containers
/// cannot be stopped without a Docker engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Done: ✅.
    Yes,
    /// Not done (yet): ⬜.
    No,
    /// Does not apply here: 🟡.
    NotApplicable,
}

impl From<bool> for Mark {
    fn from(done: bool) -> Self {
        if done { Mark::Yes } else { Mark::No }
    }
}

impl Mark {
    /// The table cell.
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Yes => "✅",
            Mark::No => "⬜",
            Mark::NotApplicable => "🟡",
        }
    }
}

/// The status cell for three marks: `⏪ Rolled Back`, `✅ Complete` (no mark is ⬜),
/// `🔄 In Progress` (some mark is ✅) or `⬜ Pending`.
pub fn row_status(marks: [Mark; 3], rolled_back: bool) -> &'static str {
    if rolled_back {
        "⏪ Rolled Back"
    } else if !marks.contains(&Mark::No) {
        "✅ Complete"
    } else if marks.contains(&Mark::Yes) {
        "🔄 In Progress"
    } else {
        "⬜ Pending"
    }
}

/// One line of the table as [`checklist_table`] renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The "Service" cell (pipes are escaped when rendered).
    pub name: String,
    /// Stopped.
    pub stopped: Mark,
    /// Removed from compose.
    pub removed_from_compose: Mark,
    /// Config preserved.
    pub config_preserved: Mark,
    /// The status cell, normally from [`row_status`].
    pub status: String,
}

impl TableRow {
    /// A row whose status is derived from its marks by [`row_status`].
    pub fn new(
        name: impl Into<String>,
        stopped: Mark,
        removed_from_compose: Mark,
        config_preserved: Mark,
        rolled_back: bool,
    ) -> Self {
        Self {
            name: name.into(),
            stopped,
            removed_from_compose,
            config_preserved,
            status: row_status(
                [stopped, removed_from_compose, config_preserved],
                rolled_back,
            )
            .to_owned(),
        }
    }
}

impl From<&ChecklistRow> for TableRow {
    fn from(row: &ChecklistRow) -> Self {
        Self {
            name: row.display.clone(),
            stopped: row.stopped.into(),
            removed_from_compose: row.removed_from_compose.into(),
            config_preserved: row.config_preserved.into(),
            status: row.status.clone(),
        }
    }
}

/// The tracker's "Services Decommission Checklist" table (header, separator and one line
/// per row, each ending in a newline). The single owner of that format:
/// [`Checklist::to_markdown`] and the orchestrator's tracker both render through it.
pub fn checklist_table(rows: &[TableRow]) -> String {
    let mut out = String::from(
        "| Service | Stopped | Removed from Compose | Config Preserved | Status |\n\
         |---------|---------|----------------------|------------------|--------|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&row.name),
            row.stopped.symbol(),
            row.removed_from_compose.symbol(),
            row.config_preserved.symbol(),
            cell(&row.status)
        ));
    }
    out
}

/// A table cell: pipes escaped, line breaks flattened, empty shown as `--`.
fn cell(text: &str) -> String {
    let flat = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let flat = flat.trim();
    if flat.is_empty() {
        "--".to_owned()
    } else {
        flat.to_owned()
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

    /// The table in the tracker's exact format; see [`checklist_table`].
    pub fn to_markdown(&self) -> String {
        let rows: Vec<TableRow> = self.rows.iter().map(TableRow::from).collect();
        checklist_table(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_rows_match_the_seed_tracker() {
        let rows = vec![
            ChecklistRow::pending("spark-master", "Spark Master"),
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

    #[test]
    fn not_applicable_marks_and_pipes_render() {
        let rows = vec![
            TableRow::new(
                "Spark Master (`spark-master`)",
                Mark::NotApplicable,
                Mark::Yes,
                Mark::Yes,
                false,
            ),
            TableRow::new("a|b", Mark::Yes, Mark::No, Mark::No, false),
            TableRow::new("c", Mark::Yes, Mark::Yes, Mark::Yes, true),
        ];
        assert_eq!(
            checklist_table(&rows),
            "| Service | Stopped | Removed from Compose | Config Preserved | Status |\n\
             |---------|---------|----------------------|------------------|--------|\n\
             | Spark Master (`spark-master`) | 🟡 | ✅ | ✅ | ✅ Complete |\n\
             | a\\|b | ✅ | ⬜ | ⬜ | 🔄 In Progress |\n\
             | c | ✅ | ✅ | ✅ | ⏪ Rolled Back |\n"
        );
    }
}
