//! What the bounces say about a domain, next to what its checks found: `bounces` in
//! `/api/v1/domains/{domain}` (docs/api.md). Bounces refused for a blocklist listing point at the
//! domain's and its IPs' open blocklist findings; bounces refused for SPF, DKIM or DMARC
//! (`policy_auth`) at its authentication findings, so the reader sees the cause beside the symptom.

use serde::Serialize;

use super::{CheckDetail, DomainDetail};
use crate::events::model::Reason;
use crate::events::rates::DomainRates;
use crate::findings::Severity;
use crate::results::CheckId;
use crate::store::StoredFinding;

/// `bounces` in `/api/v1/domains/{domain}`: one window's bounces by reason.
#[derive(Debug, Clone, Serialize)]
pub struct DomainBounces {
    /// The window (`events.windows`; 24h when configured).
    pub window: String,
    /// Bounces in it.
    pub bounces: u64,
    /// bounces / (deliveries + bounces), `null` without mail.
    pub bounce_rate: Option<f64>,
    /// Bounces per reason, most first.
    pub reasons: Vec<BounceReason>,
}

/// The bounces of one reason, and the findings that explain them.
#[derive(Debug, Clone, Serialize)]
pub struct BounceReason {
    /// The reason label (docs/bounces.md).
    pub reason: String,
    /// Bounces for it.
    pub bounces: u64,
    /// The findings that explain them: open blocklist listings of the domain and its IPs for
    /// `blocked_blocklist`, SPF/DKIM/DMARC problems for `policy_auth`; empty for other reasons, or
    /// when the checks see nothing wrong (then the receiver judged on something they cannot see).
    pub findings: Vec<RelatedFinding>,
}

/// A finding, by where it is.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedFinding {
    /// The domain or IP the check ran on.
    pub target: String,
    /// Which check.
    pub check: CheckId,
    /// The finding's code.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// Its sentence.
    pub message: String,
}

/// The window shown: 24h when configured, else the first.
fn window_of<'a>(rates: &'a [DomainRates], domain: &str) -> Option<&'a DomainRates> {
    let mine = || rates.iter().filter(move |r| r.domain == domain);
    mine().find(|r| r.window == "24h").or_else(|| mine().next())
}

/// Add the domain's bounces by reason, each with the findings that explain it.
pub fn attach_domain(detail: &mut DomainDetail, rates: &[DomainRates]) {
    let Some(r) = window_of(rates, &detail.domain) else {
        return;
    };
    let reasons = r
        .reasons
        .iter()
        .map(|c| BounceReason {
            reason: c.reason.clone(),
            bounces: c.bounces,
            findings: related(detail, &c.reason),
        })
        .collect();
    detail.bounces = Some(DomainBounces {
        window: r.window.clone(),
        bounces: r.counts.bounces,
        bounce_rate: r.bounce_rate,
        reasons,
    });
}

/// The findings of `detail` that explain bounces for `reason`.
fn related(detail: &DomainDetail, reason: &str) -> Vec<RelatedFinding> {
    // Which finding explains the reason: a listing for a blocklist block, any SPF, DKIM or DMARC
    // problem for an authentication one.
    let explains: fn(CheckId, &StoredFinding) -> bool =
        if reason == Reason::BlockedBlocklist.as_str() {
            |check, f| check == CheckId::Blocklists && f.code == "blocklist.listed"
        } else if reason == Reason::PolicyAuth.as_str() {
            |check, f| {
                matches!(check, CheckId::Spf | CheckId::Dkim | CheckId::Dmarc)
                    && f.severity >= Severity::Warning
            }
        } else {
            return Vec::new();
        };
    let own = detail.checks.iter().map(|c| (detail.domain.as_str(), c));
    let ips = detail
        .ips
        .iter()
        .flat_map(|ip| ip.checks.iter().map(move |c| (ip.ip.as_str(), c)));
    own.chain(ips)
        .flat_map(|(target, c): (&str, &CheckDetail)| {
            c.findings
                .iter()
                .filter(move |f| explains(c.check, f))
                .map(move |f| RelatedFinding {
                    target: target.to_owned(),
                    check: c.check,
                    code: f.code.clone(),
                    severity: f.severity,
                    message: f.message.clone(),
                })
        })
        .collect()
}
