//! `senderscope check DOMAIN... [--ip IP]... [--dkim-selector SEL]... [--nameserver HOST:PORT]...
//! [--blocklist ZONE]... [--format text|json]`: one-shot posture checks, no daemon, no store, no config
//! file.
//!
//! `--blocklist` also checks the IPs (and, on domain lists, the domains) against blocklist zones, in the
//! same DNS round: `defaults` for the catalogue's default set, a catalogue zone with its own answer
//! table, any other zone with generic semantics (see [`crate::blocklists::ZoneArg`]). Without it no
//! blocklist is queried. Catalogue Spamhaus zones go through DQS when `SENDERSCOPE_SPAMHAUS_DQS_KEY`
//! is set, as in the daemon.
//!
//! Exit codes follow the monitoring-plugin convention (DESIGN §4): 0 OK (info counts as OK), 1 WARNING
//! (e.g. a policy listing such as Spamhaus PBL), 2 CRITICAL (e.g. a listing), 3 UNKNOWN (a lookup
//! failed or a list refused the query, and nothing is critical; DNS could not be set up; bad
//! arguments — see [`USAGE_ERROR`]).

use std::collections::HashSet;
use std::hash::Hash;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::Context as _;

use crate::blocklists::{
    Family, History, RoundReport, Target, Targets, Zone, ZoneArg, adhoc_zones, run_round,
};
use crate::checks::DomainContext;
use crate::checks::mta_sts::PolicyFetcher;
use crate::config::{DomainName, Secret, ZoneKind};
use crate::dns::{DnsSettings, Lookups, Resolver};
use crate::findings::Severity;
use crate::posture::{self, PostureReport, json::PostureJson, text};

/// The exit code for bad arguments: UNKNOWN, as monitoring plugins do — not clap's default 2, which a
/// monitoring system would read as CRITICAL. `main` returns it for a usage error of this subcommand.
pub const USAGE_ERROR: u8 = 3;

/// Arguments of `senderscope check`. `--ip` and `--dkim-selector` apply to every domain given.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Domains to check.
    #[arg(value_name = "DOMAIN", required = true, value_parser = parse_domain)]
    pub domains: Vec<DomainName>,
    /// A sending IP (IPv4 or IPv6): PTR/FCrDNS, SPF authorization. Repeatable.
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<IpAddr>,
    /// A DKIM selector to check (selectors cannot be discovered through DNS). Repeatable.
    #[arg(long = "dkim-selector", value_name = "SEL", value_parser = parse_selector)]
    pub dkim_selectors: Vec<String>,
    /// Ask this nameserver (IP, IP:PORT, [IPv6]:PORT or HOST:PORT) instead of resolv.conf's. Repeatable.
    #[arg(long = "nameserver", value_name = "HOST:PORT", value_parser = parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
    /// Check the IPs (and, on domain lists, the domains) on this blocklist zone. `defaults` is the
    /// built-in default set; a catalogue zone uses its own answer table; any other zone reads an answer
    /// in 127.0.0.0/8 as listed, except 127.0.0.1 and 127.255.255.0/24 (refused). Other zones list IP
    /// addresses unless written `domain:ZONE` (or `ipv4:ZONE`). Repeatable; none: no blocklist is
    /// queried.
    #[arg(long = "blocklist", value_name = "ZONE", value_parser = ZoneArg::parse)]
    pub blocklists: Vec<ZoneArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable report for a terminal, worst first.
    Text,
    /// One JSON object (DESIGN §4).
    Json,
}

/// Run the checks, print the report, and return the process exit code.
pub async fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let settings = DnsSettings {
        nameservers: args.nameservers.clone(),
        ..DnsSettings::default()
    };
    let resolver = match Resolver::new(&settings) {
        Ok(r) => r,
        Err(e) => {
            // Could not check at all: UNKNOWN, not an internal error.
            eprintln!("senderscope check: cannot set up DNS: {e}");
            return Ok(Severity::Unknown.exit_code());
        }
    };
    let dqs_key = match dqs_key_from_env() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("senderscope check: {e}");
            return Ok(USAGE_ERROR);
        }
    };
    let zones = blocklist_zones(&args, dqs_key.as_ref());
    let outcome = check(&args, &resolver, &zones).await;
    // Stdout is line-buffered with a 1 KiB buffer: a JSON report of thousands of targets is one line,
    // written in 1 KiB system calls without a larger buffer of our own.
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match args.format {
        Format::Json => {
            let mut json = PostureJson::new(&outcome.posture);
            if let Some(round) = &outcome.blocklists {
                json = json.with_blocklists(round);
            }
            serde_json::to_writer(&mut stdout, &json)
                .context("writing the JSON report to stdout")?;
            writeln!(stdout).context("writing to stdout")?;
        }
        Format::Text => {
            stdout
                .write_all(
                    text::render_with(&outcome.posture, outcome.blocklists.as_ref()).as_bytes(),
                )
                .context("writing the report to stdout")?;
        }
    }
    stdout.flush().context("writing to stdout")?;
    Ok(outcome.status.exit_code())
}

/// What `check` learned: the posture report and, with `--blocklist`, the blocklist round.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// Posture of the domains and IPs.
    pub posture: PostureReport,
    /// The blocklists' answers for the same IPs and domains (`None` without `--blocklist`).
    pub blocklists: Option<RoundReport>,
    /// The worst of both: what the exit code says.
    pub status: Severity,
}

/// The zones `--blocklist` names that list something given: an IP list with no `--ip` of its family
/// is left out, with a note on stderr (domains are always given).
fn blocklist_zones(args: &CheckArgs, dqs_key: Option<&Secret>) -> Vec<Zone> {
    let families: HashSet<Family> = args
        .ips
        .iter()
        .map(|ip| Target::Ip(*ip).family())
        .chain(std::iter::once(Family::Domain))
        .collect();
    let mut zones = adhoc_zones(&args.blocklists, dqs_key);
    zones.retain(|z| {
        let used = families.iter().any(|f| z.lists(*f));
        if !used {
            let what = match z.kind() {
                ZoneKind::Ipv4 => "IPv4 addresses only",
                ZoneKind::Ip | ZoneKind::Domain => "IP addresses",
            };
            eprintln!(
                "senderscope check: {} lists {what}; give --ip with one to check it there",
                z.zone()
            );
        }
        used
    });
    zones
}

/// The Spamhaus DQS key from `SENDERSCOPE_SPAMHAUS_DQS_KEY`, checked as the configuration checks it
/// (it becomes a DNS label). The value never reaches an error message.
fn dqs_key_from_env() -> Result<Option<Secret>, String> {
    let Some(value) = std::env::var_os("SENDERSCOPE_SPAMHAUS_DQS_KEY") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    if key.is_empty() || key.len() > 63 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(
            "SENDERSCOPE_SPAMHAUS_DQS_KEY is not a Data Query Service key (letters and digits, as Spamhaus issues them)"
                .into(),
        );
    }
    Ok(Some(Secret::new(key)))
}

/// Check every domain of `args` and, on `zones`, every IP and domain, all in one DNS round (one
/// cache, so IPs and includes shared by several domains are looked up once).
pub async fn check(args: &CheckArgs, resolver: &Resolver, zones: &[Zone]) -> CheckOutcome {
    let round = resolver.round();
    let blocklists = async {
        if zones.is_empty() {
            return None;
        }
        let mut targets = Targets::new();
        for ip in &args.ips {
            targets.add_ip(*ip);
        }
        // Zones named on the command line are the question asked: with IP zones only, the domains
        // were not asked about (the daemon, checking what its config lists, says "not checked").
        if zones.iter().any(|z| z.lists(Family::Domain)) {
            for domain in &args.domains {
                targets.add_domain(domain.clone());
            }
        }
        let result = run_round(&round, zones, &targets).await;
        // No store: no history, so sentences carry no "since".
        Some(RoundReport::new(
            result,
            zones,
            &History::new(),
            crate::checks::unix_now(),
        ))
    };
    let (posture, blocklists) = futures::join!(posture(args, &round), blocklists);
    let status = blocklists
        .as_ref()
        .map_or(posture.status, |b| posture.status.max(b.status));
    CheckOutcome {
        posture,
        blocklists,
        status,
    }
}

/// The posture checks of every domain of `args`, through `round`.
async fn posture(args: &CheckArgs, round: &Lookups) -> PostureReport {
    let https = PolicyFetcher::default();
    let selectors = dedup(&args.dkim_selectors);
    let ips = dedup(&args.ips);
    let contexts: Vec<DomainContext> = dedup(&args.domains)
        .into_iter()
        .map(|domain| DomainContext {
            domain,
            dkim_selectors: selectors.clone(),
            sending_ips: ips.clone(),
            dns: round.clone(),
            https: https.clone(),
        })
        .collect();
    let domains = posture::check_domains(contexts, posture::DEFAULT_DOMAINS_IN_FLIGHT).await;
    PostureReport::new(domains)
}

/// The same value given twice is checked once; order is kept. A set, not a scan of what is kept:
/// thousands of `--ip` are a use, not an abuse.
fn dedup<T: Clone + Eq + Hash>(items: &[T]) -> Vec<T> {
    let mut seen: HashSet<&T> = HashSet::with_capacity(items.len());
    items
        .iter()
        .filter(|item| seen.insert(*item))
        .cloned()
        .collect()
}

fn parse_domain(s: &str) -> Result<DomainName, String> {
    DomainName::parse(s)
}

/// RFC 6376 §3.1: a selector is a sub-domain (one or more labels) below `_domainkey`.
fn parse_selector(s: &str) -> Result<String, String> {
    DomainName::parse(s).map(|d| d.as_str().to_owned())
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT`, or `HOST[:PORT]` resolved once by the system; port 53 by default.
fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let resolved = if s.contains(':') {
        s.to_socket_addrs()
    } else {
        (s, 53).to_socket_addrs()
    };
    resolved
        .map_err(|e| format!("{s:?} is not IP[:PORT] or HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_forms() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5300").unwrap(),
            "127.0.0.1:5300".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("192.0.2.1").unwrap(),
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]:5300").unwrap(),
            "[::1]:5300".parse().unwrap()
        );
        assert!(parse_nameserver("127.0.0.1:99999").is_err());
    }

    #[test]
    fn selectors_are_dns_names() {
        assert_eq!(parse_selector("S1").unwrap(), "s1");
        assert_eq!(parse_selector("2024.eu").unwrap(), "2024.eu");
        assert!(parse_selector("bad selector").is_err());
        assert!(parse_selector("").is_err());
    }

    #[test]
    fn duplicates_are_checked_once_in_order() {
        assert_eq!(dedup(&["b", "a", "b"]), vec!["b", "a"]);
    }
}
