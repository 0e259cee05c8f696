//! Whether a `mailto:` report destination can receive mail at all: its MX records, else its address
//! records as the implicit MX (RFC 5321 §5.1), and a null MX saying it accepts none (RFC 7505 §3).
//! Reports a receiver sends to a domain that cannot receive mail are lost.

use futures::future::join;

use super::record::DmarcRecord;
use crate::dns::{Answer, Lookups};

/// Why a destination domain cannot receive the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// NXDOMAIN: the domain does not exist.
    NoDomain,
    /// Only a null MX (`0 .`): the domain says it accepts no mail.
    NullMx,
    /// No MX and no A or AAAA record to deliver to.
    NoMailHost,
}

impl Unreachable {
    /// Why, as a sentence fragment after the domain's name.
    pub(crate) fn why(&self) -> &'static str {
        match self {
            Unreachable::NoDomain => "does not exist (NXDOMAIN)",
            Unreachable::NullMx => "publishes a null MX (RFC 7505): it accepts no mail",
            Unreachable::NoMailHost => {
                "has no MX and no A or AAAA record to deliver to (RFC 5321 §5.1)"
            }
        }
    }
}

/// A `mailto:` destination domain that cannot receive mail, with the URIs pointing there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undeliverable {
    /// The domain of the addresses.
    pub host: String,
    /// The `rua`/`ruf` URIs pointing there.
    pub uris: Vec<String>,
    /// Why mail cannot go there.
    pub why: Unreachable,
}

/// Every distinct `mailto:` destination domain of the record's valid `rua` and `ruf` that cannot
/// receive mail. A failed lookup says nothing either way and is not reported here: the destination
/// may be fine, and other findings already cover a broken resolver.
pub(crate) async fn undeliverable(dns: &Lookups, record: &DmarcRecord) -> Vec<Undeliverable> {
    let mut hosts: Vec<(String, Vec<String>)> = Vec::new();
    let mailto = record.rua.iter().chain(&record.ruf).filter(|u| {
        u.uri
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"))
    });
    for uri in mailto {
        match hosts.iter_mut().find(|(h, _)| *h == uri.host) {
            Some((_, uris)) => uris.push(uri.uri.clone()),
            None => hosts.push((uri.host.clone(), vec![uri.uri.clone()])),
        }
    }
    let mut out = Vec::new();
    for (host, uris) in hosts {
        if let Some(why) = unreachable(dns, &host).await {
            out.push(Undeliverable { host, uris, why });
        }
    }
    out
}

async fn unreachable(dns: &Lookups, host: &str) -> Option<Unreachable> {
    match dns.mx(host).await.ok()? {
        Answer::NxDomain => Some(Unreachable::NoDomain),
        Answer::Records(mx) => mx
            .items
            .iter()
            .all(|m| m.exchange.is_empty())
            .then_some(Unreachable::NullMx),
        Answer::NoData => {
            let (a, aaaa) = join(dns.a(host), dns.aaaa(host)).await;
            match (a.ok()?, aaaa.ok()?) {
                (Answer::Records(_), _) | (_, Answer::Records(_)) => None,
                _ => Some(Unreachable::NoMailHost),
            }
        }
    }
}
