//! One integration-test binary: real servers started by the harness on loopback.
//!
//! Suites live in directories (`tests/<suite>/mod.rs`) so cargo does not build each as its own binary.

// A test or bench binary: its helpers are `pub` within it and may unwrap (a panic is a failed run).
#![allow(unreachable_pub, clippy::unwrap_used)]

mod alerts;
mod analysis;
mod blocklists;
mod config;
mod daemon;
mod dns;
mod e2e;
mod events;
mod golden;
mod harden;
// Not every suite uses every starter method.
#[allow(dead_code)]
mod harness;
mod ingest;
mod posture;
mod scheduler;
mod spf_suite;
