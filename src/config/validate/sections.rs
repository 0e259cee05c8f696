//! The scalar sections: `server`, `state`, `dns`, `schedule`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use super::Validator;
use crate::config::keypath::KeyPath;
use crate::config::model::{ScheduleSettings, ServerSettings, StateSettings};
use crate::config::net;
use crate::config::raw::{RawDns, RawSchedule, RawServer, RawState};
use crate::config::size::{format_size, parse_size};
use crate::dns::DnsSettings;

impl Validator<'_> {
    pub(super) fn server(&mut self, raw: RawServer, path: &KeyPath) -> ServerSettings {
        let listen = self.check(
            &path.key("listen"),
            net::parse_listen(&raw.listen),
            SocketAddr::from(([127, 0, 0, 1], 9797)),
        );
        let api_token = self.secret(
            &path.key("api_token_file"),
            raw.api_token_file.as_deref(),
            "SENDERSCOPE_API_TOKEN",
            is_b64token,
            "is not a bearer token (RFC 6750 §2.1: letters, digits and -._~+/, then optional =); make one with `openssl rand -hex 32`",
        );
        let max_body = path.key("max_body_bytes");
        let max_body_bytes = parse_size(&raw.max_body_bytes).and_then(|bytes| {
            // Below 1 KiB not even a small DMARC report fits; above 1 GiB a body is an attack.
            const MIN: u64 = 1 << 10;
            const MAX: u64 = 1 << 30;
            if (MIN..=MAX).contains(&bytes) {
                usize::try_from(bytes).map_err(|_| format!("{bytes} is too large"))
            } else {
                Err(format!(
                    "{} is out of range; use {} to {}",
                    raw.max_body_bytes,
                    format_size(MIN),
                    format_size(MAX)
                ))
            }
        });
        let max_body_bytes = self.check(&max_body, max_body_bytes, 0);
        let request_timeout = self.duration(
            &path.key("request_timeout"),
            &raw.request_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        // Each connection costs a file descriptor; DNS queries and the store need theirs too.
        if !(16..=65_536).contains(&raw.max_connections) {
            self.problem(
                path.key("max_connections"),
                format!("{} is out of range; use 16 to 65536", raw.max_connections),
            );
        }
        let header_read_timeout = self.duration(
            &path.key("header_read_timeout"),
            &raw.header_read_timeout,
            Duration::from_secs(1),
            Duration::from_secs(300),
        );
        let idle_timeout = self.duration(
            &path.key("idle_timeout"),
            &raw.idle_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        // A handler may legitimately stay silent on the wire until its request timeout.
        if idle_timeout < request_timeout {
            self.problem(
                path.key("idle_timeout"),
                format!(
                    "{} is shorter than server.request_timeout ({}); a request still within its time would be cut",
                    raw.idle_timeout, raw.request_timeout
                ),
            );
        }
        ServerSettings {
            listen,
            api_token,
            max_body_bytes,
            request_timeout,
            max_connections: raw.max_connections as usize,
            header_read_timeout,
            idle_timeout,
        }
    }

    pub(super) fn state(&mut self, raw: RawState, path: &KeyPath) -> StateSettings {
        if raw.path.trim().is_empty() {
            self.problem(path.key("path"), "the state database path cannot be empty");
        }
        let retention = self.duration(
            &path.key("retention"),
            &raw.retention,
            Duration::from_secs(3600),
            Duration::from_secs(10 * 366 * 86_400),
        );
        StateSettings {
            path: PathBuf::from(raw.path),
            retention,
        }
    }

    pub(super) fn dns(&mut self, raw: RawDns, path: &KeyPath) -> DnsSettings {
        let list = path.key("nameservers");
        let mut nameservers = Vec::new();
        let mut seen = HashMap::new();
        for (i, text) in raw.nameservers.iter().enumerate() {
            let item = list.index(i);
            let Ok(addr) = net::parse_nameserver(text).map_err(|e| self.problem(item.clone(), e))
            else {
                continue;
            };
            if let Some(first) = seen.insert(addr, i) {
                self.problem(
                    item,
                    format!("{addr} is already listed as {}", list.index(first)),
                );
                continue;
            }
            nameservers.push(addr);
        }
        // A DNS answer slower than a minute is no answer; a limit past 60s only delays lookup_failed.
        let timeout = self.duration(
            &path.key("timeout"),
            &raw.timeout,
            Duration::from_millis(10),
            Duration::from_secs(60),
        );
        let attempts = self.count(&path.key("attempts"), raw.attempts, 1, 10);
        let concurrency = self.count(&path.key("concurrency"), raw.concurrency, 1, 4096);
        DnsSettings {
            nameservers,
            timeout,
            attempts,
            concurrency: NonZeroUsize::new(concurrency).unwrap_or(NonZeroUsize::MIN),
        }
    }

    pub(super) fn schedule(&mut self, raw: RawSchedule, path: &KeyPath) -> ScheduleSettings {
        let week = Duration::from_secs(7 * 86_400);
        let checks = self.duration(
            &path.key("checks"),
            &raw.checks,
            Duration::from_secs(1),
            week,
        );
        let blocklists = self.duration(
            &path.key("blocklists"),
            &raw.blocklists,
            Duration::from_secs(1),
            week,
        );
        // Jitter spreads runs so that domains do not all query at once; past half the interval two
        // runs could land next to each other.
        if !(0.0..=0.5).contains(&raw.jitter) {
            self.problem(
                path.key("jitter"),
                format!(
                    "{} is out of range; use a fraction from 0 to 0.5",
                    raw.jitter
                ),
            );
        }
        let concurrency = self.count(&path.key("concurrency"), raw.concurrency, 1, 4096);
        let job_timeout = self.duration(
            &path.key("job_timeout"),
            &raw.job_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        ScheduleSettings {
            checks,
            blocklists,
            jitter: raw.jitter,
            concurrency: NonZeroUsize::new(concurrency).unwrap_or(NonZeroUsize::MIN),
            job_timeout,
        }
    }
}

/// RFC 6750 §2.1: the token of `Authorization: Bearer <token>` is a b64token,
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::is_b64token;

    #[test]
    fn bearer_tokens_follow_rfc_6750() {
        for good in ["abc123", "a-b.c_d~e+f/g", "QUJD==", "0f1e2d"] {
            assert!(is_b64token(good), "{good}");
        }
        for bad in ["", "==", "with space", "a=b", "tab\tx", "ünï"] {
            assert!(!is_b64token(bad), "{bad}");
        }
    }
}
