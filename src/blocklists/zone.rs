//! A zone ready to query: its name (the stable id used in config, metrics and JSON), how its answers
//! decode, its refusal codes, its test points, and where queries go (the public zone, or Spamhaus DQS
//! with a key that never leaves this type).

use std::fmt;
use std::net::Ipv4Addr;

use super::zones::{self, Answers, Entry};
use super::{Class, Family};
use crate::config::{CodeRange, ExtraZone, Secret, ZoneKind};

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

    /// Whether this is a catalogue zone whose documentation names `code` on its own as a refusal (as
    /// Spamhaus names 127.255.255.254: "query via public/open resolver").
    pub(super) fn documents_refusal(&self, code: Ipv4Addr) -> bool {
        self.source.is_some()
            && self
                .refusals
                .iter()
                .any(|r| r.range.first == code && r.range.last == code)
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

#[cfg(test)]
mod tests {
    use super::*;

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
