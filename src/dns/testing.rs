//! An in-process DNS server on loopback for fast tests: records added in code or from a small zone-like
//! text, with names that time out (never answered) or SERVFAIL on demand. It answers like a recursive
//! resolver would (CNAME chains followed, NXDOMAIN vs NODATA, `*.` wildcards, TC over UDP then TCP).
//!
//! Real-server tests use nsd and rbldnsd (tests/harness); this is for unit tests and for the RFC 7208
//! suite, whose zone data needs names that time out.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::DnsSettings;

/// One record served by [`FakeDns`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeRecord {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A TXT record: its character-strings, as bytes.
    Txt(Vec<Vec<u8>>),
    /// An MX record (exchange `""` or `"."` for the null MX).
    Mx(u16, String),
    /// A PTR record.
    Ptr(String),
    /// An alias.
    Cname(String),
}

impl FakeRecord {
    /// A TXT record of one string (split into 255-byte character-strings as a zone file would need).
    pub fn txt(text: &str) -> Self {
        FakeRecord::Txt(text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect())
    }

    fn record_type(&self) -> RecordType {
        match self {
            FakeRecord::A(_) => RecordType::A,
            FakeRecord::Aaaa(_) => RecordType::AAAA,
            FakeRecord::Txt(_) => RecordType::TXT,
            FakeRecord::Mx(..) => RecordType::MX,
            FakeRecord::Ptr(_) => RecordType::PTR,
            FakeRecord::Cname(_) => RecordType::CNAME,
        }
    }
}

#[derive(Default)]
struct Zone {
    records: HashMap<String, Vec<FakeRecord>>,
    timeouts: HashSet<String>,
    partial_timeouts: HashSet<String>,
    servfails: HashSet<String>,
    refused: HashSet<String>,
}

/// A DNS server on 127.0.0.1 (UDP and TCP on the same port), stopped when dropped.
pub struct FakeDns {
    addr: SocketAddr,
    zone: Arc<RwLock<Zone>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeDns {
    /// Start an empty server on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let mut last_err = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => {
                    let zone = Arc::new(RwLock::new(Zone::default()));
                    let tasks = vec![
                        tokio::spawn(serve_udp(udp, zone.clone())),
                        tokio::spawn(serve_tcp(tcp, zone.clone())),
                    ];
                    return Ok(FakeDns { addr, zone, tasks });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Settings pointing at this server: short timeout, one attempt, so "timeout" tests are quick.
    pub fn settings(&self) -> DnsSettings {
        DnsSettings {
            nameservers: vec![self.addr],
            timeout: Duration::from_millis(300),
            attempts: 1,
            concurrency: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// Serve `record` at `name`.
    pub fn add(&self, name: &str, record: FakeRecord) -> &Self {
        self.write()
            .records
            .entry(super::normalize(name))
            .or_default()
            .push(record);
        self
    }

    /// Never answer queries for `name`.
    pub fn timeout(&self, name: &str) -> &Self {
        self.write().timeouts.insert(super::normalize(name));
        self
    }

    /// Answer queries for `name` only for the types it has records of; never answer the others (a server
    /// that times out on unknown types, as the RFC 7208 test suite's `TIMEOUT` beside records means).
    pub fn timeout_other_types(&self, name: &str) -> &Self {
        self.write().partial_timeouts.insert(super::normalize(name));
        self
    }

    /// Answer SERVFAIL for `name`.
    pub fn servfail(&self, name: &str) -> &Self {
        self.write().servfails.insert(super::normalize(name));
        self
    }

    /// Answer REFUSED for `name`.
    pub fn refuse(&self, name: &str) -> &Self {
        self.write().refused.insert(super::normalize(name));
        self
    }

    /// Remove everything served at `name`.
    pub fn remove(&self, name: &str) -> &Self {
        self.write().records.remove(&super::normalize(name));
        self
    }

    /// Add records from lines of `NAME TYPE VALUE` (types A, AAAA, TXT, MX, PTR, CNAME; `NAME TIMEOUT`,
    /// `NAME SERVFAIL`, `NAME REFUSED`). TXT values are one or more "quoted strings" or one bare word; MX
    /// values are `PREF HOST`. `#` starts a comment line.
    pub fn load(&self, text: &str) -> Result<&Self, String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: &str| format!("line {}: {why}: {line}", n + 1);
            let mut parts = line.splitn(3, char::is_whitespace);
            let name = parts.next().ok_or_else(|| fail("no name"))?;
            let kind = parts.next().ok_or_else(|| fail("no type"))?;
            let value = parts.next().unwrap_or("").trim();
            let record = match kind.to_ascii_uppercase().as_str() {
                "TIMEOUT" => {
                    self.timeout(name);
                    continue;
                }
                "SERVFAIL" => {
                    self.servfail(name);
                    continue;
                }
                "REFUSED" => {
                    self.refuse(name);
                    continue;
                }
                "A" => FakeRecord::A(value.parse().map_err(|_| fail("bad IPv4"))?),
                "AAAA" => FakeRecord::Aaaa(value.parse().map_err(|_| fail("bad IPv6"))?),
                "TXT" => FakeRecord::Txt(parse_txt(value).ok_or_else(|| fail("bad TXT"))?),
                "MX" => {
                    let (pref, host) = value.split_once(' ').ok_or_else(|| fail("bad MX"))?;
                    FakeRecord::Mx(
                        pref.parse().map_err(|_| fail("bad MX preference"))?,
                        host.trim().to_owned(),
                    )
                }
                "PTR" => FakeRecord::Ptr(value.to_owned()),
                "CNAME" => FakeRecord::Cname(value.to_owned()),
                _ => return Err(fail("unknown type")),
            };
            self.add(name, record);
        }
        Ok(self)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Zone> {
        self.zone.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn parse_txt(value: &str) -> Option<Vec<Vec<u8>>> {
    if !value.starts_with('"') {
        return Some(vec![value.as_bytes().to_vec()]);
    }
    let mut strings = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let end = after.find('"')?;
        strings.push(after.as_bytes()[..end].to_vec());
        rest = &after[end + 1..];
    }
    Some(strings)
}

async fn serve_udp(socket: UdpSocket, zone: Arc<RwLock<Zone>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = respond(&buf[..len], &zone, true) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<RwLock<Zone>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let zone = zone.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if stream.read_exact(&mut query).await.is_err() {
                    return;
                }
                let Some(reply) = respond(&query, &zone, false) else {
                    continue;
                };
                let Ok(reply_len) = u16::try_from(reply.len()) else {
                    return;
                };
                if stream.write_all(&reply_len.to_be_bytes()).await.is_err()
                    || stream.write_all(&reply).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// Build the answer to one query (`None`: stay silent, as for a TIMEOUT name).
fn respond(query: &[u8], zone: &RwLock<Zone>, udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries.first()?.clone();
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(question.clone());
    let zone = zone.read().unwrap_or_else(|e| e.into_inner());
    let qtype = question.query_type();
    let mut name = super::resolve::name_text(question.name());
    for _ in 0..10 {
        if zone.timeouts.contains(&name) {
            return None;
        }
        if zone.partial_timeouts.contains(&name)
            && !zone.records.get(&name).is_some_and(|rs| {
                rs.iter()
                    .any(|r| r.record_type() == qtype || matches!(r, FakeRecord::Cname(_)))
            })
        {
            return None;
        }
        if zone.servfails.contains(&name) {
            reply.metadata.response_code = ResponseCode::ServFail;
            break;
        }
        if zone.refused.contains(&name) {
            reply.metadata.response_code = ResponseCode::Refused;
            break;
        }
        let Some(records) = lookup(&zone, &name) else {
            reply.metadata.response_code = ResponseCode::NXDomain;
            break;
        };
        let alias = records.iter().find_map(|r| match r {
            FakeRecord::Cname(target) if qtype != RecordType::CNAME => Some(target.clone()),
            _ => None,
        });
        if let Some(target) = alias {
            reply.add_answer(to_record(&name, &FakeRecord::Cname(target.clone()))?);
            name = super::normalize(&target);
            continue;
        }
        for r in records.iter().filter(|r| r.record_type() == qtype) {
            reply.add_answer(to_record(&name, r)?);
        }
        break;
    }
    let mut bytes = reply.to_vec().ok()?;
    let limit = usize::from(request.max_payload().max(512));
    if udp && bytes.len() > limit {
        let mut truncated = Message::response(request.metadata.id, request.metadata.op_code);
        truncated.add_query(question);
        truncated.metadata.truncation = true;
        bytes = truncated.to_vec().ok()?;
    }
    Some(bytes)
}

/// Records at `name`: exact, else an empty non-terminal (Some(empty)), else the nearest `*.` wildcard.
fn lookup<'z>(zone: &'z Zone, name: &str) -> Option<std::borrow::Cow<'z, [FakeRecord]>> {
    if let Some(r) = zone.records.get(name) {
        return Some(std::borrow::Cow::Borrowed(r));
    }
    let suffix = format!(".{name}");
    if zone.records.keys().any(|k| k.ends_with(&suffix)) {
        return Some(std::borrow::Cow::Owned(Vec::new()));
    }
    let mut parent = name;
    while let Some((_, rest)) = parent.split_once('.') {
        if let Some(r) = zone.records.get(&format!("*.{rest}")) {
            return Some(std::borrow::Cow::Borrowed(r));
        }
        parent = rest;
    }
    None
}

fn to_record(owner: &str, record: &FakeRecord) -> Option<Record> {
    let name = fqdn(owner)?;
    let data = match record {
        FakeRecord::A(ip) => RData::A(A(*ip)),
        FakeRecord::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        FakeRecord::Txt(strings) => {
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        FakeRecord::Mx(pref, host) => RData::MX(MX::new(*pref, fqdn(host)?)),
        FakeRecord::Ptr(host) => RData::PTR(PTR(fqdn(host)?)),
        FakeRecord::Cname(host) => RData::CNAME(CNAME(fqdn(host)?)),
    };
    Some(Record::from_rdata(name, 300, data))
}

fn fqdn(name: &str) -> Option<Name> {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        return Some(Name::root());
    }
    super::resolve::wire_name(trimmed)
}

/// The reverse-lookup owner name for `ip`, for adding PTR records.
pub fn ptr_name(ip: IpAddr) -> String {
    super::reverse_name(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, LookupError, Resolver};

    #[tokio::test]
    async fn fake_dns_tells_nxdomain_nodata_timeout_and_servfail_apart() {
        let dns = FakeDns::start().await.unwrap();
        dns.load(
            "a.test TXT \"v=spf1 \" \"-all\"\n\
             a.test MX 10 mx.a.test\n\
             mx.a.test A 192.0.2.1\n\
             alias.a.test CNAME mx.a.test\n\
             slow.a.test TIMEOUT\n\
             broken.a.test SERVFAIL\n\
             *.wild.test TXT hello",
        )
        .unwrap();
        let lookups = Resolver::new(&dns.settings()).unwrap().round();
        let txt = lookups.txt("a.test").await.unwrap();
        assert_eq!(txt.records()[0].joined(), "v=spf1 -all");
        assert_eq!(txt.records()[0].strings.len(), 2);
        assert_eq!(lookups.txt("mx.a.test").await, Ok(Answer::NoData));
        assert_eq!(lookups.txt("none.a.test").await, Ok(Answer::NxDomain));
        let via_alias = lookups.a("alias.a.test").await.unwrap();
        assert_eq!(
            via_alias.records(),
            &["192.0.2.1".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(lookups.txt("slow.a.test").await, Err(LookupError::Timeout));
        assert_eq!(
            lookups.txt("broken.a.test").await,
            Err(LookupError::ServFail)
        );
        assert_eq!(
            lookups.txt("x.wild.test").await.unwrap().records()[0].joined(),
            "hello"
        );
    }

    #[tokio::test]
    async fn long_txt_records_come_through_tcp() {
        let dns = FakeDns::start().await.unwrap();
        let long = "x".repeat(3000);
        dns.add("big.test", FakeRecord::txt(&long));
        let lookups = Resolver::new(&dns.settings()).unwrap().round();
        let txt = lookups.txt("big.test").await.unwrap();
        assert_eq!(txt.records()[0].joined(), long);
    }
}
