//! # trade-model
//!
//! Real exchange messages in, validated silver trades out.
//!
//! This crate owns the one decoder per exchange format, the instrument registry, the
//! validation rules, the deterministic trade identity, the `silver_trades` row encoding and
//! a seeded generator of realistic raw messages.
//!
//! Architecture invariant: this crate does no I/O beyond reading its registry file when
//! asked to, and never parses a price or a quantity through `f64`.
