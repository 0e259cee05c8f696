//! A DNS relay on loopback that sends each query to the server of its zone — blocklist zones to
//! rbldnsd, posture zones to nsd — as a site's own recursive resolver does with stub zones. The
//! `senderscope check` binary takes one `--nameserver`, and answers must come from the real servers:
//! the relay passes bytes through unchanged (UDP; the answers here are small). A name no route covers
//! gets REFUSED at once, as a server that does not serve the zone would answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// A running relay; stops when dropped.
pub struct Relay {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Relay names under each zone of `routes` to its server (the longest matching zone wins).
    pub async fn start(routes: &[(&str, SocketAddr)]) -> Relay {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind relay"));
        let addr = socket.local_addr().expect("relay address");
        let routes: Vec<(String, SocketAddr)> = routes
            .iter()
            .map(|(zone, to)| (zone.to_ascii_lowercase(), *to))
            .collect();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, client)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let query = buf[..n].to_vec();
                let upstream = qname(&query).and_then(|name| route(&routes, &name));
                let socket = socket.clone();
                tokio::spawn(async move {
                    let reply = match upstream {
                        Some(to) => forward(&query, to).await,
                        None => refused(&query),
                    };
                    if let Some(reply) = reply {
                        let _ = socket.send_to(&reply, client).await;
                    }
                });
            }
        });
        Relay { addr, task }
    }

    /// Where it listens (give it to `--nameserver`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The question name of a query (RFC 1035 §4.1.2: labels after the 12-byte header; queries are not
/// compressed), lower-cased, without the trailing dot.
fn qname(packet: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = *packet.get(at)? as usize;
        if len == 0 {
            return Some(labels.join(".").to_ascii_lowercase());
        }
        let label = packet.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += 1 + len;
    }
}

fn route(routes: &[(String, SocketAddr)], name: &str) -> Option<SocketAddr> {
    routes
        .iter()
        .filter(|(zone, _)| name == zone || name.ends_with(&format!(".{zone}")))
        .max_by_key(|(zone, _)| zone.len())
        .map(|(_, to)| *to)
}

async fn forward(query: &[u8], to: SocketAddr) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    socket.send_to(query, to).await.ok()?;
    let mut buf = vec![0u8; 4096];
    // A server that never answers (an rbldnsd ACL) leaves the client to time out, as it would.
    let n = tokio::time::timeout(Duration::from_secs(10), socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The query turned into its REFUSED answer (RFC 1035 §4.1.1: QR set, RCODE 5, question kept).
fn refused(query: &[u8]) -> Option<Vec<u8>> {
    let mut reply = query.get(..)?.to_vec();
    if reply.len() < 12 {
        return None;
    }
    reply[2] |= 0x80; // QR: a response
    reply[3] = (reply[3] & 0xf0) | 5; // RCODE: REFUSED
    // No answer, authority or additional records (an OPT record from the query is dropped with them).
    reply[6..12].fill(0);
    let end = 12 + qname(query).map_or(0, |n| if n.is_empty() { 1 } else { n.len() + 2 }) + 4;
    reply.truncate(end.min(reply.len()));
    Some(reply)
}
