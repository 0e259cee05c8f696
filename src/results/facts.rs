//! The typed facts behind a result, one variant per check that learns any ([`CheckFacts`]): what the
//! fact families of `/metrics` and the API's `facts` are made of.
//!
//! The store keeps the variant's fields as JSON beside the check name, which is the tag: a row reads
//! back with [`CheckFacts::from_stored`], never through look-alike structs. The field names are those
//! of the rows written before this type existed, so old rows read back unchanged.
//!
//! Facts are the last known values: a run whose lookup failed learns nothing, and keeps what the
//! previous result knew ([`CheckFacts::keeping_unknown`]) — "could not check" is neither a value nor
//! its absence — so the stored row, the state and a restarted daemon all say the same.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::id::CheckId;
use crate::checks::Facts;
use crate::findings::{Finding, FindingCode, Severity};

/// What one check learned beyond its findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CheckFacts {
    /// The check learns no facts (or stored none).
    #[default]
    #[serde(serialize_with = "empty_object")]
    None,
    /// `spf`.
    Spf(SpfFacts),
    /// `dkim`.
    Dkim(DkimFacts),
    /// `dmarc`.
    Dmarc(DmarcFacts),
    /// `ptr` of one IP.
    Ptr(PtrFacts),
    /// `blocklists` of one target.
    Listings(ListingFacts),
    /// The blocklist `round`.
    Zones(ZoneFacts),
}

fn empty_object<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    s.serialize_map(Some(0))?.end()
}

/// SPF facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpfFacts {
    /// DNS-querying terms counted per RFC 7208 §4.6.4 (when an SPF record was found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_dns_lookups: Option<u32>,
    /// A valid SPF record is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_present: Option<bool>,
}

/// DKIM facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DkimFacts {
    /// Each selector with a usable key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_keys: Vec<DkimKey>,
}

/// One DKIM key as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKey {
    /// The selector.
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// Key size in bits (RSA modulus; 256 for Ed25519).
    pub bits: u32,
}

/// A DMARC policy (RFC 9989 `p=`), the `policy` label of `senderscope_dmarc_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// `p=none`.
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
}

impl DmarcPolicy {
    /// Every policy, in the order the metric lists them.
    pub const ALL: [DmarcPolicy; 3] = [
        DmarcPolicy::None,
        DmarcPolicy::Quarantine,
        DmarcPolicy::Reject,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    fn parse(text: &str) -> Option<DmarcPolicy> {
        DmarcPolicy::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// DMARC facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DmarcFacts {
    /// The effective policy, when a record applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc_policy: Option<DmarcPolicy>,
    /// Whether enforcement applies to all mail (BIMI needs it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc_enforced: Option<bool>,
}

/// The facts of an IP's `ptr` result: what the status API shows beside its findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrFacts {
    /// The PTR name (the forward-confirmed one when there is one).
    #[serde(default)]
    pub ptr: Option<String>,
    /// Some PTR name resolves back to the IP.
    #[serde(default)]
    pub fcrdns: bool,
}

/// One zone's answer for one target, as `blocklists::Listing::state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Listed.
    Listed,
    /// Not listed.
    NotListed,
    /// The list refused our query: not a listing, not clean.
    Refused,
    /// The query failed: unknown.
    LookupFailed,
}

impl Answer {
    /// From `blocklists::Listing::state`'s name; anything else is a failed lookup.
    pub fn from_state(state: &str) -> Answer {
        match state {
            "listed" => Answer::Listed,
            "not_listed" => Answer::NotListed,
            "refused" => Answer::Refused,
            _ => Answer::LookupFailed,
        }
    }
}

/// The facts of a target's `blocklists` result: each zone's answer in the round. A zone that does
/// not list the target's kind is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingFacts {
    /// Zone → answer.
    #[serde(default)]
    pub zones: BTreeMap<String, Answer>,
}

/// The facts of the blocklist `round`: whether each zone passed its RFC 5782 test points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneFacts {
    /// Zone → healthy.
    #[serde(default)]
    pub healthy: BTreeMap<String, bool>,
}

impl CheckFacts {
    /// Read a stored row's facts (`json`) as the variant of its check.
    pub fn from_stored(check: CheckId, json: &str) -> Result<CheckFacts, serde_json::Error> {
        Ok(match check {
            CheckId::Spf => CheckFacts::Spf(serde_json::from_str(json)?),
            CheckId::Dkim => CheckFacts::Dkim(serde_json::from_str(json)?),
            CheckId::Dmarc => CheckFacts::Dmarc(serde_json::from_str(json)?),
            CheckId::Ptr => CheckFacts::Ptr(serde_json::from_str(json)?),
            CheckId::Blocklists => CheckFacts::Listings(serde_json::from_str(json)?),
            CheckId::BlocklistRound => CheckFacts::Zones(serde_json::from_str(json)?),
            _ => CheckFacts::None,
        })
    }

    /// The part of a domain round's merged facts that `check` learned (each check fills only its
    /// own). The destructuring is exhaustive: a new field in `Facts` does not compile until it is
    /// placed here.
    pub fn of_check(check: CheckId, facts: &Facts) -> CheckFacts {
        let Facts {
            spf_dns_lookups,
            spf_present,
            dkim_keys,
            dmarc_policy,
            dmarc_enforced,
        } = facts;
        match check {
            CheckId::Spf => CheckFacts::Spf(SpfFacts {
                spf_dns_lookups: *spf_dns_lookups,
                spf_present: *spf_present,
            }),
            CheckId::Dkim => CheckFacts::Dkim(DkimFacts {
                dkim_keys: dkim_keys
                    .iter()
                    .map(|k| DkimKey {
                        selector: k.selector.clone(),
                        key_type: k.key_type.to_owned(),
                        bits: k.bits,
                    })
                    .collect(),
            }),
            CheckId::Dmarc => CheckFacts::Dmarc(DmarcFacts {
                dmarc_policy: dmarc_policy.and_then(DmarcPolicy::parse),
                dmarc_enforced: *dmarc_enforced,
            }),
            _ => CheckFacts::None,
        }
    }

    /// Keep what `previous` knew where this run could not learn it (a lookup failed): the SPF count
    /// and the DMARC policy when the run has no value and an unknown finding, a DKIM key per selector
    /// whose lookup failed.
    pub fn keeping_unknown(
        self,
        findings: &[Finding],
        previous: Option<&CheckFacts>,
    ) -> CheckFacts {
        let unknown = findings.iter().any(|f| f.severity == Severity::Unknown);
        match (self, previous) {
            (CheckFacts::Spf(now), Some(CheckFacts::Spf(before)))
                if unknown && now.spf_dns_lookups.is_none() =>
            {
                CheckFacts::Spf(before.clone())
            }
            (CheckFacts::Dmarc(now), Some(CheckFacts::Dmarc(before)))
                if unknown && now.dmarc_policy.is_none() =>
            {
                CheckFacts::Dmarc(before.clone())
            }
            (CheckFacts::Dkim(mut now), Some(CheckFacts::Dkim(before))) => {
                let failed: HashSet<&str> = findings
                    .iter()
                    .filter(|f| f.code == FindingCode::DkimLookupFailed)
                    .filter_map(|f| f.detail.get("selector").and_then(|s| s.as_str()))
                    .collect();
                for key in &before.dkim_keys {
                    if failed.contains(key.selector.as_str())
                        && !now.dkim_keys.iter().any(|k| k.selector == key.selector)
                    {
                        now.dkim_keys.push(key.clone());
                    }
                }
                CheckFacts::Dkim(now)
            }
            (now, _) => now,
        }
    }

    /// The SPF lookup count, for an SPF result.
    pub fn spf_dns_lookups(&self) -> Option<u32> {
        match self {
            CheckFacts::Spf(f) => f.spf_dns_lookups,
            _ => None,
        }
    }

    /// The DKIM keys, for a DKIM result.
    pub fn dkim_keys(&self) -> &[DkimKey] {
        match self {
            CheckFacts::Dkim(f) => &f.dkim_keys,
            _ => &[],
        }
    }

    /// The DMARC policy, for a DMARC result.
    pub fn dmarc_policy(&self) -> Option<DmarcPolicy> {
        match self {
            CheckFacts::Dmarc(f) => f.dmarc_policy,
            _ => None,
        }
    }

    /// The PTR facts, for an IP's `ptr` result.
    pub fn ptr(&self) -> Option<&PtrFacts> {
        match self {
            CheckFacts::Ptr(f) => Some(f),
            _ => None,
        }
    }

    /// Each zone's answer, for a `blocklists` result.
    pub fn listings(&self) -> Option<&ListingFacts> {
        match self {
            CheckFacts::Listings(f) => Some(f),
            _ => None,
        }
    }

    /// Each zone's health, for the blocklist `round`.
    pub fn zones(&self) -> Option<&ZoneFacts> {
        match self {
            CheckFacts::Zones(f) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::DkimKeyFact;
    use serde_json::json;

    fn merged() -> Facts {
        Facts {
            spf_dns_lookups: Some(4),
            spf_present: Some(true),
            dkim_keys: vec![DkimKeyFact {
                selector: "s1".into(),
                key_type: "rsa",
                bits: 2048,
            }],
            dmarc_policy: Some("reject"),
            dmarc_enforced: Some(true),
        }
    }

    fn stored(check: CheckId) -> serde_json::Value {
        serde_json::to_value(CheckFacts::of_check(check, &merged())).unwrap()
    }

    #[test]
    fn each_check_stores_only_its_own_facts() {
        assert_eq!(
            stored(CheckId::Spf),
            json!({"spf_dns_lookups": 4, "spf_present": true})
        );
        assert_eq!(
            stored(CheckId::Dkim),
            json!({"dkim_keys": [{"selector": "s1", "key_type": "rsa", "bits": 2048}]})
        );
        assert_eq!(
            stored(CheckId::Dmarc),
            json!({"dmarc_policy": "reject", "dmarc_enforced": true})
        );
        assert_eq!(stored(CheckId::Mx), json!({}));
        assert_eq!(stored(CheckId::BulkSender), json!({}));
    }

    #[test]
    fn stored_facts_read_back_as_their_checks_variant() {
        for check in [CheckId::Spf, CheckId::Dkim, CheckId::Dmarc, CheckId::Mx] {
            let facts = CheckFacts::of_check(check, &merged());
            let text = serde_json::to_string(&facts).unwrap();
            assert_eq!(CheckFacts::from_stored(check, &text).unwrap(), facts);
        }
        // Rows written before the facts column existed hold `{}`.
        assert_eq!(
            CheckFacts::from_stored(CheckId::Spf, "{}").unwrap(),
            CheckFacts::Spf(SpfFacts::default())
        );
        let listings = r#"{"zones":{"bl.test":"listed","other.test":"lookup_failed"}}"#;
        let facts = CheckFacts::from_stored(CheckId::Blocklists, listings).unwrap();
        assert_eq!(
            facts.listings().unwrap().zones["other.test"],
            Answer::LookupFailed
        );
    }

    #[test]
    fn a_failed_lookup_keeps_the_facts_it_could_not_learn() {
        let before = CheckFacts::of_check(CheckId::Spf, &merged());
        let failed = [Finding::new(
            FindingCode::SpfLookupFailed,
            Severity::Unknown,
            "timeout",
        )];
        let now = CheckFacts::Spf(SpfFacts::default());
        assert_eq!(now.clone().keeping_unknown(&failed, Some(&before)), before);
        // No SPF record (definitively gone): nothing is kept.
        assert_eq!(now.clone().keeping_unknown(&[], Some(&before)), now);

        let before = CheckFacts::of_check(CheckId::Dkim, &merged());
        let s1_failed = [
            Finding::new(FindingCode::DkimLookupFailed, Severity::Unknown, "timeout")
                .with_detail(json!({"selector": "s1"})),
        ];
        let now = CheckFacts::Dkim(DkimFacts::default());
        assert_eq!(now.keeping_unknown(&s1_failed, Some(&before)), before);
    }
}
