//! A zone ready to query: its name (the stable id used in config, metrics and JSON), how its answers
//! decode, its refusal codes, its test points, and where queries go (the public zone, or Spamhaus DQS
//! with a key that never leaves this type).

use std::fmt;
use std::net::Ipv4Addr;

use super::zones::{self, Answers, Entry};
use super::{Class, Family};
use crate::config::{BlocklistSettings, CodeRange, ExtraZone, Secret, ZoneKind};

/// A blocklist zone with everything needed to query it and read its answers.
#[derive(Clone, PartialEq)]
pub struct Zone {
    pub(super) zone: String,
    pub(super) name: String,
    pub(super) kind: ZoneKind,
    pub(super) rules: Rules,
    pub(super) refusals: Vec<RefusalRule>,
    pub(super) test_points: (String, String),
    pub(super) delist_url: Option<String>,
    pub(super) source: Option<&'static str>,
    base: QueryBase,
}

/// How answers become listings.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Rules {
    /// Documented codes (or ranges), each with a meaning.
    Codes(Vec<CodeRule>),
    /// Bits of the last octet.
    Bitmask(Vec<BitRule>),
    /// Any 127.0.0.0/8 answer that is not a refusal is a listing (ad-hoc zones, extras without codes).
    Any127,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct CodeRule {
    pub range: CodeRange,
    pub label: String,
    pub text: String,
    pub class: Class,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct BitRule {
    pub value: u8,
    pub label: String,
    pub text: String,
    pub class: Class,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RefusalRule {
    pub range: CodeRange,
    pub meaning: String,
    pub fix: Option<String>,
}

/// Where queries for this zone go. The DQS key is a [`Secret`]: it is placed in the query name at the
/// last moment and redacted from anything that comes back.
#[derive(Clone, PartialEq)]
enum QueryBase {
    Public(String),
    Dqs { key: Secret, zone: &'static str },
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-written so the query base (a DQS key) can never reach a log through `{:?}`.
        f.debug_struct("Zone")
            .field("zone", &self.zone)
            .field("queried_as", &self.queried_as())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// RFC 5782 §5: domain lists MUST list `test` and MUST NOT list `invalid`.
fn rfc5782_domain_points() -> (String, String) {
    ("test".to_owned(), "invalid".to_owned())
}

/// The refusals of a list without its own table: 127.0.0.1 (URIBL/SURBL style "refused", and the
/// RFC 5782 "never listed" point) and 127.255.255.0/24 (Spamhaus style error range).
fn default_refusals() -> Vec<RefusalRule> {
    vec![
        RefusalRule {
            range: single(Ipv4Addr::new(127, 0, 0, 1)),
            meaning: "127.0.0.1 is the conventional \"query refused\" answer, never a listing"
                .into(),
            fix: None,
        },
        RefusalRule {
            range: CodeRange {
                first: Ipv4Addr::new(127, 255, 255, 0),
                last: Ipv4Addr::new(127, 255, 255, 255),
            },
            meaning: "127.255.255.0/24 is the conventional error range, never a listing".into(),
            fix: None,
        },
    ]
}

fn single(code: Ipv4Addr) -> CodeRange {
    CodeRange {
        first: code,
        last: code,
    }
}

impl Zone {
    /// A catalogue zone, queried through Spamhaus DQS when the entry supports it and a key is given.
    pub fn from_catalogue(entry: &Entry, dqs_key: Option<&Secret>) -> Zone {
        let rules = match entry.answers {
            Answers::Codes(codes) => Rules::Codes(
                codes
                    .iter()
                    .map(|c| CodeRule {
                        range: CodeRange {
                            first: c.first,
                            last: c.last,
                        },
                        label: c.label.to_owned(),
                        text: c.meaning.to_owned(),
                        class: c.class,
                    })
                    .collect(),
            ),
            Answers::Bitmask(bits) => Rules::Bitmask(
                bits.iter()
                    .map(|b| BitRule {
                        value: b.value,
                        label: b.label.to_owned(),
                        text: b.meaning.to_owned(),
                        class: b.class,
                    })
                    .collect(),
            ),
        };
        let base = match (entry.dqs, dqs_key) {
            (Some(zone), Some(key)) if !key.expose().is_empty() => QueryBase::Dqs {
                key: key.clone(),
                zone,
            },
            _ => QueryBase::Public(entry.zone.to_owned()),
        };
        Zone {
            zone: entry.zone.to_owned(),
            name: entry.name.to_owned(),
            kind: entry.kind,
            rules,
            refusals: entry
                .refusals
                .iter()
                .map(|r| RefusalRule {
                    range: CodeRange {
                        first: r.first,
                        last: r.last,
                    },
                    meaning: r.meaning.to_owned(),
                    fix: r.fix.map(str::to_owned),
                })
                .collect(),
            test_points: entry
                .domain_test_points
                .map(|(listed, unlisted)| (listed.to_owned(), unlisted.to_owned()))
                .unwrap_or_else(rfc5782_domain_points),
            delist_url: Some(entry.delist_url.to_owned()),
            source: Some(entry.source),
            base,
        }
    }

    /// A `blocklists.extra` zone: its configured listed codes (none = any 127.0.0.0/8 answer that is not
    /// a refusal) and refused codes (none = 127.0.0.1 and 127.255.255.0/24).
    pub fn from_extra(extra: &ExtraZone) -> Zone {
        let zone = crate::dns::normalize(&extra.zone);
        let rules = if extra.listed.is_empty() {
            Rules::Any127
        } else {
            Rules::Codes(
                extra
                    .listed
                    .iter()
                    .map(|range| CodeRule {
                        range: *range,
                        label: range_text(range),
                        text: String::new(),
                        class: Class::Reputation,
                    })
                    .collect(),
            )
        };
        let refusals = if extra.refused.is_empty() {
            default_refusals()
        } else {
            extra
                .refused
                .iter()
                .map(|range| RefusalRule {
                    range: *range,
                    meaning: format!(
                        "{} is configured as this list's refusal code",
                        range_text(range)
                    ),
                    fix: None,
                })
                .collect()
        };
        let name = if extra.name.is_empty() {
            zone.clone()
        } else {
            extra.name.clone()
        };
        Zone {
            name,
            kind: extra.kind,
            rules,
            refusals,
            test_points: rfc5782_domain_points(),
            delist_url: extra.delist_url.clone(),
            source: None,
            base: QueryBase::Public(zone.clone()),
            zone,
        }
    }

    /// The same zone listing `kind` instead (e.g. an ad-hoc `--blocklist` zone used for domains).
    pub fn with_kind(mut self, kind: ZoneKind) -> Zone {
        self.kind = kind;
        self
    }

    /// The zone's name as given in config, metrics labels and JSON (`zen.spamhaus.org`, also when
    /// queried through DQS).
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// A human name (`Spamhaus ZEN`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it lists.
    pub fn kind(&self) -> ZoneKind {
        self.kind
    }

    /// Where a listed sender asks for removal.
    pub fn delist_url(&self) -> Option<&str> {
        self.delist_url.as_deref()
    }

    /// The documentation its codes come from (catalogue zones).
    pub fn source(&self) -> Option<&'static str> {
        self.source
    }

    /// Where queries go, safe to show: the zone, or `zen.dq.spamhaus.net (DQS)` (never the key).
    pub fn queried_as(&self) -> String {
        match &self.base {
            QueryBase::Public(zone) => zone.clone(),
            QueryBase::Dqs { zone, .. } => format!("{zone} (DQS)"),
        }
    }

    /// Whether queries go through Spamhaus DQS.
    pub fn is_dqs(&self) -> bool {
        matches!(self.base, QueryBase::Dqs { .. })
    }

    /// Whether targets of `family` are queried on this zone.
    pub fn lists(&self, family: Family) -> bool {
        matches!(
            (self.kind, family),
            (ZoneKind::Ipv4, Family::V4)
                | (ZoneKind::Ip, Family::V4 | Family::V6)
                | (ZoneKind::Domain, Family::Domain)
        )
    }

    /// The name to query for `prefix` (reversed IP or domain). Contains the DQS key: pass it to the DNS
    /// layer only, never to a log or a message.
    pub(super) fn query_name(&self, prefix: &str) -> String {
        match &self.base {
            QueryBase::Public(zone) => format!("{prefix}.{zone}"),
            QueryBase::Dqs { key, zone } => format!("{prefix}.{}.{zone}", key.expose()),
        }
    }

    /// `text` with the DQS key (if any) replaced, for anything that came back from a query.
    pub(super) fn redact(&self, text: &str) -> String {
        match &self.base {
            QueryBase::Dqs { key, .. } if !key.expose().is_empty() => {
                text.replace(key.expose(), "[dqs-key]")
            }
            _ => text.to_owned(),
        }
    }

    /// The fix advised for a refusal code, if the list documents one.
    pub(super) fn refusal_fix(&self, code: Ipv4Addr) -> Option<&str> {
        self.refusals
            .iter()
            .find(|r| r.range.contains(code))
            .and_then(|r| r.fix.as_deref())
    }
}

fn range_text(range: &CodeRange) -> String {
    if range.first == range.last {
        range.first.to_string()
    } else {
        format!("{}-{}", range.first, range.last)
    }
}

/// An ad-hoc zone (`senderscope check --blocklist ZONE`) with generic semantics: any answer in
/// 127.0.0.0/8 is a listing, except 127.0.0.1 and 127.255.255.0/24, which mean the list refused us.
/// A catalogue zone keeps its own table.
pub fn generic_zone(zone: &str) -> Zone {
    if let Some(entry) = zones::entry(zone) {
        return Zone::from_catalogue(entry, None);
    }
    Zone::from_extra(&ExtraZone {
        zone: zone.to_owned(),
        name: String::new(),
        kind: ZoneKind::Ip,
        listed: Vec::new(),
        refused: Vec::new(),
        delist_url: None,
    })
}

/// The configured zone set could not be built; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blocklists settings: {}", .0.join("; "))]
pub struct SelectError(pub Vec<String>);

/// The zones to query for `settings`: the catalogue defaults (unless `defaults: false`), plus `enable`,
/// minus `disable`, plus `extra`; Spamhaus zones through DQS when a key is configured.
pub fn select(settings: &BlocklistSettings) -> Result<Vec<Zone>, SelectError> {
    let mut problems = Vec::new();
    let known = |name: &str, key: &str, problems: &mut Vec<String>| {
        if zones::entry(name).is_some() {
            return true;
        }
        problems.push(match zones::dead(name) {
            Some(dead) => format!(
                "blocklists.{key}: {name} is a dead list ({}); a dead zone can answer \"listed\" for every address",
                dead.why
            ),
            None => format!(
                "blocklists.{key}: {name} is not in the catalogue (add it under blocklists.extra with its codes)"
            ),
        });
        false
    };
    let enable: Vec<String> = settings
        .enable
        .iter()
        .filter(|z| known(z, "enable", &mut problems))
        .map(|z| crate::dns::normalize(z))
        .collect();
    let disable: Vec<String> = settings
        .disable
        .iter()
        .filter(|z| known(z, "disable", &mut problems))
        .map(|z| crate::dns::normalize(z))
        .collect();
    let key = settings.spamhaus_dqs_key.as_ref();
    let mut out: Vec<Zone> = zones::CATALOGUE
        .iter()
        .filter(|e| (settings.defaults && e.default) || enable.iter().any(|z| z == e.zone))
        .filter(|e| !disable.iter().any(|z| z == e.zone))
        .map(|e| Zone::from_catalogue(e, key))
        .collect();
    for extra in &settings.extra {
        let zone = Zone::from_extra(extra);
        if zones::entry(&zone.zone).is_some() {
            problems.push(format!(
                "blocklists.extra: {} is in the catalogue; use blocklists.enable instead",
                zone.zone
            ));
        } else if out.iter().any(|z| z.zone == zone.zone) {
            problems.push(format!("blocklists.extra: {} is listed twice", zone.zone));
        } else {
            out.push(zone);
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(SelectError(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BlocklistSettings {
        BlocklistSettings {
            defaults: true,
            enable: vec![],
            disable: vec![],
            extra: vec![],
            spamhaus_dqs_key: None,
            max_range_addresses: 256,
        }
    }

    fn names(zones: &[Zone]) -> Vec<&str> {
        zones.iter().map(Zone::zone).collect()
    }

    #[test]
    fn enable_disable_and_extra_shape_the_set() {
        let mut s = settings();
        s.enable = vec!["b.barracudacentral.org".into()];
        s.disable = vec!["multi.uribl.com".into(), "PSBL.surriel.com.".into()];
        s.extra = vec![ExtraZone {
            zone: "bl.example.net".into(),
            name: "Example".into(),
            kind: ZoneKind::Ipv4,
            listed: vec![],
            refused: vec![],
            delist_url: None,
        }];
        let zones = select(&s).unwrap();
        let n = names(&zones);
        assert!(n.contains(&"b.barracudacentral.org"));
        assert!(n.contains(&"zen.spamhaus.org"));
        assert!(!n.contains(&"multi.uribl.com"));
        assert!(!n.contains(&"psbl.surriel.com"));
        assert_eq!(n.last(), Some(&"bl.example.net"));
        s.defaults = false;
        assert_eq!(
            names(&select(&s).unwrap()),
            ["b.barracudacentral.org", "bl.example.net"]
        );
    }

    #[test]
    fn dead_and_unknown_names_are_refused_with_reasons() {
        let mut s = settings();
        s.enable = vec!["dnsbl.sorbs.net".into(), "bl.nowhere.test".into()];
        let err = select(&s).unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert!(err.0[0].contains("dead list") && err.0[0].contains("2024-06-05"));
        assert!(err.0[1].contains("not in the catalogue"));
    }

    #[test]
    fn dqs_key_changes_where_queries_go_but_never_shows() {
        let mut s = settings();
        s.spamhaus_dqs_key = Some(Secret::new("sekritkey123"));
        let zones = select(&s).unwrap();
        let zen = zones
            .iter()
            .find(|z| z.zone() == "zen.spamhaus.org")
            .unwrap();
        assert!(zen.is_dqs());
        assert_eq!(zen.queried_as(), "zen.dq.spamhaus.net (DQS)");
        assert_eq!(
            zen.query_name("2.0.0.127"),
            "2.0.0.127.sekritkey123.zen.dq.spamhaus.net"
        );
        assert!(!format!("{zen:?}").contains("sekritkey123"));
        assert_eq!(zen.redact("x sekritkey123 y"), "x [dqs-key] y");
        let dbl = zones
            .iter()
            .find(|z| z.zone() == "dbl.spamhaus.org")
            .unwrap();
        assert_eq!(
            dbl.query_name("example.com"),
            "example.com.sekritkey123.dbl.dq.spamhaus.net"
        );
        let spamcop = zones.iter().find(|z| z.zone() == "bl.spamcop.net").unwrap();
        assert!(!spamcop.is_dqs());
    }

    #[test]
    fn generic_zone_keeps_catalogue_tables() {
        assert!(matches!(
            generic_zone("zen.spamhaus.org").rules,
            Rules::Codes(_)
        ));
        let adhoc = generic_zone("bl.example.org.");
        assert_eq!(adhoc.zone(), "bl.example.org");
        assert_eq!(adhoc.rules, Rules::Any127);
        assert!(adhoc.lists(Family::V4) && adhoc.lists(Family::V6));
    }
}
