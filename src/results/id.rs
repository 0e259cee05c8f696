//! Typed identities of results: which check ([`CheckId`]) on what ([`Target`]). The store keeps them as
//! text (`spf`, `example.com`, `@blocklists`); everything else holds these types, so a misspelt check
//! name or a special row mistaken for a domain does not compile.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::CheckKind;
use crate::config::DomainName;

macro_rules! check_ids {
    ($( $(#[$meta:meta])* $variant:ident => $name:literal, )+) => {
        /// Every check whose result is stored: the domain checks, the bulk-sender summary, the IP
        /// checks, and the blocklist results (per target, per round, the resolver verdict).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId {
            $( $(#[$meta])* $variant, )+
        }

        impl CheckId {
            /// Every check id, in reporting order.
            pub const ALL: &'static [CheckId] = &[ $( CheckId::$variant, )+ ];

            /// The name in JSON, metrics labels, finding codes and the store.
            pub fn as_str(self) -> &'static str {
                match self { $( CheckId::$variant => $name, )+ }
            }
        }

        impl FromStr for CheckId {
            type Err = UnknownCheck;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(CheckId::$variant), )+
                    other => Err(UnknownCheck(other.to_owned())),
                }
            }
        }
    };
}

check_ids! {
    /// SPF record, lookup tree, sending-IP authorization.
    Spf => "spf",
    /// DKIM keys of the configured selectors.
    Dkim => "dkim",
    /// DMARC policy, tree walk, report destinations.
    Dmarc => "dmarc",
    /// MX records and their targets.
    Mx => "mx",
    /// MTA-STS record and HTTPS policy.
    MtaSts => "mta_sts",
    /// TLS-RPT record.
    TlsRpt => "tls_rpt",
    /// BIMI record.
    Bimi => "bimi",
    /// The bulk-sender summary over the domain's other checks.
    BulkSender => "bulk_sender",
    /// PTR and forward-confirmed reverse DNS of one sending IP.
    Ptr => "ptr",
    /// One target's answers on every blocklist zone.
    Blocklists => "blocklists",
    /// The zone-level findings of the latest blocklist round (under [`Target::Blocklists`]).
    BlocklistRound => "round",
    /// The public-resolver verdict (under [`Target::Blocklists`]).
    BlocklistResolver => "resolver",
}

impl CheckId {
    /// Whether a configured domain has `senderscope_check_status` series for this check: the domain
    /// checks, the bulk-sender summary and the `ptr` roll-up of its single sending IPs.
    pub fn is_posture(self) -> bool {
        !matches!(
            self,
            CheckId::Blocklists | CheckId::BlocklistRound | CheckId::BlocklistResolver
        )
    }

    /// How the check's record is called in prose (`SPF`, `MTA-STS`).
    pub fn display_name(self) -> &'static str {
        match self {
            CheckId::Spf => "SPF",
            CheckId::Dkim => "DKIM",
            CheckId::Dmarc => "DMARC",
            CheckId::Mx => "MX",
            CheckId::MtaSts => "MTA-STS",
            CheckId::TlsRpt => "TLS-RPT",
            CheckId::Bimi => "BIMI",
            CheckId::Ptr => "PTR",
            other => other.as_str(),
        }
    }
}

impl From<CheckKind> for CheckId {
    fn from(kind: CheckKind) -> Self {
        match kind {
            CheckKind::Spf => CheckId::Spf,
            CheckKind::Dkim => CheckId::Dkim,
            CheckKind::Dmarc => CheckId::Dmarc,
            CheckKind::Mx => CheckId::Mx,
            CheckKind::MtaSts => CheckId::MtaSts,
            CheckKind::TlsRpt => CheckId::TlsRpt,
            CheckKind::Bimi => CheckId::Bimi,
        }
    }
}

/// A check name this binary does not know (a row written by another version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check name {0:?}")]
pub struct UnknownCheck(pub String);

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<str> for CheckId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CheckId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a stored result is about: a configured domain, an IP (a sending IP or an address of a
/// configured range), or the blocklist zones and resolver as a whole (`@blocklists`: `@` starts
/// neither a domain name nor an IP address, so it never meets a configured target).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A domain.
    Domain(DomainName),
    /// An IP address.
    Ip(IpAddr),
    /// The blocklist zones and the resolver (the round's and the resolver verdict's results).
    Blocklists,
}

/// The store's text for [`Target::Blocklists`].
pub const BLOCKLISTS_TARGET: &str = "@blocklists";

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Domain(d) => f.pad(d.as_str()),
            Target::Ip(ip) => f.pad(&ip.to_string()),
            Target::Blocklists => f.pad(BLOCKLISTS_TARGET),
        }
    }
}

/// Text that is neither a domain name, an IP address nor `@blocklists`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a result target: {0:?}")]
pub struct BadTarget(pub String);

impl FromStr for Target {
    type Err = BadTarget;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == BLOCKLISTS_TARGET {
            return Ok(Target::Blocklists);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
        }
        DomainName::parse(s)
            .map(Target::Domain)
            .map_err(|_| BadTarget(s.to_owned()))
    }
}

impl PartialEq<str> for Target {
    fn eq(&self, other: &str) -> bool {
        match self {
            Target::Domain(d) => d.as_str() == other,
            Target::Ip(ip) => other.parse::<IpAddr>().is_ok_and(|o| o == *ip),
            Target::Blocklists => other == BLOCKLISTS_TARGET,
        }
    }
}

impl PartialEq<&str> for Target {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<IpAddr> for Target {
    fn from(ip: IpAddr) -> Self {
        Target::Ip(ip)
    }
}

impl From<DomainName> for Target {
    fn from(d: DomainName) -> Self {
        Target::Domain(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_read_back_from_their_names() {
        for id in CheckId::ALL {
            assert_eq!(id.as_str().parse::<CheckId>(), Ok(*id));
            assert_eq!(
                serde_json::to_string(id).ok(),
                Some(format!("\"{}\"", id.as_str()))
            );
        }
        for kind in CheckKind::ALL {
            assert_eq!(CheckId::from(kind).as_str(), kind.as_str());
        }
        assert!("spf2".parse::<CheckId>().is_err());
    }

    #[test]
    fn targets_read_back_from_their_text() {
        for text in ["example.com", "192.0.2.1", "2001:db8::1", "@blocklists"] {
            let t: Target = text.parse().expect(text);
            assert_eq!(t.to_string(), text);
            assert!(t == text);
        }
        assert_eq!("@blocklists".parse::<Target>(), Ok(Target::Blocklists));
        assert!("@other".parse::<Target>().is_err());
    }
}
