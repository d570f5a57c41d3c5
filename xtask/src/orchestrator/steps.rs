//! The seven migration steps and the three milestones that group them.
//!
//! Titles follow the user's tracker (`PHASE-4-PROGRESS.md`), except step 2: the plan said
//! "Kotlin", this project implements the processor in Rust (recorded in the decisions log
//! of every run).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One migration step, numbered 1..=7 as in the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Step {
    /// 1: `silver_trades` DDL through the migrations runner.
    CreateSilverTable = 1,
    /// 2: the Rust silver processor (library conformance check).
    ImplementProcessor = 2,
    /// 3: the processor running against the broker and ClickHouse.
    DeployProcessor = 3,
    /// 4: gold OHLCV state tables, materialized views and finalizing views.
    CreateGoldViews = 4,
    /// 5: dual-run validation of v2 against v1 candles; the hard gate.
    ValidateOhlcv = 5,
    /// 6: stopping and removing the legacy Spark and Prefect services.
    Decommission = 6,
    /// 7: the resource checkpoint against the budget.
    ResourceCheckpoint = 7,
}

impl Step {
    /// Every step, in execution order.
    pub const ALL: [Step; 7] = [
        Step::CreateSilverTable,
        Step::ImplementProcessor,
        Step::DeployProcessor,
        Step::CreateGoldViews,
        Step::ValidateOhlcv,
        Step::Decommission,
        Step::ResourceCheckpoint,
    ];

    /// The step's number, 1..=7.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The step numbered `number`, if there is one.
    pub fn from_number(number: u8) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.number() == number)
    }

    /// The title shown in the tracker.
    pub fn title(self) -> &'static str {
        match self {
            Step::CreateSilverTable => "Create silver_trades Table DDL",
            Step::ImplementProcessor => "Implement Rust Silver Processor",
            Step::DeployProcessor => "Deploy Silver Processor",
            Step::CreateGoldViews => "Create Gold OHLCV Materialized Views",
            Step::ValidateOhlcv => "Validate OHLCV Correctness",
            Step::Decommission => "Decommission Spark Streaming + Prefect",
            Step::ResourceCheckpoint => "Resource Validation Checkpoint",
        }
    }

    /// The milestone the step belongs to.
    pub fn milestone(self) -> Milestone {
        match self {
            Step::CreateSilverTable | Step::ImplementProcessor | Step::DeployProcessor => {
                Milestone::M1
            }
            Step::CreateGoldViews | Step::ValidateOhlcv => Milestone::M2,
            Step::Decommission | Step::ResourceCheckpoint => Milestone::M3,
        }
    }
}

impl TryFrom<u8> for Step {
    type Error = String;

    fn try_from(number: u8) -> Result<Self, Self::Error> {
        Step::from_number(number).ok_or_else(|| format!("no step {number}: steps are 1-7"))
    }
}

impl From<Step> for u8 {
    fn from(step: Step) -> u8 {
        step.number()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({})", self.number(), self.title())
    }
}

/// A milestone: a group of steps with a gate that must hold when its last step is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Milestone {
    /// Steps 1-3.
    M1,
    /// Steps 4-5.
    M2,
    /// Steps 6-7.
    M3,
}

impl Milestone {
    /// Every milestone, in order.
    pub const ALL: [Milestone; 3] = [Milestone::M1, Milestone::M2, Milestone::M3];

    /// The name shown in the tracker heading.
    pub fn title(self) -> &'static str {
        match self {
            Milestone::M1 => "Silver Layer Live",
            Milestone::M2 => "Gold Layer Live",
            Milestone::M3 => "Legacy Decommissioned",
        }
    }

    /// The milestone's steps, in order.
    pub fn steps(self) -> Vec<Step> {
        Step::ALL
            .into_iter()
            .filter(|s| s.milestone() == self)
            .collect()
    }

    /// What must hold for the milestone to count as reached.
    pub fn gate_criteria(self) -> &'static str {
        match self {
            Milestone::M1 => {
                "silver_trades exists; every replayed valid trade is in silver_trades and \
                 every invalid one in the DLQ"
            }
            Milestone::M2 => {
                "six gold timeframes exist and all six PASS against v1 (hard gate for step 6)"
            }
            Milestone::M3 => {
                "every listed legacy service stopped, removed from compose with its config \
                 archived; every resource metric PASS"
            }
        }
    }
}

impl fmt::Display for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::str::FromStr for Milestone {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "M1" => Ok(Milestone::M1),
            "M2" => Ok(Milestone::M2),
            "M3" => Ok(Milestone::M3),
            other => Err(format!("no milestone `{other}`: use M1, M2 or M3")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_one_to_seven_and_grouped_three_two_two() {
        let numbers: Vec<u8> = Step::ALL.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(Milestone::M1.steps().len(), 3);
        assert_eq!(Milestone::M2.steps().len(), 2);
        assert_eq!(Milestone::M3.steps().len(), 2);
        assert!(Step::from_number(8).is_none());
        let json = serde_json::to_string(&Step::ValidateOhlcv).unwrap();
        assert_eq!(json, "5");
        assert!(serde_json::from_str::<Step>("0").is_err());
    }
}
