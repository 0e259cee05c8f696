//! What a DNS lookup can tell us, with NXDOMAIN, NODATA and failures kept apart.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A successful DNS answer: records, or one of the two kinds of "nothing there".
///
/// RFC 7208 §4.6.4 calls both `NxDomain` and `NoData` a "void lookup"; a checker must still tell them
/// apart in messages ("the name does not exist" vs "it exists but has no TXT").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// At least one record of the asked type.
    Records(Records<T>),
    /// The name does not exist (rcode NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of this type (NOERROR with an empty answer).
    NoData,
}

/// Records of one type at one name, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records<T> {
    /// The records (never empty).
    pub items: Vec<T>,
    /// The smallest TTL among them (and any CNAME followed), in seconds.
    pub ttl: u32,
    /// Names of the CNAME chain followed to reach the records, in order (empty when none).
    pub aliases: Vec<String>,
}

impl<T> Answer<T> {
    /// The records, or an empty slice for NXDOMAIN / NODATA.
    pub fn records(&self) -> &[T] {
        match self {
            Answer::Records(r) => &r.items,
            Answer::NxDomain | Answer::NoData => &[],
        }
    }

    /// RFC 7208 §4.6.4: a lookup that returned NXDOMAIN or no answer.
    pub fn is_void(&self) -> bool {
        !matches!(self, Answer::Records(_))
    }

    /// Transform the records, keeping NXDOMAIN / NODATA as they are.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Answer<U> {
        match self {
            Answer::Records(r) => Answer::Records(Records {
                items: r.items.into_iter().map(f).collect(),
                ttl: r.ttl,
                aliases: r.aliases,
            }),
            Answer::NxDomain => Answer::NxDomain,
            Answer::NoData => Answer::NoData,
        }
    }
}

/// Why a lookup gave no usable answer. Neither of these means "the record is missing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The server answered SERVFAIL (e.g. broken delegation, DNSSEC failure upstream).
    #[error("SERVFAIL from the resolver")]
    ServFail,
    /// The server answered REFUSED.
    #[error("the resolver REFUSED the query")]
    Refused,
    /// No answer within the configured timeout and attempts.
    #[error("no answer from the resolver (timed out)")]
    Timeout,
    /// The resolver could not be reached at all (connection refused, no route).
    #[error("the resolver is unreachable: {0}")]
    Unreachable(String),
    /// The name cannot be queried (empty label, label over 63 bytes, name over 253 bytes).
    #[error("not a valid DNS name: {0}")]
    InvalidName(String),
    /// Any other failure (malformed answer, unexpected rcode).
    #[error("DNS failure: {0}")]
    Other(String),
}

impl LookupError {
    /// A short label for metrics and JSON (`servfail`, `refused`, `timeout`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            LookupError::ServFail => "servfail",
            LookupError::Refused => "refused",
            LookupError::Timeout => "timeout",
            LookupError::Unreachable(_) => "unreachable",
            LookupError::InvalidName(_) => "invalid_name",
            LookupError::Other(_) => "other",
        }
    }
}

/// The result of one typed lookup.
pub type Lookup<T> = Result<Answer<T>, LookupError>;

/// One TXT record: its character-strings kept apart, as bytes (RFC 1035 §3.3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txt {
    /// Each character-string (at most 255 bytes each on the wire).
    pub strings: Vec<Vec<u8>>,
}

impl Txt {
    /// The strings joined with no separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2), lossily decoded as UTF-8.
    pub fn joined(&self) -> String {
        String::from_utf8_lossy(&self.joined_bytes()).into_owned()
    }

    /// The strings joined with no separator, as bytes.
    pub fn joined_bytes(&self) -> Vec<u8> {
        self.strings.concat()
    }

    /// Whether the joined value is valid UTF-8.
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.joined_bytes()).is_ok()
    }
}

impl fmt::Display for Txt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Lower is preferred.
    pub preference: u16,
    /// The exchange host, lower-case, without the trailing dot (`""` for the null MX `.`).
    pub exchange: String,
}

/// Record data as cached: our own type so no hickory type leaves the dns module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rdata {
    Txt(Txt),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(Mx),
    /// PTR or CNAME target: a name.
    Name(String),
}

/// CNAMEs followed at most for one question. RFC 1034 §3.6.2 has chains followed but sets no bound;
/// resolvers stop around 8–16, and a longer chain is a broken or hostile zone.
pub(crate) const MAX_CNAME_CHAIN: usize = 8;
