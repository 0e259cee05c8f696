//! External report destinations (RFC 9990 "Verifying External Destinations", formerly RFC 7489 §7.1):
//! a receiver sends reports to a destination in another organizational domain only if that destination
//! publishes `<policy domain>._report._dmarc.<destination host>` (or a wildcard covering it) starting
//! with `v=DMARC1`.

use super::record::{Classified, DmarcRecord, classify};
use crate::dns::{Answer, LookupError, Lookups};

/// One destination host and what its authorization lookup said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Destination {
    /// The destination host (from the URI).
    pub host: String,
    /// The URIs pointing there, with their tag (`rua`/`ruf`).
    pub uris: Vec<(&'static str, String)>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Whether reports may go to a destination.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Same organizational domain as the policy domain: no authorization needed.
    SameOrganization,
    /// The destination published an authorization record.
    Authorized {
        /// The name queried.
        name: String,
    },
    /// No valid authorization: receivers ignore these URIs.
    NotAuthorized {
        /// The name queried.
        name: String,
        /// Why, as a sentence fragment.
        why: String,
    },
    /// The lookup failed: authorization could not be checked.
    Failed {
        /// The name queried.
        name: String,
        /// The error.
        error: LookupError,
    },
}

/// The organizational domain by the Public Suffix List (the RFC 7489 §3.2 notion the RFC 9990 check is
/// usually implemented with); a name the list does not cover stands for itself.
pub(crate) fn organizational_domain(name: &str) -> String {
    psl::domain_str(name).unwrap_or(name).to_ascii_lowercase()
}

/// Check every distinct destination host of the record's valid rua and ruf URIs.
pub(crate) async fn check_destinations(
    dns: &Lookups,
    policy_domain: &str,
    record: &DmarcRecord,
) -> Vec<Destination> {
    let mut destinations: Vec<Destination> = Vec::new();
    let tagged = record
        .rua
        .iter()
        .map(|u| ("rua", u))
        .chain(record.ruf.iter().map(|u| ("ruf", u)));
    for (tag, uri) in tagged {
        match destinations.iter_mut().find(|d| d.host == uri.host) {
            Some(d) => d.uris.push((tag, uri.uri.clone())),
            None => destinations.push(Destination {
                host: uri.host.clone(),
                uris: vec![(tag, uri.uri.clone())],
                verdict: Verdict::SameOrganization,
            }),
        }
    }
    let own = organizational_domain(policy_domain);
    for destination in &mut destinations {
        if organizational_domain(&destination.host) != own {
            destination.verdict = authorize(dns, policy_domain, &destination.host).await;
        }
    }
    destinations
}

/// Steps 1–9 of the verification for one destination host.
async fn authorize(dns: &Lookups, policy_domain: &str, host: &str) -> Verdict {
    // Steps 2–3: prepend "_report._dmarc", then the domain the policy was retrieved from.
    let name = format!("{policy_domain}._report._dmarc.{host}");
    let answer = match dns.txt(&name).await {
        Ok(answer) => answer,
        // Step 4: "If the length of the constructed name exceed DNS limits, a positive determination of
        // the external reporting relationship cannot be made."
        Err(LookupError::InvalidName(_)) => {
            return Verdict::NotAuthorized {
                name,
                why: "the authorization name is longer than DNS allows".into(),
            };
        }
        Err(error) => return Verdict::Failed { name, error },
    };
    // Step 6: keep records that start with v=DMARC1.
    let valid: Vec<DmarcRecord> = answer
        .records()
        .iter()
        .filter_map(|t| match classify(&t.joined()) {
            Classified::Dmarc(r) => Some(*r),
            _ => None,
        })
        .collect();
    if valid.is_empty() {
        let why = match answer {
            Answer::NxDomain => format!("{name} does not exist"),
            Answer::NoData => format!("{name} has no TXT record"),
            Answer::Records(_) => format!("no TXT record at {name} starts with v=DMARC1"),
        };
        return Verdict::NotAuthorized { name, why };
    }
    // Step 9: an override rua "MUST use the same destination host"; otherwise the receiver "MUST NOT
    // generate a report to either the original or the override URI".
    for record in &valid {
        if let Some(other) = record.rua.iter().find(|u| u.host != host) {
            return Verdict::NotAuthorized {
                why: format!(
                    "the authorization record at {name} redirects reports to {}, another host, which \
                     receivers refuse",
                    other.uri
                ),
                name,
            };
        }
    }
    Verdict::Authorized { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains_come_from_the_public_suffix_list() {
        assert_eq!(organizational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("a.b.example.com"), "example.com");
        assert_eq!(organizational_domain("dmarc.example.net"), "example.net");
    }
}
