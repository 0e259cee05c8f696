//! `blocklists:`: catalogue zones enabled and disabled (checked against the catalogue, with close names
//! suggested), extra zones with their answer codes (never a catalogue or dead zone), the Spamhaus DQS
//! key.

use std::collections::HashMap;

use super::Validator;
use crate::blocklists;
use crate::config::keypath::KeyPath;
use crate::config::model::{BlocklistSettings, CodeRange, ExtraZone, ZoneKind};
use crate::config::net;
use crate::config::raw::{RawBlocklists, RawExtraZone};

/// The generic refusal codes (docs/findings.md, `blocklist.query_refused`): 127.0.0.1 and 127.255.255.0/24 mean "the list refused
/// the query", never a listing.
const DEFAULT_REFUSED: [&str; 2] = ["127.0.0.1", "127.255.255.0/24"];

impl Validator<'_> {
    pub(super) fn blocklists(&mut self, raw: RawBlocklists, path: &KeyPath) -> BlocklistSettings {
        let enable = self.zones(&raw.enable, path, "enable");
        let disable = self.zones(&raw.disable, path, "disable");
        for (i, zone) in disable.iter().enumerate() {
            if let Some(j) = enable.iter().position(|z| z == zone) {
                self.problem(
                    path.key("disable").index(i),
                    format!(
                        "{zone} is also in {}; keep one",
                        path.key("enable").index(j)
                    ),
                );
            }
        }
        let mut extra: Vec<ExtraZone> = Vec::new();
        let mut seen = HashMap::new();
        for (i, zone) in raw.extra.into_iter().enumerate() {
            let entry = path.key("extra").index(i);
            // Duplicates are found by zone even when the entries have other problems.
            if let Ok(name) = net::parse_zone(&zone.zone)
                && let Some(first) = seen.insert(name.clone(), i)
            {
                self.problem(
                    entry.key("zone"),
                    format!(
                        "{name} is already listed as {}",
                        path.key("extra").index(first)
                    ),
                );
                continue;
            }
            if let Some(parsed) = self.extra_zone(zone, &entry) {
                extra.push(parsed);
            }
        }
        let spamhaus_dqs_key = self.secret(
            &path.key("spamhaus_dqs_key_file"),
            raw.spamhaus_dqs_key_file.as_deref(),
            "SENDERSCOPE_SPAMHAUS_DQS_KEY",
            // The key becomes a DNS label: `<ip>.<key>.zen.dq.spamhaus.net`.
            |key| key.len() <= 63 && key.bytes().all(|b| b.is_ascii_alphanumeric()),
            "is not a Data Query Service key (letters and digits, as Spamhaus issues them)",
        );
        // RFC 5782 queries are one per address; a /16 would be 65,536 queries per zone per round.
        let max_range_addresses = self.count(
            &path.key("max_range_addresses"),
            raw.max_range_addresses,
            1,
            65_536,
        );
        BlocklistSettings {
            defaults: raw.defaults,
            enable,
            disable,
            extra,
            spamhaus_dqs_key,
            max_range_addresses,
        }
    }

    fn zones(&mut self, raw: &[String], path: &KeyPath, key: &str) -> Vec<String> {
        let list = &path.key(key);
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.iter().enumerate() {
            let item = list.index(i);
            let Ok(zone) = net::parse_zone(text).map_err(|e| self.problem(item.clone(), e)) else {
                continue;
            };
            if let Some(first) = seen.insert(zone.clone(), i) {
                self.problem(
                    item,
                    format!("{zone} is already listed as {}", list.index(first)),
                );
                continue;
            }
            // enable/disable name catalogue zones only: a typo in `disable` would otherwise leave
            // the default it meant running, silently.
            if let Some(problem) = blocklists::catalogue_problem(&zone, key) {
                self.problem(item, problem);
                continue;
            }
            out.push(zone);
        }
        out
    }

    fn extra_zone(&mut self, raw: RawExtraZone, entry: &KeyPath) -> Option<ExtraZone> {
        let zone = net::parse_zone(&raw.zone)
            .map_err(|e| self.problem(entry.key("zone"), e))
            .and_then(|zone| {
                if blocklists::zones::entry(&zone).is_some() {
                    // The catalogue's table knows its codes and refusals; a copy here would drift.
                    self.problem(
                        entry.key("zone"),
                        format!("{zone} is in the blocklist catalogue; name it in blocklists.enable instead (its answer codes are built in)"),
                    );
                    Err(())
                } else if let Some(dead) = blocklists::zones::dead(&zone) {
                    self.problem(
                        entry.key("zone"),
                        format!("{zone} is a dead list ({}); a dead zone can answer \"listed\" for every address, so it is never queried", dead.why),
                    );
                    Err(())
                } else {
                    Ok(zone)
                }
            });
        let kind = match raw.kind.as_str() {
            "ipv4" => Some(ZoneKind::Ipv4),
            "ip" => Some(ZoneKind::Ip),
            "domain" => Some(ZoneKind::Domain),
            other => {
                self.problem(
                    entry.key("kind"),
                    format!("{other:?} is not a zone kind; use ipv4, ip (IPv4 and IPv6) or domain"),
                );
                None
            }
        };
        let listed = self.codes(
            raw.listed.iter().map(String::as_str),
            Some(&entry.key("listed")),
        );
        let refused = match &raw.refused {
            Some(codes) => self.codes(
                codes.iter().map(String::as_str),
                Some(&entry.key("refused")),
            ),
            None => self.codes(DEFAULT_REFUSED.into_iter(), None),
        };
        if let Some(url) = &raw.delist_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            self.problem(
                entry.key("delist_url"),
                format!("{url:?} is not a web address; write it with https://"),
            );
        }
        if raw.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            self.problem(
                entry.key("name"),
                "the name cannot be empty; leave the key out to use the zone",
            );
        }
        let zone = zone.ok()?;
        Some(ExtraZone {
            name: raw.name.unwrap_or_else(|| zone.clone()),
            zone,
            kind: kind?,
            listed,
            refused,
            delist_url: raw.delist_url,
        })
    }

    /// Answer codes; `list` is `None` for the built-in defaults, which cannot fail.
    fn codes<'t>(
        &mut self,
        texts: impl Iterator<Item = &'t str>,
        list: Option<&KeyPath>,
    ) -> Vec<CodeRange> {
        let mut out = Vec::new();
        for (i, text) in texts.enumerate() {
            match (net::parse_code_range(text), list) {
                (Ok(range), _) => out.push(range),
                (Err(e), Some(list)) => self.problem(list.index(i), e),
                (Err(e), None) => {
                    self.problem(KeyPath::root(), format!("built-in code {text}: {e}"))
                }
            }
        }
        out
    }
}
