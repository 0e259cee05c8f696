//! Raw config (`raw.rs`) → runtime config (`model.rs`). Every value is checked, every problem collected
//! with its key path, and only then placed in the file (`locate.rs`): a refused config lists all that is
//! wrong with it at once (STYLE habit 3), each line `file:line:column: key.path: what is wrong`.
//!
//! Bounds are sanity limits, not tuning advice; each says why where it is not obvious.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::duration::{format_duration, parse_duration};
use super::error::{ConfigError, Problem};
use super::locate::{KeyPath, Position, locate};
use super::model::{
    BlocklistSettings, Config, DomainName, DomainSettings, ExtraZone, ScheduleSettings,
    ServerSettings, StateSettings, ZoneKind,
};
use super::net;
use super::raw::{RawBlocklists, RawConfig, RawDns, RawDomain, RawSchedule, RawServer, RawState};
use super::secret::{Secret, SecretSource};
use super::size::{format_size, parse_size};
use crate::dns::DnsSettings;

/// Placing a problem costs a parse of the text; past this many, the rest are summarized in one line.
const MAX_PLACED: usize = 100;

/// The generic refusal codes (DESIGN, issue 8): 127.0.0.1 and 127.255.255.0/24 mean "the list refused
/// the query", never a listing.
const DEFAULT_REFUSED: [&str; 2] = ["127.0.0.1", "127.255.255.0/24"];

/// Validate a deserialized config. `text` and `origin` place the problems; `secrets` reads the secret
/// files and environment variables.
pub(crate) fn validate(
    raw: RawConfig,
    text: &str,
    origin: &str,
    secrets: &dyn SecretSource,
) -> Result<Config, ConfigError> {
    let mut v = Validator {
        found: Vec::new(),
        environment: Vec::new(),
        secrets,
    };
    let root = KeyPath::root();
    let server = v.server(raw.server, &root.key("server"));
    let state = v.state(raw.state, &root.key("state"));
    let dns = v.dns(raw.dns, &root.key("dns"));
    let schedule = v.schedule(raw.schedule, &root.key("schedule"));
    let domains = match raw.domains {
        Some(domains) => v.domains(domains, &root.key("domains")),
        None => {
            v.problem(
                root.key("domains"),
                "required key is missing; list the sending domains to watch, or write `domains: []` to serve only the endpoints",
            );
            Vec::new()
        }
    };
    let blocklists = v.blocklists(raw.blocklists, &root.key("blocklists"));
    if v.found.is_empty() && v.environment.is_empty() {
        return Ok(Config {
            server,
            state,
            dns,
            schedule,
            domains,
            blocklists,
        });
    }
    Err(v.into_error(text, origin))
}

struct Validator<'a> {
    /// Problems in the file, by key path.
    found: Vec<(KeyPath, String)>,
    /// Problems with environment variables (no place in the file).
    environment: Vec<Problem>,
    secrets: &'a dyn SecretSource,
}

impl Validator<'_> {
    fn problem(&mut self, path: KeyPath, message: impl Into<String>) {
        self.found.push((path, message.into()));
    }

    /// The parsed value, or `fallback` after recording the problem (the fallback is never used: a
    /// config with any problem is refused whole).
    fn check<T>(&mut self, path: &KeyPath, parsed: Result<T, String>, fallback: T) -> T {
        parsed.unwrap_or_else(|message| {
            self.problem(path.clone(), message);
            fallback
        })
    }

    fn duration(&mut self, path: &KeyPath, text: &str, min: Duration, max: Duration) -> Duration {
        let parsed = parse_duration(text).and_then(|d| {
            if d < min {
                Err(format!(
                    "{text} is too short; the least is {}",
                    format_duration(min)
                ))
            } else if d > max {
                Err(format!(
                    "{text} is too long; the most is {}",
                    format_duration(max)
                ))
            } else {
                Ok(d)
            }
        });
        self.check(path, parsed, min)
    }

    fn count(&mut self, path: &KeyPath, value: u64, min: u64, max: u64) -> usize {
        let parsed = if (min..=max).contains(&value) {
            usize::try_from(value).map_err(|_| format!("{value} is too large"))
        } else {
            Err(format!("{value} is out of range; use {min} to {max}"))
        };
        self.check(path, parsed, 1)
    }

    /// A secret from environment variable `var` (which wins) or from the file named at `path`.
    /// Messages name the variable or the file, never the value.
    fn secret(
        &mut self,
        path: &KeyPath,
        file: Option<&str>,
        var: &str,
        valid: fn(&str) -> bool,
        invalid: &str,
    ) -> Option<Secret> {
        if let Some(value) = self.secrets.var(var) {
            let value = Secret::new(value);
            let message = if value.expose().is_empty() {
                "is set but empty; unset it or give the value".to_owned()
            } else if !valid(value.expose()) {
                format!("the value {invalid}")
            } else {
                return Some(value);
            };
            self.environment
                .push(Problem::at("environment", None, var, message));
            return None;
        }
        let file = file?;
        if file.trim().is_empty() {
            self.problem(
                path.clone(),
                "the path cannot be empty; leave the key out (or null) for none",
            );
            return None;
        }
        let message = match self.secrets.read(Path::new(file)) {
            Err(e) => format!("cannot read {file}: {e}"),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(_) => format!("{file} is not UTF-8 text"),
                Ok(text) => {
                    let value = Secret::new(text);
                    if value.expose().is_empty() {
                        format!("{file} is empty; put the value in it or leave the key out")
                    } else if !valid(value.expose()) {
                        format!("the value in {file} {invalid}")
                    } else {
                        return Some(value);
                    }
                }
            },
        };
        self.problem(path.clone(), message);
        None
    }

    fn server(&mut self, raw: RawServer, path: &KeyPath) -> ServerSettings {
        let listen = self.check(
            &path.key("listen"),
            net::parse_listen(&raw.listen),
            SocketAddr::from(([127, 0, 0, 1], 9797)),
        );
        let api_token = self.secret(
            &path.key("api_token_file"),
            raw.api_token_file.as_deref(),
            "SENDERSCOPE_API_TOKEN",
            // Sent as `Authorization: Bearer <token>` (RFC 6750 §2.1 b64token): visible ASCII, no spaces.
            |token| token.bytes().all(|b| b.is_ascii_graphic()),
            "contains characters that cannot go in an Authorization header; use printable ASCII without spaces",
        );
        let max_body = path.key("max_body_bytes");
        let max_body_bytes = parse_size(&raw.max_body_bytes).and_then(|bytes| {
            // Below 1 KiB not even a small DMARC report fits; above 1 GiB a body is an attack.
            const MIN: u64 = 1 << 10;
            const MAX: u64 = 1 << 30;
            if (MIN..=MAX).contains(&bytes) {
                usize::try_from(bytes).map_err(|_| format!("{bytes} is too large"))
            } else {
                Err(format!(
                    "{} is out of range; use {} to {}",
                    raw.max_body_bytes,
                    format_size(MIN),
                    format_size(MAX)
                ))
            }
        });
        let max_body_bytes = self.check(&max_body, max_body_bytes, 0);
        let request_timeout = self.duration(
            &path.key("request_timeout"),
            &raw.request_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        ServerSettings {
            listen,
            api_token,
            max_body_bytes,
            request_timeout,
        }
    }

    fn state(&mut self, raw: RawState, path: &KeyPath) -> StateSettings {
        if raw.path.trim().is_empty() {
            self.problem(path.key("path"), "the state database path cannot be empty");
        }
        let retention = self.duration(
            &path.key("retention"),
            &raw.retention,
            Duration::from_secs(3600),
            Duration::from_secs(10 * 366 * 86_400),
        );
        StateSettings {
            path: PathBuf::from(raw.path),
            retention,
        }
    }

    fn dns(&mut self, raw: RawDns, path: &KeyPath) -> DnsSettings {
        let list = path.key("nameservers");
        let mut nameservers = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.nameservers.iter().enumerate() {
            let item = list.index(i);
            let Ok(addr) = net::parse_nameserver(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(addr, i) {
                self.problem(
                    item,
                    format!("{addr} is already listed as {}", list.index(first)),
                );
                continue;
            }
            nameservers.push(addr);
        }
        // A DNS answer slower than a minute is no answer; a limit past 60s only delays lookup_failed.
        let timeout = self.duration(
            &path.key("timeout"),
            &raw.timeout,
            Duration::from_millis(10),
            Duration::from_secs(60),
        );
        let attempts = self.count(&path.key("attempts"), raw.attempts, 1, 10);
        let concurrency = self.count(&path.key("concurrency"), raw.concurrency, 1, 4096);
        DnsSettings {
            nameservers,
            timeout,
            attempts,
            concurrency: NonZeroUsize::new(concurrency).unwrap_or(NonZeroUsize::MIN),
        }
    }

    fn schedule(&mut self, raw: RawSchedule, path: &KeyPath) -> ScheduleSettings {
        let week = Duration::from_secs(7 * 86_400);
        let checks = self.duration(
            &path.key("checks"),
            &raw.checks,
            Duration::from_secs(1),
            week,
        );
        let blocklists = self.duration(
            &path.key("blocklists"),
            &raw.blocklists,
            Duration::from_secs(1),
            week,
        );
        // Jitter spreads runs so that domains do not all query at once; past half the interval two
        // runs could land next to each other.
        if !(0.0..=0.5).contains(&raw.jitter) {
            self.problem(
                path.key("jitter"),
                format!(
                    "{} is out of range; use a fraction from 0 to 0.5",
                    raw.jitter
                ),
            );
        }
        let concurrency = self.count(&path.key("concurrency"), raw.concurrency, 1, 4096);
        let job_timeout = self.duration(
            &path.key("job_timeout"),
            &raw.job_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        ScheduleSettings {
            checks,
            blocklists,
            jitter: raw.jitter,
            concurrency: NonZeroUsize::new(concurrency).unwrap_or(NonZeroUsize::MIN),
            job_timeout,
        }
    }

    fn domains(&mut self, raw: Vec<RawDomain>, path: &KeyPath) -> Vec<DomainSettings> {
        let mut out = Vec::with_capacity(raw.len());
        let mut seen: HashMap<DomainName, usize> = HashMap::new();
        for (i, domain) in raw.into_iter().enumerate() {
            let entry = path.index(i);
            let name_path = entry.key("name");
            let name = match DomainName::parse(&domain.name) {
                Ok(name) if !name.as_str().contains('.') => {
                    self.problem(
                        name_path,
                        format!(
                            "{:?} is a single label; a sending domain looks like example.com",
                            domain.name
                        ),
                    );
                    None
                }
                Ok(name) => {
                    if let Some(first) = seen.insert(name.clone(), i) {
                        self.problem(
                            name_path,
                            format!(
                                "{name} is already listed as {}; merge the two entries",
                                path.index(first)
                            ),
                        );
                    }
                    Some(name)
                }
                Err(e) => {
                    self.problem(name_path, format!("not a domain name: {e}"));
                    None
                }
            };
            let dkim_selectors = self.selectors(&domain.dkim_selectors, &entry, name.as_ref());
            let sending_ips = self.sending_ips(&domain.sending_ips, &entry.key("sending_ips"));
            if let Some(name) = name {
                out.push(DomainSettings {
                    name,
                    dkim_selectors,
                    sending_ips,
                });
            }
        }
        out
    }

    fn selectors(
        &mut self,
        raw: &[String],
        entry: &KeyPath,
        domain: Option<&DomainName>,
    ) -> Vec<String> {
        let list = entry.key("dkim_selectors");
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.iter().enumerate() {
            let item = list.index(i);
            let Ok(selector) = net::parse_selector(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(selector.clone(), i) {
                self.problem(
                    item,
                    format!("{selector} is already listed as {}", list.index(first)),
                );
                continue;
            }
            // RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 as text.
            if let Some(domain) = domain {
                let len = selector.len() + "._domainkey.".len() + domain.as_str().len();
                if len > 253 {
                    self.problem(
                        item,
                        format!("{selector}._domainkey.{domain} is {len} bytes, longer than a DNS name can be (253)"),
                    );
                    continue;
                }
            }
            out.push(selector);
        }
        out
    }

    fn sending_ips(&mut self, raw: &[String], list: &KeyPath) -> Vec<ipnet::IpNet> {
        let mut out: Vec<ipnet::IpNet> = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.iter().enumerate() {
            let item = list.index(i);
            let Ok(net) = net::parse_ip_or_net(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(net, i) {
                self.problem(
                    item,
                    format!("{text} is already listed as {}", list.index(first)),
                );
                continue;
            }
            out.push(net);
        }
        out
    }

    fn blocklists(&mut self, raw: RawBlocklists, path: &KeyPath) -> BlocklistSettings {
        let enable = self.zones(&raw.enable, &path.key("enable"));
        let disable = self.zones(&raw.disable, &path.key("disable"));
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

    fn zones(&mut self, raw: &[String], list: &KeyPath) -> Vec<String> {
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
            out.push(zone);
        }
        out
    }

    fn extra_zone(&mut self, raw: super::raw::RawExtraZone, entry: &KeyPath) -> Option<ExtraZone> {
        let zone = net::parse_zone(&raw.zone).map_err(|e| self.problem(entry.key("zone"), e));
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
    ) -> Vec<super::model::CodeRange> {
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

    /// Place every problem in the text and sort them as they appear.
    fn into_error(self, text: &str, origin: &str) -> ConfigError {
        let total = self.found.len();
        let mut placed: Vec<(Option<Position>, Problem)> = Vec::new();
        for (path, message) in self.found.into_iter().take(MAX_PLACED) {
            let position = place(text, &path);
            placed.push((
                position,
                Problem::at(origin, position, path.to_string(), message),
            ));
        }
        // Stable: problems at one node keep the order they were found in.
        placed
            .sort_by_key(|(position, _)| position.map_or((usize::MAX, 0), |p| (p.line, p.column)));
        let mut problems: Vec<Problem> = placed.into_iter().map(|(_, p)| p).collect();
        if total > MAX_PLACED {
            problems.push(Problem::at(
                origin,
                None,
                "",
                format!(
                    "{} more problems not shown; fix these first",
                    total - MAX_PLACED
                ),
            ));
        }
        problems.extend(self.environment);
        ConfigError { problems }
    }
}

/// Where the node at `path` is, or else its nearest ancestor that is in the file (a problem with a
/// defaulted key belongs to the section that left it out).
fn place(text: &str, path: &KeyPath) -> Option<Position> {
    let mut path = path.clone();
    loop {
        if let Some(position) = locate(text, &path) {
            return Some(position);
        }
        if path.is_root() {
            return Some(Position { line: 1, column: 1 });
        }
        path = path.parent();
    }
}
