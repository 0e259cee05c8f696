//! Per source IP of a domain: its volume, how much passed DMARC, who it is (enrichment + the
//! sender mapping) and, for what failed, which of SPF and DKIM failed and why, with the fix.
//!
//! RFC 7489 §3.1 (RFC 9989 keeps it): an identifier is aligned in relaxed mode when its
//! organizational domain equals the From domain's. Reports carry the receiver's verdict
//! (`policy_evaluated`), so alignment is not recomputed here; the auth results only say *why* it
//! failed. Organizational domains come from the Public Suffix List (relaxed mode, the default).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::db::{Enrichment, FailingRow, SourceTotals};
use super::senders::{SenderMap, SenderType, SourceIdentity};

/// Which mechanism failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// SPF (RFC 7208) on the envelope sender.
    Spf,
    /// DKIM (RFC 6376) signatures.
    Dkim,
}

/// Why a mechanism did not give an aligned pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// SPF passed for an envelope domain not aligned with the From domain.
    SpfNotAligned,
    /// SPF for the (aligned) envelope domain did not pass: the IP is not authorized.
    SpfNotAuthorized,
    /// SPF evaluation erred (temperror, permerror).
    SpfError,
    /// The report has no SPF result.
    SpfMissing,
    /// A DKIM signature verified, but its d= is not aligned with the From domain.
    DkimNotAligned,
    /// An aligned DKIM signature did not verify.
    DkimFailed,
    /// The mail carried no DKIM signature.
    DkimUnsigned,
}

impl ProblemKind {
    fn mechanism(self) -> Mechanism {
        match self {
            ProblemKind::SpfNotAligned
            | ProblemKind::SpfNotAuthorized
            | ProblemKind::SpfError
            | ProblemKind::SpfMissing => Mechanism::Spf,
            ProblemKind::DkimNotAligned | ProblemKind::DkimFailed | ProblemKind::DkimUnsigned => {
                Mechanism::Dkim
            }
        }
    }
}

/// One reason mail from a source failed, with its volume and the fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// `spf` or `dkim`.
    pub mechanism: Mechanism,
    /// What went wrong.
    pub kind: ProblemKind,
    /// The domain the mechanism checked (envelope domain, or the signature's d=).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The DKIM selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The result the receiver reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Failing messages showing this problem.
    pub messages: u64,
    /// One sentence: what to change.
    pub fix: String,
}

/// One source IP of the domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// The IP.
    pub ip: String,
    /// Who it is.
    #[serde(flatten)]
    pub identity: SourceIdentity,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC.
    pub passed: u64,
    /// Messages that failed DMARC.
    pub failed: u64,
    /// Messages with aligned SPF passing.
    pub spf_aligned: u64,
    /// Messages with aligned DKIM passing.
    pub dkim_aligned: u64,
    /// Failing messages the receiver let through for a stated reason (forwarded, mailing list…).
    pub forwarded: u64,
    /// Why mail failed, largest first.
    pub problems: Vec<Problem>,
}

#[derive(Deserialize)]
struct StoredDkim {
    domain: Option<String>,
    selector: Option<String>,
    result: String,
}

#[derive(Deserialize)]
struct StoredSpf {
    domain: Option<String>,
    result: String,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct StoredReason {
    kind: String,
}

/// The organizational domain (relaxed alignment, RFC 7489 §3.2 via the Public Suffix List).
fn org(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map_or(d.clone(), str::to_owned)
}

/// RFC 7489 §6.7 and RFC 9990: override reasons that say the receiver knew the mail was relayed.
fn is_forwarding_reason(kind: &str) -> bool {
    matches!(
        kind.to_ascii_lowercase().as_str(),
        "forwarded" | "mailing_list" | "trusted_forwarder"
    )
}

/// What one failing record says went wrong (one SPF problem and one DKIM problem at most).
fn problems_of(row: &FailingRow, policy_domain: &str, spf_include: Option<&str>) -> Vec<Problem> {
    let from = row.header_from.as_deref().unwrap_or(policy_domain);
    let from_org = org(from);
    let aligned = |d: &str| org(d) == from_org;
    let mut out = Vec::with_capacity(2);

    let spf: Vec<StoredSpf> = serde_json::from_str(&row.spf).unwrap_or_default();
    let spf: Vec<&StoredSpf> = spf
        .iter()
        .filter(|s| {
            s.scope
                .as_deref()
                .is_none_or(|sc| sc.eq_ignore_ascii_case("mfrom"))
        })
        .collect();
    let envelope = row
        .envelope_from
        .clone()
        .or_else(|| spf.iter().rev().find_map(|s| s.domain.clone()));
    let problem = |kind, domain: Option<String>, selector, result: Option<String>, fix| Problem {
        mechanism: ProblemKind::mechanism(kind),
        kind,
        domain,
        selector,
        result,
        messages: row.count,
        fix,
    };
    let spf_pass_unaligned = spf
        .iter()
        .find(|s| s.result == "pass" && s.domain.as_deref().is_some_and(|d| !aligned(d)));
    let spf_aligned = spf
        .iter()
        .find(|s| s.domain.as_deref().is_some_and(aligned));
    if let Some(s) = spf_pass_unaligned {
        let d = s.domain.clone().unwrap_or_default();
        out.push(problem(
            ProblemKind::SpfNotAligned,
            Some(d.clone()),
            None,
            Some(s.result.clone()),
            format!(
                "SPF passes for the envelope domain {d}, which is not aligned with {from}: have the sender use a \
                 return path under {from} (a custom MAIL FROM / bounce domain) whose SPF authorizes it."
            ),
        ));
    } else if let Some(s) = spf_aligned {
        let d = s.domain.clone().unwrap_or_default();
        let kind = if matches!(s.result.as_str(), "temperror" | "permerror") {
            ProblemKind::SpfError
        } else {
            ProblemKind::SpfNotAuthorized
        };
        let fix = match (kind, spf_include) {
            (ProblemKind::SpfError, _) => format!(
                "SPF for {d} gives {}: fix the record (syntax, more than 10 lookups) so receivers can evaluate it.",
                s.result
            ),
            (_, Some(inc)) => format!(
                "SPF for {d} does not authorize {}: add include:{inc} to the SPF record of {d}.",
                row.ip
            ),
            _ => format!(
                "SPF for {d} does not authorize {}: if this source sends for you, add its include (or \
                 ip4:/ip6:) to the SPF record of {d}.",
                row.ip
            ),
        };
        out.push(problem(kind, Some(d), None, Some(s.result.clone()), fix));
    } else if spf.is_empty() {
        out.push(problem(
            ProblemKind::SpfMissing,
            envelope,
            None,
            None,
            "The receiver reported no SPF result: give the mail an envelope sender under your domain with an SPF record."
                .into(),
        ));
    } else if let Some(s) = spf.first() {
        // SPF evaluated a domain that is neither aligned nor passing.
        let d = s.domain.clone().unwrap_or_default();
        out.push(problem(
            ProblemKind::SpfNotAligned,
            Some(d.clone()),
            None,
            Some(s.result.clone()),
            format!(
                "SPF was checked for {d} ({}), which is not aligned with {from}: use a return path under {from} \
                 whose SPF authorizes this source.",
                s.result
            ),
        ));
    }

    let dkim: Vec<StoredDkim> = serde_json::from_str(&row.dkim).unwrap_or_default();
    let dkim: Vec<&StoredDkim> = dkim.iter().filter(|s| s.domain.is_some()).collect();
    let aligned_sig = dkim
        .iter()
        .find(|s| s.domain.as_deref().is_some_and(aligned));
    let passing_unaligned = dkim
        .iter()
        .find(|s| s.result == "pass" && s.domain.as_deref().is_some_and(|d| !aligned(d)));
    if let Some(s) = aligned_sig {
        let d = s.domain.clone().unwrap_or_default();
        let sel = s.selector.clone();
        let at = sel.as_deref().map_or_else(
            || format!("the selector's key under {d}"),
            |sel| format!("{sel}._domainkey.{d}"),
        );
        out.push(problem(
            ProblemKind::DkimFailed,
            Some(d),
            sel,
            Some(s.result.clone()),
            format!(
                "The aligned DKIM signature gives {}: check the key published at {at} matches the sender's \
                 private key and that the message is not altered in transit.",
                s.result
            ),
        ));
    } else if let Some(s) = passing_unaligned {
        let d = s.domain.clone().unwrap_or_default();
        out.push(problem(
            ProblemKind::DkimNotAligned,
            Some(d.clone()),
            s.selector.clone(),
            Some(s.result.clone()),
            format!(
                "DKIM signs with d={d}, which is not aligned with {from}: have the sender sign with a key under \
                 {from} (publish the selector it gives you at <selector>._domainkey.{from})."
            ),
        ));
    } else if dkim.is_empty() {
        out.push(problem(
            ProblemKind::DkimUnsigned,
            None,
            None,
            None,
            format!("The mail is not DKIM-signed: enable DKIM signing for {from} at this sender."),
        ));
    } else if let Some(s) = dkim.first() {
        let d = s.domain.clone().unwrap_or_default();
        out.push(problem(
            ProblemKind::DkimNotAligned,
            Some(d.clone()),
            s.selector.clone(),
            Some(s.result.clone()),
            format!(
                "The only DKIM signature (d={d}, {}) is not aligned with {from}: sign with a key under {from}.",
                s.result
            ),
        ));
    }
    out
}

fn merge(into: &mut Vec<Problem>, p: Problem) {
    match into.iter_mut().find(|q| {
        q.kind == p.kind && q.domain == p.domain && q.selector == p.selector && q.result == p.result
    }) {
        Some(q) => q.messages += p.messages,
        None => into.push(p),
    }
}

/// Put a domain's per-IP totals, failing records and enrichment together, largest source first.
pub fn build(
    policy_domain: &str,
    totals: Vec<SourceTotals>,
    failing: &[FailingRow],
    enrichment: &HashMap<String, Enrichment>,
    senders: &SenderMap,
) -> Vec<Source> {
    let mut by_ip: HashMap<&str, Vec<&FailingRow>> = HashMap::new();
    for row in failing {
        by_ip.entry(row.ip.as_str()).or_default().push(row);
    }
    let mut sources: Vec<Source> = totals
        .into_iter()
        .map(|t| {
            let ptr = enrichment.get(&t.ip).and_then(|e| e.ptr.as_deref());
            let identity = senders.identify(ptr);
            let mut problems = Vec::new();
            let mut forwarded = 0;
            for row in by_ip.get(t.ip.as_str()).into_iter().flatten() {
                let reasons: Vec<StoredReason> =
                    serde_json::from_str(&row.reasons).unwrap_or_default();
                if reasons.iter().any(|r| is_forwarding_reason(&r.kind)) {
                    forwarded += row.count;
                }
                for p in problems_of(row, policy_domain, identity.spf_include.as_deref()) {
                    merge(&mut problems, p);
                }
            }
            problems.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.kind.cmp(&b.kind)));
            Source {
                failed: t.messages.saturating_sub(t.passed),
                identity,
                messages: t.messages,
                passed: t.passed,
                spf_aligned: t.spf_aligned,
                dkim_aligned: t.dkim_aligned,
                forwarded,
                problems,
                ip: t.ip,
            }
        })
        .collect();
    sources.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.ip.cmp(&b.ip)));
    sources
}

impl Source {
    /// Its mail passes aligned SPF or DKIM at least sometimes: it sends for the domain.
    pub fn legitimate(&self) -> bool {
        self.passed > 0
    }

    /// A forwarder by the mapping, or most of its failures carry a forwarding override reason.
    pub fn forwarding(&self) -> bool {
        self.identity.sender_type == Some(SenderType::Forwarder)
            || (self.failed > 0 && self.forwarded * 2 >= self.failed)
    }
}

#[cfg(test)]
mod tests;
