//! The `ingest.imap` section: server, TLS, credentials, folders and timings (docs/ingest.md, "IMAP").

use std::net::IpAddr;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use super::Validator;
use crate::config::keypath::KeyPath;
use crate::config::raw::RawImap;
use crate::ingest::sources::imap::settings::{ExtraRoot, ImapSettings, TlsMode};

/// A CA file holds a few certificates; a bundle of every public root is about 200 KiB.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

impl Validator<'_> {
    pub(super) fn imap(&mut self, raw: RawImap, path: &KeyPath) -> Option<ImapSettings> {
        let host = raw.host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
            self.problem(
                path.key("host"),
                "give the server's host name or IP address",
            );
        }
        let tls = TlsMode::parse(&raw.tls).unwrap_or_else(|| {
            self.problem(
                path.key("tls"),
                format!(
                    "{:?} is not a TLS mode; use implicit (port 993), starttls (port 143) or none (loopback only)",
                    raw.tls
                ),
            );
            TlsMode::Implicit
        });
        // RFC 8314 §4: no cleartext IMAP across a network; a password sent in clear is a password
        // given away. Only a server on this machine may be spoken to without TLS.
        if tls == TlsMode::None && !is_loopback(&host) {
            self.problem(
                path.key("tls"),
                format!("none is allowed only for a loopback host (127.0.0.1, ::1, localhost), not {host:?}; use implicit or starttls"),
            );
        }
        let port = match raw.port {
            None => tls.default_port(),
            Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).unwrap_or_else(|| {
                self.problem(
                    path.key("port"),
                    format!("{p} is out of range; use 1 to 65535"),
                );
                1
            }),
        };
        let extra_roots = raw
            .ca_file
            .as_deref()
            .map(|file| self.ca_file(&path.key("ca_file"), file))
            .unwrap_or_default();
        if raw.username.trim().is_empty() {
            self.problem(path.key("username"), "the login name cannot be empty");
        }
        let password = self.secret(
            &path.key("password_file"),
            raw.password_file.as_deref(),
            "SENDERSCOPE_IMAP_PASSWORD",
            |v| !v.contains(['\r', '\n']),
            "spans several lines; put the password alone on one line",
        );
        if password.is_none() && raw.password_file.is_none() {
            self.problem(
                path.clone(),
                "needs password_file (or SENDERSCOPE_IMAP_PASSWORD); a password is never written in the config",
            );
        }
        let folder = self.folder(&path.key("folder"), &raw.folder);
        let processed = self.folder(&path.key("processed_folder"), &raw.processed_folder);
        let failed = self.folder(&path.key("failed_folder"), &raw.failed_folder);
        for (key, name) in [("processed_folder", &processed), ("failed_folder", &failed)] {
            if same_folder(name, &folder) {
                self.problem(
                    path.key(key),
                    format!("{name:?} is the folder read ({folder:?}); messages moved there would be read again"),
                );
            }
        }
        let poll_interval = self.duration(
            &path.key("poll_interval"),
            &raw.poll_interval,
            Duration::from_secs(10),
            Duration::from_secs(86_400),
        );
        let timeout = self.duration(
            &path.key("timeout"),
            &raw.timeout,
            Duration::from_secs(5),
            Duration::from_secs(600),
        );
        let backoff_max = self.duration(
            &path.key("backoff_max"),
            &raw.backoff_max,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        Some(ImapSettings {
            host,
            port,
            tls,
            extra_roots,
            username: raw.username,
            password: password?,
            folder,
            processed_folder: processed,
            failed_folder: failed,
            poll_interval,
            idle: raw.idle,
            timeout,
            backoff_max,
        })
    }

    /// A mailbox name: not empty, no control characters (RFC 3501 §5.1: a name is an astring; CR,
    /// LF and NUL cannot be sent in one).
    fn folder(&mut self, path: &KeyPath, name: &str) -> String {
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 255 {
            self.problem(
                path.clone(),
                "give a folder name (without control characters, at most 255 bytes)",
            );
        }
        name.to_owned()
    }

    /// The certificates of a PEM file, each to be trusted beside the system's roots.
    fn ca_file(&mut self, path: &KeyPath, file: &str) -> Vec<ExtraRoot> {
        let read = std::fs::metadata(file).and_then(|m| {
            if m.len() > MAX_CA_FILE_BYTES {
                Err(std::io::Error::other(
                    "larger than 4 MiB; a CA file holds a few certificates",
                ))
            } else {
                std::fs::read(file)
            }
        });
        let bytes = match read {
            Ok(b) => b,
            Err(e) => {
                self.problem(path.clone(), format!("cannot read {file}: {e}"));
                return Vec::new();
            }
        };
        let certs: Result<Vec<ExtraRoot>, _> = CertificateDer::pem_slice_iter(&bytes)
            .map(|c| c.map(|c| ExtraRoot(c.as_ref().to_vec())))
            .collect();
        match certs {
            Ok(certs) if !certs.is_empty() => certs,
            Ok(_) => {
                self.problem(
                    path.clone(),
                    format!("{file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                );
                Vec::new()
            }
            Err(e) => {
                self.problem(path.clone(), format!("{file} is not readable PEM: {e}"));
                Vec::new()
            }
        }
    }
}

/// 127.0.0.0/8, ::1, or `localhost` (RFC 6761 §6.3: resolves to loopback only).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// RFC 3501 §5.1: `INBOX` is case-insensitive; other names are compared as written.
fn same_folder(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case("inbox") || b.eq_ignore_ascii_case("inbox") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_may_go_without_tls() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "imap.example.com",
            "192.0.2.1",
            "localhost.example.com",
            "::2",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn inbox_is_one_folder_whatever_its_case() {
        assert!(same_folder("INBOX", "inbox"));
        assert!(!same_folder("Processed", "processed"));
    }
}
