//! The report formats, each parsed into a typed value before anything is stored.
//!
//! - [`dmarc_aggregate`]: DMARC aggregate XML, streamed ([`aggregate_model`] holds its types).
//! - [`tls_report`]: SMTP TLS reports (RFC 8460 JSON).
//! - [`failure`]: DMARC failure reports (ARF `auth-failure`, Exim's plain text).

pub mod aggregate_model;
pub mod dmarc_aggregate;
pub mod failure;
pub mod tls_report;
