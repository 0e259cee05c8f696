//! A hostile DNS server on loopback: it answers A queries for `<mode>-<n>.hostile.test` with
//! [`HostileDns::right_answer`]`(n)`, after (or instead of) whatever mischief `<mode>` names. Every
//! decoy carries [`HostileDns::DECOY`], so a test sees at once if a query took an answer not its own.
//!
//! | mode | what the server does |
//! |---|---|
//! | `ok` | answers |
//! | `wrongid` | a decoy reply with another id, then the answer |
//! | `wrongq` | a decoy with the right id for another name, one for another type, then the answer |
//! | `otherport` | a decoy with the right id and question from another port, then the answer |
//! | `onlyotherport` | the answer from another port only (must time out) |
//! | `trunc` | a truncated UDP reply holding a decoy; the answer over TCP |
//! | `tcpjunk` | a truncated UDP reply; over TCP a 65,535-byte length prefix, then junk and close |
//! | `garbage` | junk starting with the right id, a 5-byte datagram, then the answer |
//! | `oversized` | the answer padded with 400 extra records (far over the advertised 1232 bytes) |
//! | `flood` | the answer, then 100 decoys with the same id and 100 with random ids |
//! | `late` | the answer after 1.5 s, past any test timeout |
//! | `silent` | nothing |
//! | `servfail`, `refused`, `nxdomain` | that rcode |

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// The zone every hostile name is under.
pub const ZONE: &str = "hostile.test";

/// A running hostile server (UDP and TCP on one port), stopped when dropped.
pub struct HostileDns {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for HostileDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl HostileDns {
    /// The address every decoy answers with.
    pub const DECOY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);

    /// The one right answer for query number `n`: 10.0.(n >> 8).(n & 255).
    pub fn right_answer(n: u16) -> Ipv4Addr {
        let [hi, lo] = n.to_be_bytes();
        Ipv4Addr::new(10, 0, hi, lo)
    }

    /// The name of query `n` in `mode`.
    pub fn name(mode: &str, n: u16) -> String {
        format!("{mode}-{n}.{ZONE}")
    }

    /// Start on a free loopback port.
    pub async fn start() -> HostileDns {
        for _ in 0..20 {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
            let addr = udp.local_addr().expect("local address");
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            let other = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
            let udp = Arc::new(udp);
            let other = Arc::new(other);
            let tasks = vec![
                tokio::spawn(serve_udp(udp, other)),
                tokio::spawn(serve_tcp(tcp)),
            ];
            return HostileDns { addr, tasks };
        }
        panic!("no free loopback port for the hostile DNS server");
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The mode and number of a hostile name (`None` for anything else).
fn parse(name: &Name) -> Option<(String, u16)> {
    let first = String::from_utf8_lossy(name.iter().next()?).to_ascii_lowercase();
    let (mode, n) = first.rsplit_once('-')?;
    Some((mode.to_owned(), n.parse().ok()?))
}

fn a_record(name: &Name, ip: Ipv4Addr) -> Record {
    Record::from_rdata(name.clone(), 60, RData::A(A(ip)))
}

/// A reply to `request` with `id`, `question` and `answers`.
fn reply(id: u16, question: Query, answers: Vec<Record>, rcode: ResponseCode) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_available = true;
    m.add_query(question);
    m.add_answers(answers);
    m.to_vec().expect("encode a reply")
}

fn junk(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random::<u8>()).collect()
}

async fn serve_udp(socket: Arc<UdpSocket>, other: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let Some(question) = request.queries.first().cloned() else {
            continue;
        };
        let id = request.metadata.id;
        let name = question.name().clone();
        let Some((mode, n)) = parse(&name) else {
            let _ = socket
                .send_to(&reply(id, question, vec![], ResponseCode::Refused), peer)
                .await;
            continue;
        };
        let right = reply(
            id,
            question.clone(),
            vec![a_record(&name, HostileDns::right_answer(n))],
            ResponseCode::NoError,
        );
        let decoy = |id: u16, q: Query| {
            reply(
                id,
                q.clone(),
                vec![a_record(q.name(), HostileDns::DECOY)],
                ResponseCode::NoError,
            )
        };
        let mut out: Vec<Vec<u8>> = Vec::new();
        match mode.as_str() {
            "ok" => out.push(right),
            "wrongid" => {
                out.push(decoy(id.wrapping_add(1), question.clone()));
                out.push(right);
            }
            "wrongq" => {
                let other_name = Name::from_ascii(format!("ok-{}.{ZONE}.", n.wrapping_add(1)))
                    .expect("a valid name");
                out.push(decoy(id, Query::query(other_name, RecordType::A)));
                let mut as_txt = question.clone();
                as_txt.set_query_type(RecordType::TXT);
                out.push(reply(
                    id,
                    as_txt,
                    vec![a_record(&name, HostileDns::DECOY)],
                    ResponseCode::NoError,
                ));
                out.push(right);
            }
            "otherport" => {
                let _ = other.send_to(&decoy(id, question.clone()), peer).await;
                out.push(right);
            }
            "onlyotherport" => {
                let _ = other.send_to(&right, peer).await;
            }
            "trunc" | "tcpjunk" => {
                let mut m = Message::from_vec(&decoy(id, question.clone())).expect("decode");
                m.metadata.truncation = true;
                out.push(m.to_vec().expect("encode"));
            }
            "garbage" => {
                let mut g = junk(200);
                g[..2].copy_from_slice(&id.to_be_bytes());
                out.push(g);
                out.push(
                    id.to_be_bytes()
                        .iter()
                        .chain(&[0x81, 0x80, 0])
                        .copied()
                        .collect(),
                );
                out.push(right);
            }
            "oversized" => {
                let mut m = Message::from_vec(&right).expect("decode");
                for i in 0..400u16 {
                    let [hi, lo] = i.to_be_bytes();
                    m.add_additional(Record::from_rdata(
                        name.clone(),
                        60,
                        RData::TXT(TXT::new(vec![format!(
                            "padding {hi}.{lo} {}",
                            "x".repeat(40)
                        )])),
                    ));
                }
                out.push(m.to_vec().expect("encode"));
            }
            "flood" => {
                out.push(right);
                for _ in 0..100 {
                    out.push(decoy(id, question.clone()));
                }
                for _ in 0..100 {
                    out.push(decoy(rand::random(), question.clone()));
                }
            }
            "late" => {
                let socket = socket.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let _ = socket.send_to(&right, peer).await;
                });
            }
            "silent" => {}
            "servfail" => out.push(reply(id, question, vec![], ResponseCode::ServFail)),
            "refused" => out.push(reply(id, question, vec![], ResponseCode::Refused)),
            "nxdomain" => out.push(reply(id, question, vec![], ResponseCode::NXDomain)),
            _ => out.push(reply(id, question, vec![], ResponseCode::Refused)),
        }
        for datagram in out {
            let _ = socket.send_to(&datagram, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).await.is_err() {
                return;
            }
            let Ok(request) = Message::from_vec(&query) else {
                return;
            };
            let Some(question) = request.queries.first().cloned() else {
                return;
            };
            let name = question.name().clone();
            let Some((mode, n)) = parse(&name) else {
                return;
            };
            let bytes = if mode == "tcpjunk" {
                // Promise 65,535 bytes, send 100 of junk, hang up.
                let mut b = vec![0xff, 0xff];
                b.extend(junk(100));
                b
            } else {
                let body = reply(
                    request.metadata.id,
                    question,
                    vec![a_record(&name, HostileDns::right_answer(n))],
                    ResponseCode::NoError,
                );
                let mut b = (body.len() as u16).to_be_bytes().to_vec();
                b.extend(body);
                b
            };
            let _ = stream.write_all(&bytes).await;
        });
    }
}
