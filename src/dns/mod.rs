//! The one DNS layer: our nameservers (or resolv.conf's), timeouts, attempts, bounded concurrency, a
//! TTL-honouring cache per check round, lookup counting and an error taxonomy that keeps NXDOMAIN,
//! NODATA, SERVFAIL, REFUSED and timeouts apart.
//!
//! Messages are hickory-proto's; the transport is ours: a few long-lived UDP sockets shared by all
//! queries, TCP when an answer is truncated (the README's "Dependency notes" say why not
//! hickory-resolver's).
//! No hickory type leaves this module (hickory 0.27 is expected to break its API).
//!
//! - [`Resolver`]: built once from [`DnsSettings`]; owns the sockets, the concurrency limit and query
//!   statistics.
//! - [`Lookups`]: a handle for one check round; clones share the round's cache, [`Lookups::counted`]
//!   gives a handle with its own lookup counter.
//! - `resolve`: attempts, servers in turn, CNAME chasing; `udp`: the socket pool and reply matching;
//!   `tcp`: the truncation fallback; `wire`: queries encoded, replies matched and read.

mod answer;
#[allow(unreachable_pub)] // shared within `dns` only; narrowed with the DNS transport work
mod cache;
#[allow(unreachable_pub)] // shared within `dns` only; narrowed with the DNS transport work
mod resolve;
mod tcp;
#[doc(hidden)]
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod udp;
mod wire;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) use answer::Rdata;
pub use answer::{Answer, Lookup, LookupError, Mx, Records, Txt};
use cache::{Cache, RecordKind};
pub use resolve::DnsSetupError;
use resolve::Upstream;

/// How to reach DNS: the validated `dns:` config section.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsSettings {
    /// Nameservers to ask; empty = the system's resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// How many times to ask before giving up.
    pub attempts: usize,
    /// At most this many queries in flight at once, across all checks.
    pub concurrency: NonZeroUsize,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            concurrency: NonZeroUsize::new(64).expect("64 is not zero"),
        }
    }
}

/// The shared resolver. Cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    upstream: Arc<Upstream>,
}

impl Resolver {
    /// Build a resolver from settings.
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsSetupError> {
        Ok(Resolver {
            upstream: Arc::new(Upstream::new(settings, None)?),
        })
    }

    /// Build a resolver that records each query's duration in `histogram`
    /// (`senderscope_dns_query_duration_seconds`).
    pub fn with_histogram(
        settings: &DnsSettings,
        histogram: prometheus::Histogram,
    ) -> Result<Self, DnsSetupError> {
        Ok(Resolver {
            upstream: Arc::new(Upstream::new(settings, Some(histogram))?),
        })
    }

    /// Start a check round: a fresh cache shared by every clone of the returned handle.
    pub fn round(&self) -> Lookups {
        Lookups {
            upstream: self.upstream.clone(),
            cache: Arc::new(Cache::default()),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queries sent to the network so far (cache hits excluded).
    pub fn queries_sent(&self) -> u64 {
        self.upstream.stats.sent.load(Ordering::Relaxed)
    }

    /// The most queries that were ever in flight at once (never above `concurrency`).
    pub fn max_in_flight(&self) -> usize {
        self.upstream.stats.max_in_flight.load(Ordering::Relaxed)
    }

    /// UDP replies dropped because they answered no pending query: an unknown id, another sender, or
    /// another question (RFC 5452 §4.3). Spoofing attempts and late duplicates land here.
    pub fn rejected_replies(&self) -> u64 {
        self.upstream.rejected_replies()
    }

    /// UDP sockets opened so far: a few per address family, plus one each time a socket is retired.
    pub fn sockets_opened(&self) -> u64 {
        self.upstream.sockets_opened()
    }
}

/// A handle for one check round: lookups through the round's cache, counted per handle.
#[derive(Clone)]
pub struct Lookups {
    upstream: Arc<Upstream>,
    cache: Arc<Cache>,
    counter: Arc<AtomicU64>,
}

impl Lookups {
    /// A handle sharing this round's cache with a counter of its own (one per check).
    pub fn counted(&self) -> Lookups {
        Lookups {
            upstream: self.upstream.clone(),
            cache: self.cache.clone(),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// At most this many queries are in flight at once (`dns.concurrency`): callers with thousands
    /// of lookups to make keep about this many futures alive instead of all of them waiting for a
    /// permit, each waking on every release.
    pub fn concurrency(&self) -> usize {
        self.upstream.concurrency()
    }

    /// Lookups asked through this handle (and its clones), cache hits included.
    pub fn count(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }

    /// TXT records at `name`.
    pub async fn txt(&self, name: &str) -> Lookup<Txt> {
        self.typed(name, RecordKind::Txt, |r| match r {
            Rdata::Txt(t) => Some(t),
            _ => None,
        })
        .await
    }

    /// A records at `name`.
    pub async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.typed(name, RecordKind::A, |r| match r {
            Rdata::A(ip) => Some(ip),
            _ => None,
        })
        .await
    }

    /// AAAA records at `name`.
    pub async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.typed(name, RecordKind::Aaaa, |r| match r {
            Rdata::Aaaa(ip) => Some(ip),
            _ => None,
        })
        .await
    }

    /// MX records at `name`, sorted by preference.
    pub async fn mx(&self, name: &str) -> Lookup<Mx> {
        let mut answer = self
            .typed(name, RecordKind::Mx, |r| match r {
                Rdata::Mx(mx) => Some(mx),
                _ => None,
            })
            .await?;
        if let Answer::Records(r) = &mut answer {
            r.items
                .sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
        }
        Ok(answer)
    }

    /// PTR names for `ip` (queried at its in-addr.arpa / ip6.arpa name), lower-case, no trailing dot.
    pub async fn ptr(&self, ip: IpAddr) -> Lookup<String> {
        self.typed(&reverse_name(ip), RecordKind::Ptr, |r| match r {
            Rdata::Name(n) => Some(n),
            _ => None,
        })
        .await
    }

    /// The CNAME target at `name`, if `name` is an alias.
    pub async fn cname(&self, name: &str) -> Lookup<String> {
        self.typed(name, RecordKind::Cname, |r| match r {
            Rdata::Name(n) => Some(n),
            _ => None,
        })
        .await
    }

    async fn typed<T>(
        &self,
        name: &str,
        kind: RecordKind,
        pick: impl FnMut(Rdata) -> Option<T>,
    ) -> Lookup<T> {
        self.counter.fetch_add(1, Ordering::Relaxed);
        let key = normalize(name);
        let answer = self
            .cache
            .get_or_fetch(&key, kind, || self.upstream.query(&key, kind))
            .await?;
        Ok(filter(answer, pick))
    }
}

/// Keep the records of the wanted type; an answer holding none of them is NODATA.
fn filter<T>(answer: Answer<Rdata>, mut pick: impl FnMut(Rdata) -> Option<T>) -> Answer<T> {
    match answer {
        Answer::Records(r) => {
            let items: Vec<T> = r.items.into_iter().filter_map(&mut pick).collect();
            if items.is_empty() {
                Answer::NoData
            } else {
                Answer::Records(Records {
                    items,
                    ttl: r.ttl,
                    aliases: r.aliases,
                })
            }
        }
        Answer::NxDomain => Answer::NxDomain,
        Answer::NoData => Answer::NoData,
    }
}

/// Lower-case, without a trailing dot: the cache key and the form used in messages.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The reverse-lookup name of an IP: `4.3.2.1.in-addr.arpa` or 32 nibbles under `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => format!("{}.ip6.arpa", ipv6_nibbles(v6)),
    }
}

/// The 32 reversed nibbles of an IPv6 address, dot-separated (RFC 3596 §2.5; RFC 5782 §2.4).
pub fn ipv6_nibbles(ip: Ipv6Addr) -> String {
    let mut out = String::with_capacity(63);
    for byte in ip.octets().iter().rev() {
        for nibble in [byte & 0x0f, byte >> 4] {
            if !out.is_empty() {
                out.push('.');
            }
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_follow_rfc_3596() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn normalize_drops_root_dot_and_case() {
        assert_eq!(normalize("Example.COM."), "example.com");
    }
}
