//! DNS posture checks. Each check is a module with one entry point, `async fn check(cx) -> Outcome`,
//! registered in [`CheckKind`]; [`run`] matches exhaustively, so adding a check is a file, a variant and
//! an arm. A check never returns an error: a lookup it could not make is a `<check>.lookup_failed` finding.
//!
//! Domain-scoped: spf, dkim, dmarc, mx, mta_sts, tls_rpt, bimi. IP-scoped: ptr (see [`IpCheckKind`]).
//! `bulk_sender` is a summary over the others' results.

pub mod bimi;
pub mod bulk_sender;
pub mod dkim;
pub mod dmarc;
pub mod mta_sts;
pub mod mx;
pub mod ptr;
pub mod spf;
mod tag_list;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tls_rpt;

use std::net::IpAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::json;

use crate::config::DomainName;
use crate::dns::{LookupError, Lookups};
use crate::findings::{CheckReport, Finding, FindingCode, Severity, worst};

/// The domain-scoped checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckKind {
    /// SPF record, lookup tree, sending-IP authorization.
    Spf,
    /// DKIM keys of the configured selectors.
    Dkim,
    /// DMARC policy, tree walk, report destinations.
    Dmarc,
    /// MX records and their targets.
    Mx,
    /// MTA-STS record and HTTPS policy.
    MtaSts,
    /// TLS-RPT record.
    TlsRpt,
    /// BIMI record.
    Bimi,
}

impl CheckKind {
    /// Every domain-scoped check, in the order they are reported.
    pub const ALL: [CheckKind; 7] = [
        CheckKind::Spf,
        CheckKind::Dkim,
        CheckKind::Dmarc,
        CheckKind::Mx,
        CheckKind::MtaSts,
        CheckKind::TlsRpt,
        CheckKind::Bimi,
    ];

    /// The check's name in JSON, metrics labels and finding codes.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Spf => "spf",
            CheckKind::Dkim => "dkim",
            CheckKind::Dmarc => "dmarc",
            CheckKind::Mx => "mx",
            CheckKind::MtaSts => "mta_sts",
            CheckKind::TlsRpt => "tls_rpt",
            CheckKind::Bimi => "bimi",
        }
    }
}

/// The IP-scoped checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpCheckKind {
    /// PTR and forward-confirmed reverse DNS.
    Ptr,
}

/// Everything a domain-scoped check may use.
#[derive(Clone)]
pub struct DomainContext {
    /// The domain checked.
    pub domain: DomainName,
    /// Configured DKIM selectors (plus any learned from reports).
    pub dkim_selectors: Vec<String>,
    /// Configured single sending IPs (ranges are not evaluated one by one here).
    pub sending_ips: Vec<IpAddr>,
    /// DNS for this round; each check gets its own counter via [`Lookups::counted`].
    pub dns: Lookups,
    /// HTTPS client and options for fetching MTA-STS policies.
    pub https: mta_sts::PolicyFetcher,
}

/// What a check returns: the record(s) it read, its findings and the facts metrics are made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// The record as published (several joined by newlines), when there was one.
    pub record: Option<String>,
    /// What was found; empty means all is well.
    pub findings: Vec<Finding>,
    /// Typed facts for metrics and the bulk-sender summary.
    pub facts: Facts,
}

/// Typed facts a check learned, beyond its findings (the source of gauges such as
/// `senderscope_spf_dns_lookups` and `senderscope_dkim_key_size`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    /// SPF: DNS-querying terms counted per RFC 7208 §4.6.4 (when an SPF record was found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_dns_lookups: Option<u32>,
    /// SPF: a valid SPF record is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_present: Option<bool>,
    /// DKIM: key per selector that has a usable key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_keys: Vec<DkimKeyFact>,
    /// DMARC: the effective policy (`none`, `quarantine`, `reject`) when a record applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc_policy: Option<&'static str>,
    /// DMARC: whether enforcement applies to all mail (BIMI needs it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc_enforced: Option<bool>,
}

/// One DKIM key as found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DkimKeyFact {
    /// The selector.
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub key_type: &'static str,
    /// Key size in bits (RSA modulus; 256 for Ed25519).
    pub bits: u32,
}

/// Run one check and time it.
pub async fn run(kind: CheckKind, cx: &DomainContext) -> (CheckReport, Facts) {
    let started = Instant::now();
    let checked_at = unix_now();
    let cx = DomainContext {
        dns: cx.dns.counted(),
        ..cx.clone()
    };
    let outcome = match kind {
        CheckKind::Spf => spf::check(&cx).await,
        CheckKind::Dkim => dkim::check(&cx).await,
        CheckKind::Dmarc => dmarc::check(&cx).await,
        CheckKind::Mx => mx::check(&cx).await,
        CheckKind::MtaSts => mta_sts::check(&cx).await,
        CheckKind::TlsRpt => tls_rpt::check(&cx).await,
        CheckKind::Bimi => bimi::check(&cx).await,
    };
    let report = CheckReport {
        target: cx.domain.to_string(),
        check: kind.into(),
        status: worst(&outcome.findings),
        record: outcome.record,
        findings: outcome.findings,
        checked_at,
        duration: started.elapsed(),
    };
    (report, outcome.facts)
}

/// The `<check>.lookup_failed` finding of the checks whose failures all read alike: what could not be
/// looked up and why, then `unchecked` (what that leaves unchecked, in the check's own words) and the
/// advice to check the resolver. Unknown, never "missing": a lookup that failed says nothing about the
/// record. SPF, DKIM and DMARC name more (the selector, the tree, the walk) and build their own.
pub(crate) fn lookup_failed(
    code: FindingCode,
    what: &str,
    error: &LookupError,
    unchecked: &str,
) -> Finding {
    Finding::new(
        code,
        Severity::Unknown,
        format!("Could not look up {what}: {error}. {unchecked}; check the resolver."),
    )
    .with_detail(json!({"error": error.kind()}))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
