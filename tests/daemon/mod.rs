//! The daemon binary end to end: lifecycle, reload, auth, metrics, persistence, posture checks against
//! nsd, CLI, systemd unit.

mod auth;
mod blocklists_listings;
mod blocklists_ranges;
mod blocklists_resolver;
mod lifecycle;
mod metrics;
mod persistence;
mod posture;
mod reload;
mod systemd_unit;
mod validate;
