//! The upstream side: hickory-resolver configured from our settings, behind a concurrency limit, with
//! hickory's answers and errors translated into ours.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::sync::Semaphore;

use super::answer::{MAX_CNAME_CHAIN, Served, follow_chain};
use super::cache::{Fetched, RecordKind};
use super::{Answer, DnsSettings, LookupError, Mx, Rdata, Records, Txt};

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
    hickory: TokioResolver,
    permits: Semaphore,
    histogram: Option<prometheus::Histogram>,
    pub stats: Stats,
}

impl Upstream {
    pub fn new(
        settings: &DnsSettings,
        histogram: Option<prometheus::Histogram>,
    ) -> Result<Self, DnsSetupError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        // A checker must see live DNS: hickory's own cache is off, ours lives for one round and honours TTLs.
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.preserve_intermediates = true;
        opts.num_concurrent_reqs = 1;
        opts.ndots = 0;
        let builder = if settings.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DnsSetupError(e.to_string()))?
        } else {
            let servers = settings.nameservers.iter().map(name_server).collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let hickory = builder
            .with_options(opts)
            .build()
            .map_err(|e| DnsSetupError(e.to_string()))?;
        Ok(Upstream {
            hickory,
            permits: Semaphore::new(settings.concurrency.get()),
            histogram,
            stats: Stats::default(),
        })
    }

    /// One query to the network, within the concurrency limit.
    pub async fn query(&self, name: &str, kind: RecordKind) -> Fetched {
        let fqdn = match wire_name(name) {
            Some(n) => n,
            None => {
                return Fetched {
                    result: Err(LookupError::InvalidName(name.to_owned())),
                    ttl: Duration::ZERO,
                };
            }
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return Fetched {
                result: Err(LookupError::Other("resolver shut down".into())),
                ttl: Duration::ZERO,
            };
        };
        let now = self.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = self.hickory.lookup(fqdn, record_type(kind)).await;
        if let Some(h) = &self.histogram {
            h.observe(started.elapsed().as_secs_f64());
        }
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            Ok(lookup) => {
                let mut served = Vec::new();
                let mut ttl = u32::MAX;
                for record in lookup.answers() {
                    ttl = ttl.min(record.ttl);
                    let owner = name_text(&record.name);
                    served.extend(match (&record.data, kind) {
                        (RData::CNAME(target), RecordKind::Cname) => Some(Served::Data {
                            owner,
                            data: Rdata::Name(name_text(&target.0)),
                        }),
                        (RData::CNAME(target), _) => Some(Served::Alias {
                            owner,
                            target: name_text(&target.0),
                        }),
                        (data, _) => convert(data).map(|data| Served::Data { owner, data }),
                    });
                }
                let (items, aliases) = match follow_chain(&key_of(name), served) {
                    Ok(read) => read,
                    Err(e) => {
                        return Fetched {
                            result: Err(e),
                            ttl: Duration::ZERO,
                        };
                    }
                };
                let ttl = Duration::from_secs(u64::from(if ttl == u32::MAX { 0 } else { ttl }));
                let result = if items.is_empty() {
                    Ok(Answer::NoData)
                } else {
                    Ok(Answer::Records(Records {
                        items,
                        ttl: ttl.as_secs() as u32,
                        aliases,
                    }))
                };
                Fetched { result, ttl }
            }
            Err(e) => {
                // hickory follows CNAMEs itself and reports a loop, or a chain it gave up on, as "no
                // records" with the chain dropped. An authoritative NODATA carries the zone's SOA
                // (RFC 2308 §2.2); without one, ask for the CNAMEs and judge the chain ourselves.
                let unexplained = matches!(&e, NetError::Dns(DnsError::NoRecordsFound(no))
                    if no.response_code == ResponseCode::NoError && no.soa.is_none());
                let fetched = classify(e);
                if unexplained
                    && kind != RecordKind::Cname
                    && let Err(broken) = self.cname_chain(name).await
                {
                    return Fetched {
                        result: Err(broken),
                        ttl: Duration::ZERO,
                    };
                }
                fetched
            }
        }
    }

    /// Follow the CNAMEs from `name` one CNAME query at a time (at most one past the bound) and judge
    /// the chain: a loop or an overlong chain is a failure.
    async fn cname_chain(&self, name: &str) -> Result<(), LookupError> {
        let mut served = Vec::new();
        let mut current = key_of(name);
        for _ in 0..=MAX_CNAME_CHAIN {
            let Some(fqdn) = wire_name(&current) else {
                break;
            };
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            let Ok(lookup) = self.hickory.lookup(fqdn, RecordType::CNAME).await else {
                break;
            };
            let target = lookup.answers().iter().find_map(|r| match &r.data {
                RData::CNAME(t) if name_text(&r.name) == current => Some(name_text(&t.0)),
                _ => None,
            });
            let Some(target) = target else { break };
            let looped = target == key_of(name)
                || served
                    .iter()
                    .any(|s| matches!(s, Served::Alias { owner, .. } if *owner == target));
            served.push(Served::Alias {
                owner: current,
                target: target.clone(),
            });
            if looped {
                break;
            }
            current = target;
        }
        follow_chain(&key_of(name), served).map(|_| ())
    }
}

fn name_server(addr: &SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

fn record_type(kind: RecordKind) -> RecordType {
    match kind {
        RecordKind::Txt => RecordType::TXT,
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
        RecordKind::Mx => RecordType::MX,
        RecordKind::Ptr => RecordType::PTR,
        RecordKind::Cname => RecordType::CNAME,
    }
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

/// `name` as the chain is compared: normalized like [`name_text`].
fn key_of(name: &str) -> String {
    super::normalize(name)
}

/// The inverse of [`wire_name`]: labels joined by dots, unescaped, lower-case.
pub(crate) fn name_text(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect();
    super::normalize(&labels.join("."))
}

fn convert(data: &RData) -> Option<Rdata> {
    Some(match data {
        RData::TXT(txt) => Rdata::Txt(Txt {
            strings: txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        }),
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(aaaa) => Rdata::Aaaa(aaaa.0),
        RData::MX(mx) => Rdata::Mx(Mx {
            preference: mx.preference,
            exchange: name_text(&mx.exchange),
        }),
        RData::PTR(ptr) => Rdata::Name(name_text(&ptr.0)),
        _ => return None,
    })
}

/// Translate hickory's error into NXDOMAIN / NODATA answers or one of our failure kinds.
fn classify(error: NetError) -> Fetched {
    let failed = |e: LookupError| Fetched {
        result: Err(e),
        ttl: Duration::ZERO,
    };
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            let answer = if no.response_code == ResponseCode::NXDomain {
                Answer::NxDomain
            } else {
                Answer::NoData
            };
            Fetched {
                result: Ok(answer),
                ttl: Duration::from_secs(u64::from(no.negative_ttl.unwrap_or(0))),
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            failed(LookupError::ServFail)
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
            failed(LookupError::Refused)
        }
        NetError::Timeout => failed(LookupError::Timeout),
        NetError::NoConnections => failed(LookupError::Unreachable("no connections".into())),
        NetError::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut => failed(LookupError::Timeout),
            _ => failed(LookupError::Unreachable(io.to_string())),
        },
        other => failed(LookupError::Other(other.to_string())),
    }
}
