//! Posture suites: one file per check (added by their owners) plus the `check` command end to end.

mod cli;
mod findings_doc;
