//! `senderscope check DOMAIN... [--ip IP]... [--dkim-selector SEL]... [--nameserver HOST:PORT]...
//! [--format text|json]`: one-shot posture checks, no daemon, no store, no config file.
//!
//! Exit codes follow the monitoring-plugin convention (DESIGN §4): 0 OK (info counts as OK), 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN (a lookup failed and nothing is critical; DNS could not be set up; bad
//! arguments — see [`USAGE_ERROR`]).

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::Context as _;

use crate::checks::DomainContext;
use crate::checks::mta_sts::PolicyFetcher;
use crate::config::DomainName;
use crate::dns::{DnsSettings, Resolver};
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
    let report = check(&args, &resolver).await;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut stdout, &PostureJson::new(&report))
                .context("writing the JSON report to stdout")?;
            writeln!(stdout).context("writing to stdout")?;
        }
        Format::Text => {
            stdout
                .write_all(text::render(&report).as_bytes())
                .context("writing the report to stdout")?;
        }
    }
    stdout.flush().context("writing to stdout")?;
    Ok(report.status.exit_code())
}

/// Check every domain of `args` in one DNS round (one cache, so IPs and includes shared by several
/// domains are looked up once).
pub async fn check(args: &CheckArgs, resolver: &Resolver) -> PostureReport {
    let round = resolver.round();
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

/// The same value given twice is checked once; order is kept.
fn dedup<T: Clone + PartialEq>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
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
