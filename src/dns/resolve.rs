//! The upstream side: our own transport (the UDP socket pool of [`super::udp`], TCP on truncation)
//! asking the configured nameservers, or resolv.conf's as hickory-resolver reads it, behind a
//! concurrency limit, with attempts, CNAME chasing and the error taxonomy of [`LookupError`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::config::ProtocolConfig;
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::Name;
use tokio::sync::Semaphore;

use super::answer::MAX_CNAME_CHAIN;
use super::cache::{Fetched, RecordKind};
use super::tcp::{self, TcpFailure};
use super::udp::{UdpFailure, UdpPool};
use super::wire::{self, Question, Reading};
use super::{Answer, DnsSettings, LookupError, Records};

/// The resolver could not be built from the settings (e.g. no usable resolv.conf).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {0}")]
pub struct DnsSetupError(String);

#[derive(Default)]
pub(crate) struct Stats {
    pub sent: AtomicU64,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

pub(crate) struct Upstream {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: usize,
    next_server: AtomicUsize,
    udp: UdpPool,
    permits: Semaphore,
    concurrency: usize,
    histogram: Option<prometheus::Histogram>,
    pub stats: Stats,
}

impl Upstream {
    pub fn new(
        settings: &DnsSettings,
        histogram: Option<prometheus::Histogram>,
    ) -> Result<Self, DnsSetupError> {
        let servers = if settings.nameservers.is_empty() {
            system_nameservers()?
        } else {
            settings.nameservers.clone()
        };
        Ok(Upstream {
            servers,
            timeout: settings.timeout,
            attempts: settings.attempts.max(1),
            next_server: AtomicUsize::new(0),
            udp: UdpPool::default(),
            permits: Semaphore::new(settings.concurrency.get()),
            concurrency: settings.concurrency.get(),
            histogram,
            stats: Stats::default(),
        })
    }

    /// At most this many queries are in flight at once (`dns.concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Replies dropped because they answered no pending query (wrong id, sender or question).
    pub fn rejected_replies(&self) -> u64 {
        self.udp.stats.rejected.load(Ordering::Relaxed)
    }

    /// UDP sockets opened so far.
    pub fn sockets_opened(&self) -> u64 {
        self.udp.stats.sockets_opened.load(Ordering::Relaxed)
    }

    /// One lookup on the network (CNAME targets out of the first reply asked too), within the
    /// concurrency limit.
    pub async fn query(&self, name: &str, kind: RecordKind) -> Fetched {
        let Some(qname) = wire_name(name) else {
            return failed(LookupError::InvalidName(name.to_owned()));
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return failed(LookupError::Other("resolver shut down".into()));
        };
        let now = self.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let fetched = self.follow(qname, kind).await;
        if let Some(h) = &self.histogram {
            h.observe(started.elapsed().as_secs_f64());
        }
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        fetched
    }

    /// Ask `name`, then each CNAME target a reply leaves unanswered, up to [`MAX_CNAME_CHAIN`].
    async fn follow(&self, name: Name, kind: RecordKind) -> Fetched {
        let mut question = Question { name, kind };
        let mut aliases: Vec<String> = Vec::new();
        let mut seen = vec![wire::key(&question.name)];
        let mut chain_ttl = u32::MAX;
        for _ in 0..MAX_CNAME_CHAIN {
            let reply = match self.exchange(&question).await {
                Ok(reply) => reply,
                Err(e) => return failed(e),
            };
            match wire::read(&reply, &question) {
                Reading::Done(mut fetched) => {
                    if !aliases.is_empty() {
                        fetched = joined(fetched, aliases, chain_ttl);
                    }
                    return fetched;
                }
                Reading::Alias { chain, target, ttl } => {
                    if seen.contains(&wire::key(&target)) {
                        return failed(LookupError::Other(format!(
                            "CNAME loop at {}",
                            name_text(&target)
                        )));
                    }
                    seen.push(wire::key(&target));
                    aliases.extend(chain);
                    if aliases.len() > MAX_CNAME_CHAIN {
                        break;
                    }
                    chain_ttl = chain_ttl.min(ttl);
                    question = Question { name: target, kind };
                }
            }
        }
        failed(LookupError::Other(format!(
            "CNAME chain longer than {MAX_CNAME_CHAIN} names"
        )))
    }

    /// One question to the servers: up to `attempts` tries, each to the next server in turn, over UDP
    /// and again over TCP when the UDP reply is truncated.
    async fn exchange(&self, question: &Question) -> Result<Message, LookupError> {
        let first = self.next_server.fetch_add(1, Ordering::Relaxed);
        let mut last = LookupError::Timeout;
        for attempt in 0..self.attempts {
            let server = self.servers[(first + attempt) % self.servers.len()];
            let reply = match self.udp.exchange(server, question, self.timeout).await {
                Ok(reply) if reply.metadata.truncation => {
                    match tcp::exchange(server, question, self.timeout).await {
                        Ok(reply) => reply,
                        Err(TcpFailure::Timeout) => {
                            last = LookupError::Timeout;
                            continue;
                        }
                        Err(TcpFailure::Io(e)) => {
                            last = LookupError::Unreachable(format!("{server} over TCP: {e}"));
                            continue;
                        }
                    }
                }
                Ok(reply) => reply,
                Err(UdpFailure::Timeout) => {
                    last = LookupError::Timeout;
                    continue;
                }
                Err(UdpFailure::Io(e)) => {
                    last = LookupError::Unreachable(format!("{server}: {e}"));
                    continue;
                }
            };
            // Another server may do better than a failing one; one server's failure is its answer.
            let rcode = reply.metadata.response_code;
            let retry = matches!(rcode, ResponseCode::ServFail | ResponseCode::Refused)
                && self.servers.len() > 1
                && attempt + 1 < self.attempts;
            if !retry {
                return Ok(reply);
            }
            last = if rcode == ResponseCode::ServFail {
                LookupError::ServFail
            } else {
                LookupError::Refused
            };
        }
        Err(last)
    }
}

/// A final answer reached through aliases: the chain's names first, the smallest TTL of all.
fn joined(fetched: Fetched, mut aliases: Vec<String>, chain_ttl: u32) -> Fetched {
    let ttl = fetched.ttl.min(Duration::from_secs(u64::from(chain_ttl)));
    let result = fetched.result.map(|answer| match answer {
        Answer::Records(r) => {
            aliases.extend(r.aliases);
            Answer::Records(Records {
                items: r.items,
                ttl: r.ttl.min(chain_ttl),
                aliases,
            })
        }
        other => other,
    });
    Fetched { result, ttl }
}

fn failed(error: LookupError) -> Fetched {
    Fetched {
        result: Err(error),
        ttl: Duration::ZERO,
    }
}

/// resolv.conf's nameservers, as hickory-resolver reads them (its `options`, `search` and `ndots`
/// do not apply: every name we ask is absolute).
fn system_nameservers() -> Result<Vec<SocketAddr>, DnsSetupError> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| DnsSetupError(format!("reading /etc/resolv.conf: {e}")))?;
    let servers: Vec<SocketAddr> = config
        .name_servers()
        .iter()
        .map(|ns| {
            let port = ns
                .connections
                .iter()
                .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
                .map_or(53, |c| c.port);
            SocketAddr::new(ns.ip, port)
        })
        .collect();
    if servers.is_empty() {
        return Err(DnsSetupError("no nameserver in /etc/resolv.conf".into()));
    }
    Ok(servers)
}

/// A name as raw labels. RFC 7208 §7 macros can put any visible character in a label
/// (`exists:%{l}.user.example.com` with the local part `a+b`, `a:foo:bar/baz.example.com`), and DNS
/// carries any octet (RFC 2181 §11); `Name::from_ascii` would reject those labels or read `\` escapes.
/// `None` for an empty name, an empty label, a label over 63 bytes or a name over 255 bytes.
pub(crate) fn wire_name(name: &str) -> Option<Name> {
    if name.is_empty() {
        return None;
    }
    Name::from_labels(name.split('.').map(str::as_bytes)).ok()
}

/// The inverse of [`wire_name`]: labels joined by dots, unescaped, lower-case.
pub(crate) fn name_text(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect();
    super::normalize(&labels.join("."))
}
