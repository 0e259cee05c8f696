//! The validated `ingest.imap` section (docs/ingest.md, "IMAP").

use std::fmt;
use std::time::Duration;

use crate::config::Secret;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (RFC 8314 §3.2: "implicit TLS", port 993). The default.
    Implicit,
    /// Plain TCP, then `STARTTLS` before anything else is sent (RFC 3501 §6.2.1, port 143). A
    /// server that does not advertise it is refused, never used in clear.
    StartTls,
    /// No TLS at all: accepted only for a loopback host (validation refuses it for any other), so
    /// the password never crosses a network in clear.
    None,
}

impl TlsMode {
    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        }
    }

    /// The word's mode.
    pub fn parse(word: &str) -> Option<TlsMode> {
        match word {
            "implicit" => Some(TlsMode::Implicit),
            "starttls" => Some(TlsMode::StartTls),
            "none" => Some(TlsMode::None),
            _ => None,
        }
    }

    /// The port used when none is given: 993 for implicit TLS, 143 otherwise (RFC 8314 §7).
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 993,
            TlsMode::StartTls | TlsMode::None => 143,
        }
    }
}

/// A certificate (DER) to trust beside the system's roots, from `ca_file`.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtraRoot(pub Vec<u8>);

impl fmt::Debug for ExtraRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtraRoot({} bytes)", self.0.len())
    }
}

/// `ingest.imap`: one mailbox read for reports, bounces and complaints.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapSettings {
    /// The server's host name (also the name its certificate must carry) or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Implicit TLS, STARTTLS, or none (loopback only).
    pub tls: TlsMode,
    /// Certificates trusted beside the system's roots (a private CA).
    pub extra_roots: Vec<ExtraRoot>,
    /// The login name.
    pub username: String,
    /// The password, from `password_file` or `SENDERSCOPE_IMAP_PASSWORD`; never logged.
    pub password: Secret,
    /// The mailbox read (default `INBOX`).
    pub folder: String,
    /// Where a message goes once what it carried is committed.
    pub processed_folder: String,
    /// Where a message goes when it cannot be read (kept, never deleted).
    pub failed_folder: String,
    /// How often the mailbox is read when the server has no IDLE (or `idle` is off); with IDLE,
    /// the longest wait before it is read again anyway.
    pub poll_interval: Duration,
    /// Wait with IDLE (RFC 2177) when the server advertises it.
    pub idle: bool,
    /// The longest wait for any one answer of the server.
    pub timeout: Duration,
    /// The longest wait between reconnection attempts (the wait doubles from 1 s up to this).
    pub backoff_max: Duration,
}
