//! DNS posture checks against a real nsd serving tests/fixtures/zones: one domain per finding code and a
//! clean domain per check, asserting the exact codes; plus the `check` command end to end.

mod bimi;
mod cli;
mod dkim;
mod dmarc;
mod findings_doc;
mod mta_sts;
mod mx;
mod ptr;
mod spf;
mod tls_rpt;
