//! The configured zone set: catalogue defaults, `blocklists.enable` / `disable`, `blocklists.extra`,
//! and Spamhaus DQS when a key is configured. Every problem is reported at once.

use super::Zone;
use super::zones;
use crate::config::BlocklistSettings;
use crate::config::edit_distance;

/// The configured zone set could not be built; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blocklists settings: {}", .0.join("; "))]
pub struct SelectError(pub Vec<String>);

/// Catalogue zones whose names are close to `zone` (a typo, a sibling zone of the same operator),
/// closest first, at most three: for "did you mean …?" in config errors.
pub fn close_names(zone: &str) -> Vec<&'static str> {
    let zone = crate::dns::normalize(zone);
    // The operator's domain: the last two labels (`spamhaus.org` for `sbl.spamhaus.org`).
    let operator = |name: &str| -> String {
        let labels: Vec<&str> = name.rsplitn(3, '.').take(2).collect();
        labels.into_iter().rev().collect::<Vec<_>>().join(".")
    };
    let mut close: Vec<(usize, &'static str)> = zones::CATALOGUE
        .iter()
        .map(|e| (edit_distance(&zone, e.zone), e.zone))
        // Three edits catch a wrong TLD (.com for .org) or a missing label prefix (`spamcop.net`).
        .filter(|(d, name)| *d <= 3 || operator(name) == operator(&zone))
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, name)| name).collect()
}

/// Why `zone` cannot be named in `blocklists.<key>` (`enable` or `disable`; `None` when it is a
/// catalogue zone): a dead list (with what happened to it) or an unknown name (with close names and
/// what to do instead).
pub fn catalogue_problem(zone: &str, key: &str) -> Option<String> {
    if zones::entry(zone).is_some() {
        return None;
    }
    Some(match zones::dead(zone) {
        Some(dead) => format!(
            "{zone} is a dead list ({}); a dead zone can answer \"listed\" for every address, so it is never queried",
            dead.why
        ),
        None => {
            let close = close_names(zone);
            let hint = match close.as_slice() {
                [] => String::new(),
                [one] => format!(" (did you mean {one}?)"),
                [rest @ .., last] => format!(" (did you mean {} or {last}?)", rest.join(", ")),
            };
            let advice = if key == "disable" {
                "disable names catalogue zones only (remove an extra zone by deleting its entry)"
            } else {
                "a zone outside the catalogue goes under blocklists.extra with its answer codes"
            };
            format!("{zone} is not in the blocklist catalogue{hint}; {advice}")
        }
    })
}

/// The zones to query for `settings`: the catalogue defaults (unless `defaults: false`), plus `enable`,
/// minus `disable`, plus `extra`; Spamhaus zones through DQS when a key is configured.
pub fn select(settings: &BlocklistSettings) -> Result<Vec<Zone>, SelectError> {
    let mut problems = Vec::new();
    let known =
        |name: &str, key: &str, problems: &mut Vec<String>| match catalogue_problem(name, key) {
            None => true,
            Some(problem) => {
                problems.push(format!("blocklists.{key}: {problem}"));
                false
            }
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
    use crate::config::{ExtraZone, Secret, ZoneKind};

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
        assert!(err.0[1].contains("not in the blocklist catalogue"));
    }

    #[test]
    fn close_names_catch_typos_and_siblings() {
        assert_eq!(close_names("zen.spamhaus.com"), ["zen.spamhaus.org"]);
        assert_eq!(close_names("spamcop.net"), ["bl.spamcop.net"]);
        assert_eq!(
            close_names("sbl.spamhaus.org"),
            ["dbl.spamhaus.org", "zen.spamhaus.org"]
        );
        assert!(close_names("bl.example.net").is_empty());
        assert_eq!(
            catalogue_problem("dnsbl-2.uceprotect.net", "enable").unwrap(),
            "dnsbl-2.uceprotect.net is not in the blocklist catalogue (did you mean dnsbl-1.uceprotect.net?); \
             a zone outside the catalogue goes under blocklists.extra with its answer codes"
        );
        assert!(catalogue_problem("Zen.Spamhaus.org.", "disable").is_none());
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
}
