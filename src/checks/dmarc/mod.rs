//! DMARC check per RFC 9989 (which obsoletes RFC 7489; RFC 7489-era records are read and their removed
//! tags reported): the record at `_dmarc.<domain>`, else the one the DNS Tree Walk finds, its tags, and
//! whether its external report destinations accept reports (RFC 9990).
//!
//! - `record`: one TXT string → a typed record with problems named by tag.
//! - `discover`: the `_dmarc` query and the tree walk (at most eight queries).
//! - `report_auth`: `<domain>._report._dmarc.<destination>` authorization records.
//! - `mailable`: whether a `mailto:` destination domain can receive mail at all.
//! - `assess`: the findings.
//!
//! Severities: no policy at all (missing, several records, a record receivers discard, one at the apex
//! only, no p and no rua) is critical — the domain can be spoofed and bulk senders get rejected. A
//! policy that does not protect (p=none, sp=none, t=y), no reports, unauthorized report destinations,
//! report addresses at domains that cannot receive mail, bad tag values receivers replace by defaults, and a pct below 100 are warnings. A parent's policy
//! applying, unrelated TXT at `_dmarc`, harmless obsolete tags and `p=` not second are info. A failed lookup is unknown,
//! never "missing".
//!
//! [`effective_policy`] is the same discovery for other checks (BIMI).

mod assess;
mod discover;
mod mailable;
mod record;
mod report_auth;

/// Random DMARC-like strings for no-panic tests of other tag-list parsers.
#[cfg(test)]
pub(crate) use record::tests::hostile_strings;

use super::{DomainContext, Outcome};
use crate::config::DomainName;
use crate::dns::{LookupError, Lookups};
use record::{DmarcRecord, PolicyTag};

/// A DMARC policy (RFC 9989 §4.7 `p`, `sp`, `np`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// No preference: failing mail is delivered as usual (monitoring mode).
    None,
    /// Failing mail is suspicious (spam folder).
    Quarantine,
    /// Failing mail should be rejected.
    Reject,
}

impl Policy {
    /// `none`, `quarantine` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// Quarantine or reject.
    pub fn enforces(self) -> bool {
        self != Policy::None
    }
}

/// The DMARC policy that applies to a domain, as a receiver would find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySummary {
    /// The domain whose `_dmarc` record applies (the domain itself, or a parent found by the tree walk).
    pub found_at: String,
    /// The policy for mail from the domain itself: `p` of its own record; for an inherited record `sp`
    /// (or `p` when there is no `sp`), as for an existing subdomain (RFC 9989 §4.10.1). A record with
    /// an invalid or missing `p` but a valid `rua` counts as `none`.
    pub policy: Policy,
    /// The record's explicit, valid `sp`.
    pub subdomain_policy: Option<Policy>,
    /// A valid leftover RFC 7489 `pct` (RFC 9989 removed it; older receivers may still honour it).
    pub pct: Option<u8>,
    /// `t=y`: receivers apply one level less than the policy.
    pub testing: bool,
}

/// The DMARC policy that applies to `domain` (RFC 9989 §4.10.1 discovery, tree walk included).
/// `Ok(None)`: no DMARC record applies. `Err`: a DNS lookup failed, so the answer is unknown.
pub async fn effective_policy(
    dns: &Lookups,
    domain: &DomainName,
) -> Result<Option<PolicySummary>, LookupError> {
    let discovery = discover::discover(dns, domain.as_str())
        .await
        .map_err(|f| f.error)?;
    Ok(discovery.applies.as_ref().and_then(|a| {
        applied_policy(&a.record, a.inherited).map(|policy| PolicySummary {
            found_at: a.found_at.clone(),
            policy,
            subdomain_policy: a.record.sp.valid(),
            pct: a.record.pct,
            testing: a.record.testing,
        })
    }))
}

/// RFC 9989 §4.10.1: the policy for the author domain from the record that applies. "If a retrieved
/// DMARC Policy Record does not contain a valid p tag, or contains an sp or np tag that is not valid,
/// then: if a rua tag is present and contains at least one syntactically valid reporting URI, the Mail
/// Receiver MUST act as if a record containing p=none was retrieved; otherwise, the Mail Receiver
/// applies no DMARC processing". An inherited record applies its `sp` (the domain exists: it sends mail).
pub(super) fn applied_policy(record: &DmarcRecord, inherited: bool) -> Option<Policy> {
    let (Some(p), false, false) = (
        record.p.valid(),
        record.sp == PolicyTag::Invalid,
        record.np == PolicyTag::Invalid,
    ) else {
        return (!record.rua.is_empty()).then_some(Policy::None);
    };
    Some(if inherited {
        record.sp.valid().unwrap_or(p)
    } else {
        p
    })
}

/// Run the dmarc check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let domain = cx.domain.as_str();
    let mut out = Outcome::default();
    let discovery = match discover::discover(&cx.dns, domain).await {
        Ok(discovery) => discovery,
        Err(failure) => {
            out.findings.push(assess::walk_failed(domain, &failure));
            return out;
        }
    };
    let apex = assess::apex_records(cx, domain, &mut out.findings).await;
    assess::own_name_findings(domain, &discovery, &mut out.findings);
    match &discovery.applies {
        None => {
            assess::no_policy(domain, &discovery, &apex, &mut out);
        }
        Some(applies) => {
            if !apex.is_empty() {
                out.findings
                    .push(assess::apex_beside(domain, applies, &apex));
            }
            assess::policy_findings(cx, &discovery, applies, &mut out).await;
            out.record = Some(applies.record.text.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
