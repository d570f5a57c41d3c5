//! # decommissioner
//!
//! Takes legacy services out of a Docker Compose deployment safely: plans, checks the
//! validation gate, archives, stops and removes containers, edits the compose file byte
//! for byte, and rolls back.
//!
//! Architecture invariant: only this crate talks to Docker about legacy services.

pub mod apply;
pub mod archive;
pub mod checklist;
pub mod compose;
pub mod config;
pub mod docker;
pub mod error;
pub mod gate;
pub mod plan;
