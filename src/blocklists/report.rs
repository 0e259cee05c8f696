//! How results read: finding messages a human can act on, the status sentence shown with a listing's
//! start time, and the JSON of `check --format json` (`ips[].listings[]`, `domains[].listings[]`,
//! DESIGN §4).

use std::net::Ipv4Addr;

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;

use super::round::ZoneListing;
use super::{Failure, Family, HealthState, Listed, Listing, Meaning, Target, Zone};
use crate::findings::{Finding, FindingCode, Severity};
use crate::store::ListingPeriod;

/// One listing as `check --format json` prints it. A clean result is exactly
/// `{"zone":"zen.spamhaus.org","listed":false}`; `listed` is `null` when the state is unknown (refused,
/// lookup failed), so a consumer reading only `listed` never mistakes "could not check" for clean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingJson {
    /// The zone's config name.
    pub zone: String,
    /// `true` listed, `false` not listed, `null` unknown.
    pub listed: Option<bool>,
    /// `listed`, `refused` or `lookup_failed` (absent when not listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// Every A answer (listed, refused).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Ipv4Addr>,
    /// What the codes mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// True when the listing is a policy listing only (e.g. Spamhaus PBL).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub policy: bool,
    /// The list's TXT explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where to ask for removal (listed only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delist_url: Option<String>,
    /// Why the lookup failed (`lookup_failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&ZoneListing> for ListingJson {
    fn from(zl: &ZoneListing) -> Self {
        let mut out = ListingJson {
            zone: zl.zone.clone(),
            listed: None,
            state: Some(zl.listing.state()),
            codes: Vec::new(),
            meaning: None,
            policy: false,
            reason: None,
            delist_url: None,
            error: None,
        };
        match &zl.listing {
            Listing::NotListed => {
                out.listed = Some(false);
                out.state = None;
            }
            Listing::Listed(l) => {
                out.listed = Some(true);
                out.codes = l.codes.clone();
                out.meaning = Some(meanings(&l.meanings));
                out.policy = l.is_policy_only();
                out.reason = l.reason.clone();
                out.delist_url = zl.delist_url.clone();
            }
            Listing::Refused { code, meaning } => {
                out.codes = vec![*code];
                out.meaning = Some(meaning.clone());
            }
            Listing::LookupFailed(f) => out.error = Some(f.to_string()),
        }
        out
    }
}

/// `SBL: spam source; XBL: exploited host` (or just the labels for lists without words).
pub(super) fn meanings(meanings: &[Meaning]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for m in meanings {
        let part = if m.text.is_empty() {
            m.label.clone()
        } else {
            format!("{}: {}", m.label, m.text)
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts.join("; ")
}

fn labels(meanings: &[Meaning]) -> String {
    let mut labels: Vec<&str> = Vec::new();
    for m in meanings {
        if !labels.contains(&m.label.as_str()) {
            labels.push(&m.label);
        }
    }
    labels.join(", ")
}

fn utc_minute(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// The status sentence for one listing state, given when that state started (from the store):
/// "listed on zen.spamhaus.org (SBL) since 2026-11-20 14:02 UTC, reason: …, delist at …".
pub fn status_sentence(listing: &ZoneListing, since: Option<OffsetDateTime>) -> String {
    let since = since
        .map(|at| format!(" since {}", utc_minute(at)))
        .unwrap_or_default();
    let zone = &listing.zone;
    match &listing.listing {
        Listing::NotListed => format!("not listed on {zone}{since}"),
        Listing::Listed(l) => {
            let mut s = format!("listed on {zone} ({}){since}", labels(&l.meanings));
            if let Some(reason) = &l.reason {
                s.push_str(&format!(", reason: {reason}"));
            }
            if let Some(url) = &listing.delist_url {
                s.push_str(&format!(", delist at {url}"));
            }
            s
        }
        Listing::Refused { code, meaning } => {
            format!("not checked on {zone}{since}: the list refused the query ({code}: {meaning})")
        }
        Listing::LookupFailed(f) => format!("could not check on {zone}{since}: {f}"),
    }
}

/// `blocklist.listed`: critical for reputation listings, warning for policy-only ones.
pub(super) fn listed_finding(target: &Target, zone: &Zone, listed: &Listed) -> Finding {
    let what = meanings(&listed.meanings);
    let reason = listed
        .reason
        .as_ref()
        .map(|r| format!(", reason: \"{r}\""))
        .unwrap_or_default();
    let removal = zone
        .delist_url()
        .map(|u| format!("ask for removal at {u}"))
        .unwrap_or_else(|| "ask the list for removal".to_owned());
    let (severity, message) = if listed.is_policy_only() {
        (
            Severity::Warning,
            format!(
                "{target} is on {zone}'s policy list ({what}){reason}; this says what kind of address it is, \
                 not that it sent spam, but receivers that use {zone} refuse its mail: if it is a mail server, \
                 {removal}.",
                zone = zone.zone(),
            ),
        )
    } else {
        (
            Severity::Critical,
            format!(
                "{target} is listed on {} ({what}){reason}; find and stop the cause, then {removal}.",
                zone.zone()
            ),
        )
    };
    Finding::new(FindingCode::BlocklistListed, severity, message).with_detail(json!({
        "target": target.to_string(),
        "zone": zone.zone(),
        "queried_as": zone.queried_as(),
        "codes": listed.codes,
        "meanings": listed.meanings,
        "policy": listed.is_policy_only(),
        "reason": listed.reason,
        "delist_url": zone.delist_url(),
    }))
}

/// One target's answer on one zone as a finding, the way the daemon stores it and `check` prints it:
/// the status sentence (with the start of the listing when the store knows it) and what to do. `None`
/// when not listed. `health` is the zone's verdict for the target's family: an answer not trusted
/// because the zone fails its test points is `blocklist.zone_unhealthy`.
pub(super) fn target_finding(
    target: &Target,
    zone: &Zone,
    listing: &ZoneListing,
    health: Option<&HealthState>,
    since: Option<i64>,
) -> Option<Finding> {
    let name = zone.zone();
    let base = json!({
        "target": target.to_string(),
        "zone": name,
        "queried_as": zone.queried_as(),
        "state": listing.listing.state(),
    });
    let finding = match &listing.listing {
        Listing::NotListed => return None,
        Listing::Listed(listed) => {
            let started = since.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
            let sentence = status_sentence(listing, started);
            let (severity, message) = if listed.is_policy_only() {
                (
                    Severity::Warning,
                    format!(
                        "{target} is {sentence}; a policy listing says what kind of address it is, not that \
                         it sent spam, but receivers that use {name} refuse its mail."
                    ),
                )
            } else {
                (
                    Severity::Critical,
                    format!(
                        "{target} is {sentence}; find and stop the cause before asking for removal."
                    ),
                )
            };
            Finding::new(FindingCode::BlocklistListed, severity, message).with_detail(extend(
                base,
                json!({
                    "codes": listed.codes,
                    "meanings": listed.meanings,
                    "policy": listed.is_policy_only(),
                    "reason": listed.reason,
                    "delist_url": zone.delist_url(),
                    "listed_since": since,
                }),
            ))
        }
        Listing::Refused { code, meaning } => {
            let fix = zone
                .refusal_fix(*code)
                .map(|f| format!(" Fix: {f}."))
                .unwrap_or_default();
            Finding::new(
                FindingCode::BlocklistQueryRefused,
                Severity::Unknown,
                format!(
                    "{target} was not checked on {name}: the list refused the query ({code}: {meaning}); \
                     this is neither a listing nor clean.{fix}"
                ),
            )
            .with_detail(extend(base, json!({ "code": code })))
        }
        Listing::LookupFailed(failure) => {
            let code = match (failure, health) {
                (Failure::Untrusted(_), Some(HealthState::Unhealthy(_))) => {
                    FindingCode::BlocklistZoneUnhealthy
                }
                (Failure::Untrusted(_), Some(HealthState::Refused { .. })) => {
                    FindingCode::BlocklistQueryRefused
                }
                _ => FindingCode::BlocklistLookupFailed,
            };
            Finding::new(
                code,
                Severity::Unknown,
                format!(
                    "Could not check {target} on {name}: {failure}; its listing state is unknown, neither \
                     listed nor clean."
                ),
            )
            .with_detail(extend(base, json!({ "error": failure.kind() })))
        }
    };
    Some(finding)
}

/// `blocklist.delisted` (info): a listing period the store closed, shown while it is recent.
/// A target that no configured zone can check (an IPv6 address with IPv4-only zones, a domain with
/// no domain zone): its state is unknown, not clean.
pub(super) fn not_checked_finding(target: &Target, zones: &[Zone]) -> Finding {
    let (kind, family) = match target.family() {
        Family::V4 => ("IPv4 addresses", "IPv4"),
        Family::V6 => ("IPv6 addresses", "IPv6"),
        Family::Domain => ("domains", "domain"),
    };
    let configured: Vec<&str> = zones.iter().map(Zone::zone).collect();
    let message = if configured.is_empty() {
        format!("{target} was not checked against any blocklist: no zone is configured.")
    } else {
        format!(
            "{target} was not checked against any blocklist: none of the configured zones ({}) lists {kind}. Add a zone that does (blocklists.enable or blocklists.extra), or know that its blocklist state is unknown.",
            configured.join(", ")
        )
    };
    Finding::new(FindingCode::BlocklistNotChecked, Severity::Unknown, message).with_detail(json!({
        "target": target.to_string(),
        "family": family,
        "zones": configured,
    }))
}

pub(super) fn ended_finding(period: &ListingPeriod) -> Finding {
    let at = |unix: i64| {
        OffsetDateTime::from_unix_timestamp(unix)
            .map(utc_minute)
            .unwrap_or_else(|_| unix.to_string())
    };
    let until = period.delisted_at.unwrap_or(period.last_seen);
    Finding::new(
        FindingCode::BlocklistDelisted,
        Severity::Info,
        format!(
            "{} is no longer listed on {}: listed from {} until {}.",
            period.target,
            period.zone,
            at(period.listed_since),
            at(until)
        ),
    )
    .with_detail(json!({
        "target": period.target,
        "zone": period.zone,
        "codes": period.codes,
        "reason": period.reason,
        "listed_since": period.listed_since,
        "delisted_at": until,
    }))
}

fn extend(mut base: serde_json::Value, more: serde_json::Value) -> serde_json::Value {
    if let (Some(map), serde_json::Value::Object(more)) = (base.as_object_mut(), more) {
        map.extend(more);
    }
    base
}

/// At most this many targets are named in a zone-level finding's detail.
const DETAIL_TARGETS: usize = 20;

/// `a, b, c and 7 more`.
pub(super) fn some_targets(targets: &[&Target]) -> String {
    const SHOWN: usize = 3;
    let mut s = targets
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if targets.len() > SHOWN {
        s.push_str(&format!(" and {} more", targets.len() - SHOWN));
    }
    s
}

/// Detail shared by zone-level findings.
pub(super) fn zone_detail(zone: &Zone, targets: &[&Target]) -> serde_json::Value {
    json!({
        "zone": zone.zone(),
        "queried_as": zone.queried_as(),
        "targets": targets.iter().take(DETAIL_TARGETS).map(ToString::to_string).collect::<Vec<_>>(),
        "target_count": targets.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{Class, Failure};

    fn zl(listing: Listing) -> ZoneListing {
        ZoneListing {
            zone: "zen.spamhaus.org".into(),
            delist_url: Some("https://check.spamhaus.org/".into()),
            listing,
        }
    }

    fn sbl() -> Listing {
        Listing::Listed(Listed {
            codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
            meanings: vec![Meaning {
                code: Ipv4Addr::new(127, 0, 0, 2),
                label: "SBL".into(),
                text: "spam source".into(),
                class: Class::Reputation,
            }],
            reason: Some("https://check.spamhaus.org/sbl/query/SBL1".into()),
        })
    }

    #[test]
    fn json_follows_design_contract() {
        let clean = serde_json::to_string(&ListingJson::from(&zl(Listing::NotListed))).unwrap();
        assert_eq!(clean, r#"{"zone":"zen.spamhaus.org","listed":false}"#);
        let listed = serde_json::to_value(ListingJson::from(&zl(sbl()))).unwrap();
        assert_eq!(listed["listed"], true);
        assert_eq!(listed["state"], "listed");
        assert_eq!(listed["codes"][0], "127.0.0.2");
        assert_eq!(listed["meaning"], "SBL: spam source");
        assert!(listed.get("policy").is_none());
        let failed = serde_json::to_value(ListingJson::from(&zl(Listing::LookupFailed(
            Failure::Dns {
                kind: "timeout",
                detail: "no answer from the resolver (timed out)".into(),
            },
        ))))
        .unwrap();
        assert_eq!(failed["listed"], serde_json::Value::Null);
        assert_eq!(failed["state"], "lookup_failed");
        assert!(failed["error"].as_str().unwrap().contains("timed out"));
    }

    #[test]
    fn status_sentence_names_zone_codes_start_reason_and_delisting() {
        let since = OffsetDateTime::from_unix_timestamp(1_795_183_320).unwrap();
        assert_eq!(
            status_sentence(&zl(sbl()), Some(since)),
            "listed on zen.spamhaus.org (SBL) since 2026-11-20 14:02 UTC, reason: \
             https://check.spamhaus.org/sbl/query/SBL1, delist at https://check.spamhaus.org/"
        );
        assert_eq!(
            status_sentence(&zl(Listing::NotListed), None),
            "not listed on zen.spamhaus.org"
        );
    }
}
