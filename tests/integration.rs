//! One integration-test binary: real servers started by the harness on loopback.
//!
//! Suites live in directories (`tests/<suite>/mod.rs`) so cargo does not build each as its own binary.

// Not every suite uses every starter method.
#[allow(dead_code)]
mod harness;

mod daemon;
mod scheduler;
