//! Fetching the MTA-STS policy over HTTPS the way RFC 8461 §3.3 tells senders to: certificate validated,
//! redirects not followed, no caching, a timeout and a cap on the body.
//!
//! `mta-sts.<domain>` is resolved through our DNS layer (the check round's [`Lookups`], so configured
//! nameservers apply and tests can point it at a loopback server), and the addresses are pinned into a
//! client built for this one fetch. Building a client reloads the system root certificates: about 2 ms in a
//! release build, once per domain that publishes MTA-STS per round, and it keeps each fetch independent
//! (no pooled connection can skip DNS). Proxies are not used: a proxy would resolve the name itself.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::dns::{Answer, LookupError, Lookups};

/// RFC 8461 §3.3 suggests senders cap the policy body, e.g. at 64 KiB.
const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// Long enough for a slow policy host, short enough not to stall a check round.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How MTA-STS policies are fetched. [`PolicyFetcher::default`] is the production setting: port 443,
/// the system's root certificates, a 30 s timeout, a 64 KiB body cap. Cheap to clone.
#[derive(Clone)]
pub struct PolicyFetcher {
    port: u16,
    extra_roots: Vec<reqwest::Certificate>,
    timeout: Duration,
    max_body: usize,
}

impl Default for PolicyFetcher {
    fn default() -> Self {
        PolicyFetcher {
            port: 443,
            extra_roots: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl std::fmt::Debug for PolicyFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyFetcher")
            .field("port", &self.port)
            .field("extra_roots", &self.extra_roots.len())
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// A certificate given to [`PolicyFetcher::with_root_certificate_pem`] could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the root certificate: {0}")]
pub struct CertificateError(String);

/// A policy as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPolicy {
    /// The URL fetched.
    pub url: String,
    /// The `Content-Type` header, when sent.
    pub content_type: Option<String>,
    /// The body (at most the cap).
    pub body: Vec<u8>,
}

/// Why no policy was fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Resolving the policy host failed: we could not check, which is not the domain's fault.
    Lookup(LookupError),
    /// The policy is unavailable to senders.
    Unreachable {
        /// What went wrong, for the finding's detail.
        kind: Unreachable,
        /// In words.
        reason: String,
    },
}

/// The kinds of "unreachable", each a different fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// `mta-sts.<domain>` has no address.
    Dns,
    /// No TCP connection (refused, unroutable).
    Connect,
    /// The TLS handshake or certificate validation failed.
    Tls,
    /// No complete answer within the timeout.
    Timeout,
    /// A redirect, which RFC 8461 §3.3 forbids following.
    Redirect,
    /// A status other than 200.
    HttpStatus,
    /// The body exceeds the cap.
    TooLarge,
    /// The body could not be read.
    Body,
}

impl Unreachable {
    /// The label used in finding details.
    pub fn as_str(self) -> &'static str {
        match self {
            Unreachable::Dns => "dns",
            Unreachable::Connect => "connect",
            Unreachable::Tls => "tls",
            Unreachable::Timeout => "timeout",
            Unreachable::Redirect => "redirect",
            Unreachable::HttpStatus => "http_status",
            Unreachable::TooLarge => "too_large",
            Unreachable::Body => "body",
        }
    }
}

fn unreachable(kind: Unreachable, reason: impl Into<String>) -> FetchError {
    FetchError::Unreachable {
        kind,
        reason: reason.into(),
    }
}

impl PolicyFetcher {
    /// Connect to this port instead of 443 (tests).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Trust this CA certificate (PEM) in addition to the system roots (tests).
    pub fn with_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, CertificateError> {
        let cert =
            reqwest::Certificate::from_pem(pem).map_err(|e| CertificateError(e.to_string()))?;
        self.extra_roots.push(cert);
        Ok(self)
    }

    /// Give up on a fetch after this long (connection, TLS, headers and body together).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Refuse bodies larger than this many bytes.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The policy URL of a domain (RFC 8461 §3.3).
    pub fn url(domain: &str) -> String {
        format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")
    }

    /// Fetch `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub async fn fetch(&self, dns: &Lookups, domain: &str) -> Result<FetchedPolicy, FetchError> {
        let host = format!("mta-sts.{domain}");
        let url = Self::url(domain);
        let addrs = self.resolve(dns, &host).await?;
        let mut builder = reqwest::Client::builder()
            .resolve_to_addrs(&host, &addrs)
            // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed".
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .https_only(true)
            .user_agent(concat!(
                "senderscope/",
                env!("CARGO_PKG_VERSION"),
                " (MTA-STS check)"
            ));
        if !self.extra_roots.is_empty() {
            builder = builder.tls_certs_merge(self.extra_roots.iter().cloned());
        }
        let client = builder.build().map_err(|e| {
            unreachable(Unreachable::Connect, format!("HTTPS client: {}", chain(&e)))
        })?;
        let mut response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.classify(&e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)");
            return Err(unreachable(
                Unreachable::Redirect,
                format!(
                    "HTTP {status} redirect to {location}; RFC 8461 §3.3 forbids following redirects"
                ),
            ));
        }
        // RFC 8461 §3.3: "only valid if the HTTP response code is 200 (OK)".
        if status != reqwest::StatusCode::OK {
            return Err(unreachable(
                Unreachable::HttpStatus,
                format!("HTTP {status} instead of 200 OK"),
            ));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let too_large = |n: String| {
            unreachable(
                Unreachable::TooLarge,
                format!(
                    "the body is {n} bytes, over the {} bytes senders accept (RFC 8461 §3.3)",
                    self.max_body
                ),
            )
        };
        if let Some(len) = response
            .content_length()
            .filter(|l| *l > self.max_body as u64)
        {
            return Err(too_large(len.to_string()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() > self.max_body {
                return Err(too_large(format!("more than {}", self.max_body)));
            }
        }
        Ok(FetchedPolicy {
            url,
            content_type,
            body,
        })
    }

    /// The policy host's addresses through our DNS, with the port to use.
    async fn resolve(&self, dns: &Lookups, host: &str) -> Result<Vec<SocketAddr>, FetchError> {
        let (v4, v6) = tokio::join!(dns.a(host), dns.aaaa(host));
        let mut addrs: Vec<SocketAddr> = Vec::new();
        if let Ok(a) = &v4 {
            addrs.extend(
                a.records()
                    .iter()
                    .map(|ip| SocketAddr::new(IpAddr::V4(*ip), self.port)),
            );
        }
        if let Ok(a) = &v6 {
            addrs.extend(
                a.records()
                    .iter()
                    .map(|ip| SocketAddr::new(IpAddr::V6(*ip), self.port)),
            );
        }
        if !addrs.is_empty() {
            return Ok(addrs);
        }
        match (v4, v6) {
            (Err(e), _) | (_, Err(e)) => Err(FetchError::Lookup(e)),
            (Ok(Answer::NxDomain), _) => Err(unreachable(
                Unreachable::Dns,
                format!("{host} does not exist (NXDOMAIN)"),
            )),
            _ => Err(unreachable(
                Unreachable::Dns,
                format!("{host} has no A or AAAA record"),
            )),
        }
    }

    /// How long the TCP and TLS connection may take: at most 10 s of the whole timeout.
    fn connect_timeout(&self) -> Duration {
        self.timeout.min(Duration::from_secs(10))
    }

    /// Sort a transport error into timeout, TLS or connection trouble.
    fn classify(&self, e: &reqwest::Error) -> FetchError {
        let reason = chain(e);
        if e.is_timeout() {
            // The connect timeout is the shorter one: say which limit was reached.
            let message = if e.is_connect() {
                format!(
                    "no connection within {} s",
                    self.connect_timeout().as_secs_f64()
                )
            } else {
                format!("no complete answer within {} s", self.timeout.as_secs_f64())
            };
            return unreachable(Unreachable::Timeout, message);
        }
        if e.is_body() || e.is_decode() {
            return unreachable(Unreachable::Body, reason);
        }
        let io_kinds: Vec<std::io::ErrorKind> = sources(e)
            .filter_map(|s| s.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
            .collect();
        // tokio-rustls reports handshake and certificate failures as io::ErrorKind::InvalidData wrapping
        // the rustls error; the words are the fallback should a layer rewrap it.
        let lower = reason.to_ascii_lowercase();
        let tls = io_kinds.contains(&std::io::ErrorKind::InvalidData)
            || ["certificate", "handshake", "tls"]
                .iter()
                .any(|w| lower.contains(w));
        if tls {
            unreachable(Unreachable::Tls, format!("TLS failed: {reason}"))
        } else {
            unreachable(Unreachable::Connect, reason)
        }
    }
}

/// An error and its sources.
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// The sources' messages below reqwest's own ("error sending request for url …", which repeats the URL)
/// and hyper's wrapper ("client error (Connect)"), joined with ": ", without repeats, at most
/// [`MAX_REASON`] characters (a certificate error lists every name the certificate holds).
fn chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in sources(e).skip(1) {
        let text = s.to_string();
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    let text = if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    };
    match text.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Longest error reason quoted in a finding.
const MAX_REASON: usize = 300;
