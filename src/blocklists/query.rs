//! One query of one target on one zone, through the round's [`Lookups`] (so it is cached, joined with
//! identical lookups, and bounded by `dns.concurrency`), with the list's TXT reason for a listing.

use std::net::IpAddr;

use super::decode::decode;
use super::{Failure, Listing, Target, Zone};
use crate::dns::{self, Answer, LookupError, Lookups};

/// A reason longer than this is cut: it is text from the network, shown in messages and JSON.
const MAX_REASON_CHARS: usize = 300;

/// The label(s) put before the zone for `target`.
///
/// RFC 5782 §2.1: an IPv4 address as its four octets reversed (`10.2.0.192`); §2.4: an IPv6 address as
/// its 32 nibbles reversed, as in ip6.arpa; §3 (domain-name lists): the domain itself. Both address
/// forms are the reverse-lookup name without its `in-addr.arpa` / `ip6.arpa` suffix (one reversal, in
/// `dns`).
pub(super) fn prefix(target: &Target) -> String {
    match target {
        Target::Ip(ip) => {
            let name = dns::reverse_name(*ip);
            let prefix = match ip {
                IpAddr::V4(_) => name.strip_suffix(".in-addr.arpa"),
                IpAddr::V6(_) => name.strip_suffix(".ip6.arpa"),
            };
            prefix.map(str::to_owned).unwrap_or(name)
        }
        Target::Domain(d) => d.as_str().to_owned(),
    }
}

/// Query `target` on `zone` and, when listed, fetch the TXT reason. A target of a family the zone does
/// not list is [`Listing::NotListed`] without a query.
pub async fn query(dns: &Lookups, zone: &Zone, target: &Target) -> Listing {
    if !zone.lists(target.family()) {
        return Listing::NotListed;
    }
    query_prefix(dns, zone, &prefix(target), true).await
}

/// Query the name `prefix.zone` (test points use this directly).
pub(super) async fn query_prefix(
    dns: &Lookups,
    zone: &Zone,
    prefix: &str,
    with_reason: bool,
) -> Listing {
    let name = zone.query_name(prefix);
    let mut listing = match dns.a(&name).await {
        Ok(Answer::Records(records)) => decode(zone, &records.items),
        // RFC 5782 §2.1: an address that is not listed has no records (NXDOMAIN); a name without an
        // A record lists nothing either.
        Ok(Answer::NxDomain | Answer::NoData) => Listing::NotListed,
        Err(e) => Listing::LookupFailed(dns_failure(zone, &e)),
    };
    if with_reason && let Listing::Listed(listed) = &mut listing {
        listed.reason = reason(dns, zone, &name).await;
    }
    listing
}

/// The DNS failure in words, with a DQS key redacted (an invalid-name error quotes the name).
fn dns_failure(zone: &Zone, error: &LookupError) -> Failure {
    Failure::Dns {
        kind: error.kind(),
        detail: zone.redact(&error.to_string()),
    }
}

/// The TXT record at the listing's name: every record, strings joined, control characters replaced,
/// bounded. A failed TXT lookup leaves the listing without a reason (the A answer already decided).
async fn reason(dns: &Lookups, zone: &Zone, name: &str) -> Option<String> {
    let answer = dns.txt(name).await.ok()?;
    let text = answer
        .records()
        .iter()
        .map(|t| t.joined())
        .collect::<Vec<_>>()
        .join("; ");
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = zone.redact(clean.trim());
    if clean.is_empty() {
        return None;
    }
    Some(if clean.chars().count() > MAX_REASON_CHARS {
        let cut: String = clean.chars().take(MAX_REASON_CHARS).collect();
        format!("{cut}…")
    } else {
        clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{generic_zone, zones};
    use crate::config::{DomainName, Secret};
    use crate::dns::Resolver;
    use crate::dns::testing::{FakeDns, FakeRecord};

    #[test]
    fn query_names_follow_rfc_5782() {
        assert_eq!(
            prefix(&Target::Ip("192.0.2.10".parse().unwrap())),
            "10.2.0.192"
        );
        assert_eq!(
            prefix(&Target::Ip("2001:db8::1".parse().unwrap())),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(
            prefix(&Target::Domain(DomainName::parse("Example.COM").unwrap())),
            "example.com"
        );
    }

    #[tokio::test]
    async fn listing_fetches_reason_and_failures_are_not_clean() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "10.2.0.192.bl.example.org A 127.0.0.2\n\
             10.2.0.192.bl.example.org TXT \"spam from \" \"192.0.2.10\"\n\
             11.2.0.192.bl.example.org TIMEOUT\n\
             12.2.0.192.bl.example.org SERVFAIL\n\
             13.2.0.192.bl.example.org REFUSED\n\
             14.2.0.192.bl.example.org A 127.0.0.2\n\
             14.2.0.192.bl.example.org A 127.0.0.3",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zone = generic_zone("bl.example.org");
        let at = |last: u8| Target::Ip(std::net::Ipv4Addr::new(192, 0, 2, last).into());
        let Listing::Listed(l) = query(&dns, &zone, &at(10)).await else {
            panic!()
        };
        assert_eq!(l.reason.as_deref(), Some("spam from 192.0.2.10"));
        for (last, kind) in [(11, "timeout"), (12, "servfail"), (13, "refused")] {
            match query(&dns, &zone, &at(last)).await {
                Listing::LookupFailed(f) => assert_eq!(f.kind(), kind),
                other => panic!("{last}: {other:?}"),
            }
        }
        let Listing::Listed(l) = query(&dns, &zone, &at(14)).await else {
            panic!()
        };
        assert_eq!(l.codes.len(), 2);
        assert_eq!(l.reason, None);
        assert_eq!(query(&dns, &zone, &at(15)).await, Listing::NotListed);
        // An IPv4-only zone is not asked about IPv6 addresses at all.
        let spamcop = Zone::from_catalogue(zones::entry("bl.spamcop.net").unwrap(), None);
        let v6 = Target::Ip("2001:db8::1".parse().unwrap());
        assert_eq!(query(&dns, &spamcop, &v6).await, Listing::NotListed);
        assert_eq!(dns.count(), 8, "no query for the IPv6 target");
    }

    #[tokio::test]
    async fn dqs_key_is_redacted_from_what_comes_back() {
        let fake = FakeDns::start().await.unwrap();
        let name = "10.2.0.192.k3y.zen.dq.spamhaus.net";
        fake.add(name, FakeRecord::A("127.0.0.2".parse().unwrap()));
        fake.add(
            name,
            FakeRecord::txt("listed, see https://check.spamhaus.org/?k3y"),
        );
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let key = Secret::new("k3y");
        let zen = Zone::from_catalogue(zones::entry("zen.spamhaus.org").unwrap(), Some(&key));
        let Listing::Listed(l) =
            query(&dns, &zen, &Target::Ip("192.0.2.10".parse().unwrap())).await
        else {
            panic!()
        };
        assert_eq!(
            l.reason.as_deref(),
            Some("listed, see https://check.spamhaus.org/?[dqs-key]")
        );
    }
}
