//! # decommissioner
//!
//! Takes legacy services out of a Docker Compose deployment safely: plans, checks the
//! validation gate, archives, stops and removes containers, edits the compose file byte
//! for byte, and rolls back. `docs/DECOMMISSION.md` describes the gate, the archive and
//! the rollback on one page.
//!
//! - [`plan::plan`] is the dry run: containers (by compose labels, else by name), their
//!   declared and actual limits, kept services that depend on removed ones, volumes and
//!   networks left unused.
//! - [`apply::apply`] refuses without a current PASS report ([`gate`]), refuses when a kept
//!   service depends on a removed one in a way that cannot be cut (shared named volume,
//!   `network_mode: service:`, `volumes_from`), writes the [`archive`], stops and removes
//!   the containers, then cuts the services (and `depends_on` / `links` entries naming
//!   them) out of the compose file.
//! - [`apply::rollback`] restores the compose file from the archive and recreates the
//!   containers from their archived `docker inspect` data, or prints the compose command
//!   when the compose tool owns them.
//! - [`checklist`] renders the tracker's "Services Decommission Checklist".
//!
//! The compose edit never re-serializes YAML; it removes byte spans found by a lossless
//! parser, so comments, anchors and quoting elsewhere stay as written:
//!
//! ```
//! use std::collections::BTreeSet;
//! use decommissioner::compose::ComposeFile;
//!
//! let text = "services:\n  # the broker\n  broker:\n    image: b\n\n  # Spark\n  spark:\n    image: s\n\n  ui:\n    image: u\n    depends_on: [broker, spark]\n";
//! let file = ComposeFile::parse("compose.yml".as_ref(), text.to_owned()).unwrap();
//! let edit = file.remove_services(&BTreeSet::from(["spark".to_owned()])).unwrap();
//! assert_eq!(edit.text, "services:\n  # the broker\n  broker:\n    image: b\n\n  ui:\n    image: u\n    depends_on: [broker]\n");
//! assert_eq!(edit.removed_blocks[0].1, "  # Spark\n  spark:\n    image: s\n\n");
//! ```
//!
//! Architecture invariant: only this crate talks to Docker about legacy services, and it
//! never changes anything before the gate passed and the archive is sealed.

pub mod apply;
pub mod archive;
pub mod checklist;
pub mod compose;
pub mod config;
pub mod docker;
pub mod error;
pub mod gate;
pub mod plan;
