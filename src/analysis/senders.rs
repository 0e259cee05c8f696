//! Known senders: a source's reverse-DNS name → its base domain by the Public Suffix List → a
//! sender name from config/senders.yaml (shipped in the binary, extended by `ingest.senders_file`),
//! else `other`. docs/ingest.md, "Source enrichment".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The shipped mapping.
pub const EMBEDDED: &str = include_str!("../../config/senders.yaml");

/// The sender name of a source no entry matches.
pub const OTHER: &str = "other";

/// What kind of sender it is (`type` in the mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderType {
    /// An email service provider (bulk or transactional API).
    Esp,
    /// Hosted mailboxes (Google Workspace, Microsoft 365).
    Mailbox,
    /// A marketing platform.
    Marketing,
    /// A CRM or help desk sending on the domain's behalf.
    Crm,
    /// A transactional-mail service.
    Transactional,
    /// A mailing list, filtering gateway or forwarding service: its failures are usually forwarding.
    Forwarder,
    /// A hosting provider.
    Hosting,
}

/// One entry of the mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownSender {
    /// The name shown (and the `source provider` label value).
    pub name: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: SenderType,
    /// The SPF include the sender documents, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spf_include: Option<String>,
}

/// Base domain → known sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderMap {
    entries: BTreeMap<String, KnownSender>,
}

impl Default for SenderMap {
    fn default() -> Self {
        SenderMap::embedded()
    }
}

impl SenderMap {
    /// The shipped mapping.
    pub fn embedded() -> SenderMap {
        // The shipped file is checked by a unit test; should it ever fail, no sender is known.
        SenderMap::parse(EMBEDDED).unwrap_or(SenderMap {
            entries: BTreeMap::new(),
        })
    }

    /// Parse a mapping (`base.domain: {name, type, spf_include}` per line). The error names the line.
    pub fn parse(text: &str) -> Result<SenderMap, String> {
        let raw: BTreeMap<String, KnownSender> =
            serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let entries = raw
            .into_iter()
            .map(|(k, v)| (k.trim_end_matches('.').to_ascii_lowercase(), v))
            .collect();
        Ok(SenderMap { entries })
    }

    /// This mapping with `other`'s entries added on top (same base domain: `other` wins).
    pub fn extended(mut self, other: SenderMap) -> SenderMap {
        self.entries.extend(other.entries);
        self
    }

    /// Entries in the mapping.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The known sender of a base domain. A name under a mapped name also matches
    /// (`protection.outlook.com` is found for `eur.protection.outlook.com`'s base `outlook.com`
    /// only when mapped itself): the longest mapped suffix of `host` wins.
    pub fn lookup(&self, host: &str) -> Option<&KnownSender> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = host.as_str();
        loop {
            if let Some(s) = self.entries.get(rest) {
                return Some(s);
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

/// The base (registrable) domain of a host name by the Public Suffix List: `mail-sor-f41.google.com`
/// → `google.com`. `None` for a public suffix itself or a name that is not a domain.
pub fn base_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&host).map(str::to_owned)
}

/// Who a source is, from its reverse-DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceIdentity {
    /// The PTR name, if any.
    pub ptr: Option<String>,
    /// Its base domain (Public Suffix List).
    pub base_domain: Option<String>,
    /// The known sender's name, or `other`.
    pub sender: String,
    /// The known sender's type; absent for `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<SenderType>,
    /// The SPF include the known sender documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_include: Option<String>,
}

impl SenderMap {
    /// Identify a source by its PTR name (the most specific mapped suffix of the name wins, so a
    /// `protection.outlook.com` entry is found for `mail-eopbgr.eur.protection.outlook.com`).
    pub fn identify(&self, ptr: Option<&str>) -> SourceIdentity {
        let base = ptr.and_then(base_domain);
        let known = ptr.and_then(|p| self.lookup(p));
        SourceIdentity {
            ptr: ptr.map(str::to_owned),
            base_domain: base,
            sender: known.map_or_else(|| OTHER.to_owned(), |k| k.name.clone()),
            sender_type: known.map(|k| k.kind),
            spf_include: known.and_then(|k| k.spf_include.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mapping_parses_and_names_the_big_senders() {
        let map = SenderMap::parse(EMBEDDED).expect("config/senders.yaml parses");
        assert!(map.len() >= 20);
        for (ptr, name) in [
            ("mail-sor-f41.google.com", "Google Workspace"),
            ("a8-30.smtp-out.amazonses.com", "Amazon SES"),
            ("o1.ptr1234.sendgrid.net", "SendGrid"),
            ("mail-eopbgr.eur.protection.outlook.com", "Microsoft 365"),
            ("mail12.us4.mcsv.net", "Mailchimp"),
        ] {
            assert_eq!(map.identify(Some(ptr)).sender, name, "{ptr}");
        }
    }

    #[test]
    fn an_unmapped_or_missing_name_is_other() {
        let map = SenderMap::embedded();
        let id = map.identify(Some("host-1.customer.example.net"));
        assert_eq!(id.sender, OTHER);
        assert_eq!(id.base_domain.as_deref(), Some("example.net"));
        assert_eq!(id.sender_type, None);
        assert_eq!(map.identify(None).sender, OTHER);
    }

    #[test]
    fn base_domain_follows_the_public_suffix_list() {
        assert_eq!(
            base_domain("mx.mail.example.co.uk.").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(base_domain("co.uk"), None);
    }

    #[test]
    fn a_file_extends_the_shipped_mapping_and_wins_on_the_same_domain() {
        let extra = SenderMap::parse(
            "example.net: { name: Our relay, type: hosting }\nsendgrid.net: { name: SG (ours), type: esp }\n",
        )
        .unwrap();
        let map = SenderMap::embedded().extended(extra);
        assert_eq!(map.identify(Some("r1.example.net")).sender, "Our relay");
        assert_eq!(map.identify(Some("o1.sendgrid.net")).sender, "SG (ours)");
        assert_eq!(
            map.identify(Some("x.google.com")).sender,
            "Google Workspace"
        );
    }

    #[test]
    fn a_bad_mapping_is_refused_with_its_line() {
        let err = SenderMap::parse(
            "a.example: { name: A, type: esp }\nb.example: { name: B, type: nope }\n",
        )
        .unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
