//! DMARC policy discovery (RFC 9989 §4.10.1): the record at `_dmarc.<author domain>`, and when there is
//! none, the DNS Tree Walk (§4.10) up to the organizational or public suffix domain.
//!
//! The walk is bounded: at most eight queries in all, however many labels the domain has.

use super::record::{Classified, DmarcRecord, Psd, classify};
use crate::dns::{Answer, LookupError, Lookups};

/// RFC 9989 §4.10: "Author Domains with more than eight labels do not result in more than eight DNS
/// queries" — when the walk starts from a longer name, it jumps to the last seven labels.
const MAX_QUERIES: usize = 8;

/// What a `_dmarc.<domain>` TXT query gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AtName {
    /// The domain (without the `_dmarc.` prefix).
    pub domain: String,
    /// The name does not exist at all.
    pub nxdomain: bool,
    /// Records that start with `v=DMARC1`.
    pub records: Vec<DmarcRecord>,
    /// Records meant as DMARC that receivers discard: (text, why).
    pub broken: Vec<(String, String)>,
    /// Other TXT records.
    pub unrelated: Vec<String>,
}

impl AtName {
    /// The DMARC record at this name, if there is exactly one (§4.10 step 2: "If multiple DMARC Policy
    /// Records are returned for a single target, they are all discarded").
    pub(super) fn single(&self) -> Option<&DmarcRecord> {
        match self.records.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// A short word for traces: `record`, `records`, `nxdomain`, `none`.
    pub(super) fn outcome(&self) -> &'static str {
        match self.records.len() {
            1 => "record",
            0 if self.nxdomain => "nxdomain",
            0 => "none",
            _ => "several",
        }
    }
}

/// Where the applicable DMARC record was found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applicable {
    /// The domain whose `_dmarc` record applies.
    pub found_at: String,
    /// The record.
    pub record: DmarcRecord,
    /// Found above the author domain by the tree walk.
    pub inherited: bool,
    /// The organizational domain the walk settled on (§4.10.2 selection rules).
    pub org_domain: String,
    /// The record is a public suffix domain's (`psd=y`), used because the organizational domain has none.
    pub from_psd: bool,
}

/// The outcome of policy discovery.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Discovery {
    /// The first query, at the author domain itself.
    pub author: AtName,
    /// The tree walk's queries, in order (empty when the author domain has its own record).
    pub walk: Vec<AtName>,
    /// The record that applies, if any.
    pub applies: Option<Applicable>,
}

impl Discovery {
    /// Every `_dmarc` name queried, with its outcome, for finding details.
    pub(super) fn trace(&self) -> Vec<serde_json::Value> {
        std::iter::once(&self.author)
            .chain(&self.walk)
            .map(|at| serde_json::json!({"name": format!("_dmarc.{}", at.domain), "result": at.outcome()}))
            .collect()
    }
}

/// A query during discovery failed: the result would be a guess.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WalkFailure {
    /// The `_dmarc` name whose query failed.
    pub name: String,
    /// Why.
    pub error: LookupError,
}

/// Query `_dmarc.<domain>` and sort what is there.
pub(crate) async fn query(dns: &Lookups, domain: &str) -> Result<AtName, WalkFailure> {
    let name = format!("_dmarc.{domain}");
    let answer = dns.txt(&name).await.map_err(|error| WalkFailure {
        name: name.clone(),
        error,
    })?;
    let mut at = AtName {
        domain: domain.to_owned(),
        nxdomain: matches!(answer, Answer::NxDomain),
        records: Vec::new(),
        broken: Vec::new(),
        unrelated: Vec::new(),
    };
    for txt in answer.records() {
        // RFC 9989 §4.5: strings of one TXT record are concatenated before parsing.
        match classify(&txt.joined()) {
            Classified::Dmarc(record) => at.records.push(*record),
            Classified::Broken { text, why } => at.broken.push((text, why)),
            Classified::Unrelated(text) => at.unrelated.push(text),
        }
    }
    Ok(at)
}

/// RFC 9989 §4.10.1 policy discovery for `domain`.
pub(crate) async fn discover(dns: &Lookups, domain: &str) -> Result<Discovery, WalkFailure> {
    let author = query(dns, domain).await?;
    if let Some(record) = author.single() {
        let applies = Applicable {
            found_at: domain.to_owned(),
            record: record.clone(),
            inherited: false,
            org_domain: domain.to_owned(),
            from_psd: false,
        };
        return Ok(Discovery {
            author,
            walk: Vec::new(),
            applies: Some(applies),
        });
    }
    let mut walk = Vec::new();
    for target in walk_targets(domain) {
        let at = query(dns, &target).await?;
        // §4.10 step 6: "If a single record remains and it contains a psd=n or psd=y tag, stop."
        let stop = at.single().is_some_and(|r| r.psd != Psd::Unspecified);
        walk.push(at);
        if stop {
            break;
        }
    }
    let applies = select(domain, &walk);
    Ok(Discovery {
        author,
        walk,
        applies,
    })
}

/// The names the tree walk queries after the author domain itself (§4.10 steps 3–7): one label less each
/// time; from a name of more than eight labels, first straight to its last seven.
pub(crate) fn walk_targets(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    // §4.10.1: "If the Author Domain has eight or fewer labels, the starting point will be the immediate
    // parent domain"; otherwise the name shortened to seven labels (§4.10 step 4).
    let start = if labels.len() <= MAX_QUERIES {
        1
    } else {
        labels.len() - (MAX_QUERIES - 1)
    };
    (start..labels.len())
        .map(|i| labels[i..].join("."))
        .collect()
}

/// §4.10.2 organizational domain selection over the walk's records (longest name first), then §4.10.1:
/// the organizational domain's record applies, or else the public suffix domain's.
fn select(author: &str, walk: &[AtName]) -> Option<Applicable> {
    let found: Vec<(&str, &DmarcRecord)> = walk
        .iter()
        .filter_map(|at| at.single().map(|r| (at.domain.as_str(), r)))
        .collect();
    let record_at = |domain: &str| found.iter().find(|(d, _)| *d == domain).map(|(_, r)| *r);
    let applicable =
        |found_at: &str, record: &DmarcRecord, org: String, from_psd: bool| Applicable {
            found_at: found_at.to_owned(),
            record: record.clone(),
            inherited: true,
            org_domain: org,
            from_psd,
        };
    for (domain, record) in &found {
        match record.psd {
            // 1. "If a valid DMARC Policy Record contains the psd tag set to n, this is the
            //    Organizational Domain."
            Psd::No => return Some(applicable(domain, record, domain.to_string(), false)),
            // 2. psd=y: "the Organizational Domain is the domain one label below this one".
            Psd::Yes => {
                let org = one_label_below(author, domain);
                // "PSD policy is not used for Organizational Domains that have published a DMARC
                // Policy Record."
                return Some(match record_at(&org) {
                    Some(own) => applicable(&org, own, org.clone(), false),
                    None => applicable(domain, record, org, true),
                });
            }
            Psd::Unspecified => {}
        }
    }
    // 3. "Otherwise, select the DMARC Policy Record found at the name with the fewest number of labels."
    found
        .last()
        .map(|(domain, record)| applicable(domain, record, domain.to_string(), false))
}

/// The ancestor of `author` with one label more than `ancestor` (`a.b.example`, `example` → `b.example`).
fn one_label_below(author: &str, ancestor: &str) -> String {
    let labels: Vec<&str> = author.split('.').collect();
    let keep = ancestor.split('.').count() + 1;
    labels[labels.len().saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests;
