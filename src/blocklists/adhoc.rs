//! Zones named on the command line: `senderscope check … --blocklist ZONE`.
//!
//! - `defaults`: the catalogue's default set (what `blocklists.defaults: true` queries).
//! - a catalogue zone (`zen.spamhaus.org`, `b.barracudacentral.org`): its own answer table.
//! - any other zone: generic semantics ([`generic_zone`]): an answer in 127.0.0.0/8 is a listing,
//!   except 127.0.0.1 and 127.255.255.0/24, which mean the list refused the query. It lists IP
//!   addresses (IPv4 and IPv6) unless prefixed: `ipv4:bl.example.net` (IPv4 only),
//!   `domain:dbl.example.net` (a domain list, queried with the domains).
//!
//! Dead lists are refused with what happened to them, as in the configuration.

use std::collections::HashSet;
use std::fmt;

use super::{Zone, generic_zone, zones};
use crate::config::{DomainName, Secret, ZoneKind};

/// One `--blocklist` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneArg {
    /// `defaults`: the catalogue's default set.
    Defaults,
    /// A zone, with the kind its prefix gave (`None`: the catalogue's kind, or IP addresses).
    Zone {
        /// The zone, normalized.
        zone: String,
        /// `ipv4:`, `ip:` or `domain:`.
        kind: Option<ZoneKind>,
    },
}

impl fmt::Display for ZoneArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneArg::Defaults => f.write_str("defaults"),
            ZoneArg::Zone { zone, .. } => f.write_str(zone),
        }
    }
}

impl ZoneArg {
    /// Parse one `--blocklist` value (clap's value parser).
    pub fn parse(text: &str) -> Result<ZoneArg, String> {
        if text.eq_ignore_ascii_case("defaults") {
            return Ok(ZoneArg::Defaults);
        }
        let (kind, name) = match text.split_once(':') {
            Some(("ipv4", rest)) => (Some(ZoneKind::Ipv4), rest),
            Some(("ip", rest)) => (Some(ZoneKind::Ip), rest),
            Some(("domain", rest)) => (Some(ZoneKind::Domain), rest),
            Some((prefix, _)) => {
                return Err(format!(
                    "{prefix:?} is not a zone kind; write ipv4:ZONE, ip:ZONE or domain:ZONE (or the zone alone)"
                ));
            }
            None => (None, text),
        };
        let zone = DomainName::parse(name)
            .map_err(|e| format!("not a DNS zone name: {e}"))?
            .as_str()
            .to_owned();
        if !zone.contains('.') {
            return Err(format!(
                "{name:?} is a single label; a blocklist zone looks like bl.example.net (or write `defaults`)"
            ));
        }
        if let Some(dead) = zones::dead(&zone) {
            return Err(format!(
                "{zone} is a dead list ({}); a dead zone can answer \"listed\" for every address",
                dead.why
            ));
        }
        if let (Some(entry), Some(kind)) = (zones::entry(&zone), kind)
            && entry.kind != kind
        {
            return Err(format!(
                "{zone} is a catalogue zone listing {}; leave the prefix out",
                kind_words(entry.kind)
            ));
        }
        Ok(ZoneArg::Zone { zone, kind })
    }
}

fn kind_words(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Ipv4 => "IPv4 addresses",
        ZoneKind::Ip => "IP addresses",
        ZoneKind::Domain => "domains",
    }
}

/// The zones `args` name, each once, in the order given (`defaults` expands in catalogue order).
/// Catalogue Spamhaus zones go through DQS when `dqs_key` is given.
pub fn adhoc_zones(args: &[ZoneArg], dqs_key: Option<&Secret>) -> Vec<Zone> {
    let mut out: Vec<Zone> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |zone: Zone| {
        if seen.insert(zone.zone().to_owned()) {
            out.push(zone);
        }
    };
    for arg in args {
        match arg {
            ZoneArg::Defaults => zones::CATALOGUE
                .iter()
                .filter(|e| e.default)
                .for_each(|e| push(Zone::from_catalogue(e, dqs_key))),
            ZoneArg::Zone { zone, kind } => match zones::entry(zone) {
                Some(entry) => push(Zone::from_catalogue(entry, dqs_key)),
                None => push(generic_zone(zone).with_kind(kind.unwrap_or(ZoneKind::Ip))),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::Family;

    #[test]
    fn values_parse_into_defaults_catalogue_and_generic_zones() {
        assert_eq!(ZoneArg::parse("defaults"), Ok(ZoneArg::Defaults));
        let zones = adhoc_zones(
            &[
                ZoneArg::parse("BL.Example.NET.").unwrap(),
                ZoneArg::parse("domain:dbl.example.net").unwrap(),
                ZoneArg::parse("defaults").unwrap(),
                ZoneArg::parse("zen.spamhaus.org").unwrap(),
                ZoneArg::parse("b.barracudacentral.org").unwrap(),
            ],
            None,
        );
        let names: Vec<&str> = zones.iter().map(Zone::zone).collect();
        assert_eq!(
            names[..3],
            ["bl.example.net", "dbl.example.net", "zen.spamhaus.org"]
        );
        assert_eq!(names.last(), Some(&"b.barracudacentral.org"));
        assert_eq!(
            names.iter().filter(|n| **n == "zen.spamhaus.org").count(),
            1,
            "each zone once"
        );
        assert!(zones[0].lists(Family::V6) && !zones[0].lists(Family::Domain));
        assert!(zones[1].lists(Family::Domain) && !zones[1].lists(Family::V4));
        assert_eq!(zones[2].name(), "Spamhaus ZEN");
    }

    #[test]
    fn bad_values_say_why() {
        assert!(
            ZoneArg::parse("dnsbl.sorbs.net")
                .unwrap_err()
                .contains("dead list")
        );
        assert!(
            ZoneArg::parse("example")
                .unwrap_err()
                .contains("single label")
        );
        assert!(
            ZoneArg::parse("url:bl.example.net")
                .unwrap_err()
                .contains("zone kind")
        );
        assert!(
            ZoneArg::parse("domain:zen.spamhaus.org")
                .unwrap_err()
                .contains("listing IP addresses")
        );
        assert!(ZoneArg::parse("ip:zen.spamhaus.org").is_ok());
    }
}
