//! The recipient's mailbox provider: a bounded label (it is a metric label), from the recipient's
//! domain first, then from the host that answered for it (the MX of a hosted domain: a Google
//! Workspace domain bounces from `*.google.com`, a Microsoft 365 one from
//! `*.mail.protection.outlook.com`).

use serde::{Deserialize, Serialize};

/// A mailbox provider. `Other` is everyone else, so the label set stays closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Gmail and Google Workspace.
    Gmail,
    /// Outlook.com, Hotmail, Live, MSN and Microsoft 365.
    Microsoft,
    /// Yahoo and AOL.
    Yahoo,
    /// iCloud.
    Apple,
    /// GMX and WEB.DE.
    Gmx,
    /// Mail.ru.
    Mailru,
    /// Yandex.
    Yandex,
    /// Zoho Mail.
    Zoho,
    /// Proton Mail.
    Proton,
    /// Anyone else.
    Other,
}

/// Consumer domains per provider (exact match on the recipient's domain).
const DOMAINS: &[(Provider, &[&str])] = &[
    (Provider::Gmail, &["gmail.com", "googlemail.com"]),
    (
        Provider::Microsoft,
        &[
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "passport.com",
            "outlook.fr",
            "outlook.de",
            "hotmail.co.uk",
            "hotmail.fr",
            "hotmail.de",
            "hotmail.it",
            "hotmail.es",
            "live.co.uk",
            "live.fr",
            "live.de",
            "live.nl",
        ],
    ),
    (
        Provider::Yahoo,
        &[
            "yahoo.com",
            "ymail.com",
            "rocketmail.com",
            "aol.com",
            "aim.com",
            "yahoo.co.uk",
            "yahoo.fr",
            "yahoo.de",
            "yahoo.co.jp",
            "yahoo.com.br",
            "yahoo.in",
        ],
    ),
    (Provider::Apple, &["icloud.com", "me.com", "mac.com"]),
    (
        Provider::Gmx,
        &["gmx.de", "gmx.net", "gmx.com", "gmx.at", "gmx.ch", "web.de"],
    ),
    (
        Provider::Mailru,
        &["mail.ru", "inbox.ru", "list.ru", "bk.ru"],
    ),
    (Provider::Yandex, &["yandex.ru", "yandex.com", "ya.ru"]),
    (Provider::Zoho, &["zoho.com", "zohomail.com"]),
    (
        Provider::Proton,
        &["proton.me", "protonmail.com", "protonmail.ch", "pm.me"],
    ),
];

/// Host suffixes of the providers' inbound servers (a hosted domain's MX, or the Remote-MTA).
const MX_SUFFIXES: &[(Provider, &[&str])] = &[
    (Provider::Gmail, &[".google.com", ".googlemail.com"]),
    (
        Provider::Microsoft,
        &[".protection.outlook.com", ".outlook.com", ".hotmail.com"],
    ),
    (
        Provider::Yahoo,
        &[".yahoodns.net", ".yahoo.com", ".aol.com"],
    ),
    (Provider::Apple, &[".icloud.com", ".me.com"]),
    (Provider::Gmx, &[".gmx.net", ".web.de"]),
    (Provider::Mailru, &[".mail.ru"]),
    (Provider::Yandex, &[".yandex.net", ".yandex.ru"]),
    (Provider::Zoho, &[".zoho.com", ".zoho.eu"]),
    (Provider::Proton, &[".protonmail.ch"]),
];

impl Provider {
    /// Every provider, for docs and pre-declared series.
    pub const ALL: [Provider; 10] = [
        Provider::Gmail,
        Provider::Microsoft,
        Provider::Yahoo,
        Provider::Apple,
        Provider::Gmx,
        Provider::Mailru,
        Provider::Yandex,
        Provider::Zoho,
        Provider::Proton,
        Provider::Other,
    ];

    /// The label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Gmail => "gmail",
            Provider::Microsoft => "microsoft",
            Provider::Yahoo => "yahoo",
            Provider::Apple => "apple",
            Provider::Gmx => "gmx",
            Provider::Mailru => "mailru",
            Provider::Yandex => "yandex",
            Provider::Zoho => "zoho",
            Provider::Proton => "proton",
            Provider::Other => "other",
        }
    }

    /// The provider named `name` (its label value).
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The provider of a recipient domain (consumer domains only; `Other` for the rest).
    pub fn of_domain(domain: &str) -> Provider {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        DOMAINS
            .iter()
            .find(|(_, names)| names.contains(&domain.as_str()))
            .map_or(Provider::Other, |(p, _)| *p)
    }

    /// The provider operating an inbound host (`mx.google.com`, `dns; x.mail.protection.outlook.com`,
    /// `mta7.am0.yahoodns.net [67.195.204.72]`).
    pub fn of_host(host: &str) -> Provider {
        let host = host.trim();
        let host = host.split_once(';').map_or(
            host,
            |(kind, rest)| if kind.len() < 8 { rest } else { host },
        );
        let host = host
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let dotted = format!(".{host}");
        MX_SUFFIXES
            .iter()
            .find(|(_, suffixes)| suffixes.iter().any(|s| dotted.ends_with(s)))
            .map_or(Provider::Other, |(p, _)| *p)
    }

    /// The provider of a recipient: by its domain, else by the host that answered for it.
    pub fn of_recipient(recipient: &str, remote_mta: Option<&str>) -> Provider {
        let by_domain =
            super::model::domain_of(recipient).map_or(Provider::Other, |d| Provider::of_domain(&d));
        match (by_domain, remote_mta) {
            (Provider::Other, Some(host)) => Provider::of_host(host),
            (p, _) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_domains_map_to_their_provider() {
        assert_eq!(Provider::of_domain("googlemail.com"), Provider::Gmail);
        assert_eq!(Provider::of_domain("Hotmail.com"), Provider::Microsoft);
        assert_eq!(Provider::of_domain("aol.com"), Provider::Yahoo);
        assert_eq!(Provider::of_domain("shop.example"), Provider::Other);
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn hosted_domains_map_by_the_answering_host() {
        assert_eq!(
            Provider::of_recipient("a@corp.example", Some("dns; aspmx.l.google.com")),
            Provider::Gmail
        );
        assert_eq!(
            Provider::of_recipient(
                "a@corp.example",
                Some("corp-example.mail.protection.outlook.com [52.101.1.1]")
            ),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::of_recipient("a@gmail.com", Some("mx.other.example")),
            Provider::Gmail
        );
        // A look-alike host is not the provider.
        assert_eq!(Provider::of_host("evilgoogle.com"), Provider::Other);
    }
}
