//! One integration-test binary: real servers started by the harness on loopback.
//!
//! Suites live in directories (`tests/<suite>/mod.rs`) so cargo does not build each as its own binary.

mod blocklists;
mod config;
mod daemon;
// Not every suite uses every starter method.
#[allow(dead_code)]
mod harness;
mod ingest;
mod posture;
mod scheduler;
mod spf_suite;
