//! Queries over UDP on a few long-lived sockets, as c-ares and unbound do, instead of a fresh socket per
//! query (a `socket`, `bind`, two `epoll_ctl` and a `close` each time).
//!
//! - Each address family has [`SOCKETS_PER_FAMILY`] sockets, bound to random source ports; queries
//!   take them in turn.
//! - Queries on one socket are told apart by a random 16-bit id that no other pending query on that
//!   socket holds.
//! - A reply is handed to its query only when its id, the address it came from and its question
//!   (name, type, class) all match (RFC 5452 §4.3); anything else is dropped and counted, and the
//!   query keeps waiting until its own answer or its timeout.
//! - A socket is retired after [`QUERIES_PER_SOCKET`] queries, so an off-path attacker cannot learn
//!   one port and aim at it for long (RFC 5452 §9.2); it closes once its last query is done.
//!
//! Each socket has one reader task, spawned with the socket and aborted when the socket is dropped:
//! one task reading and dispatching costs one wake-up per datagram, where every waiting query
//! reading the socket itself would wake them all.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_resolver::proto::op::Message;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::wire::{HEADER_LEN, Question};

/// Sockets per address family. Four keep each socket's id space sparse (at most
/// [`QUERIES_PER_SOCKET`] ids of 65,536 are ever in use on one) for a few file descriptors.
pub(crate) const SOCKETS_PER_FAMILY: usize = 4;

/// Queries sent on one socket before it is retired and a new random port is taken.
pub(crate) const QUERIES_PER_SOCKET: u32 = 512;

/// The largest UDP payload (65,535 less the IPv4 and UDP headers); nothing larger can arrive.
const MAX_DATAGRAM: usize = 65_507;

/// Why a UDP exchange gave no reply.
#[derive(Debug)]
pub(crate) enum UdpFailure {
    /// No matching reply within the timeout.
    Timeout,
    /// The socket could not be opened or the query not sent.
    Io(io::Error),
}

/// Counters shared with the resolver's statistics.
#[derive(Default)]
pub(crate) struct UdpStats {
    /// Datagrams dropped: unknown id, wrong sender, wrong question, or not a DNS message.
    pub rejected: AtomicU64,
    /// Sockets opened so far.
    pub sockets_opened: AtomicU64,
}

/// The sockets of both families.
#[derive(Default)]
pub(crate) struct UdpPool {
    v4: Slots,
    v6: Slots,
    pub stats: Arc<UdpStats>,
}

#[derive(Default)]
struct Slots {
    sockets: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    open: [Option<Arc<Channel>>; SOCKETS_PER_FAMILY],
    next: usize,
}

impl UdpPool {
    /// Send `query` (already encoded with `id`) to `server` and wait up to `timeout` for the reply
    /// that answers `question`.
    pub(crate) async fn exchange(
        &self,
        server: SocketAddr,
        question: &Question,
        timeout: Duration,
    ) -> Result<Message, UdpFailure> {
        let channel = self.channel(server).map_err(UdpFailure::Io)?;
        let (id, reply) = channel.register(server, question);
        // Dropped on every path out of here (answer, timeout, error, cancellation): the id is freed.
        let _pending = PendingGuard {
            channel: &channel,
            id,
            token: reply.token,
        };
        let query = question
            .encode(id)
            .map_err(|e| UdpFailure::Io(io::Error::other(e.to_string())))?;
        channel
            .shared
            .socket
            .send_to(&query, server)
            .await
            .map_err(UdpFailure::Io)?;
        match tokio::time::timeout(timeout, reply.receiver).await {
            Ok(Ok(message)) => Ok(message),
            // The reader stopped (socket error): as good as no answer.
            Ok(Err(_)) | Err(_) => Err(UdpFailure::Timeout),
        }
    }

    /// The next socket of `server`'s family, opening or replacing one when needed.
    fn channel(&self, server: SocketAddr) -> io::Result<Arc<Channel>> {
        let slots = if server.is_ipv4() { &self.v4 } else { &self.v6 };
        let mut state = lock(&slots.sockets);
        let index = state.next % SOCKETS_PER_FAMILY;
        state.next = state.next.wrapping_add(1);
        let channel = match &state.open[index] {
            Some(c) if c.usable() => c.clone(),
            _ => {
                let fresh = Arc::new(Channel::open(server, self.stats.clone())?);
                self.stats.sockets_opened.fetch_add(1, Ordering::Relaxed);
                // A retired socket lives on until its last pending query is done.
                state.open[index] = Some(fresh.clone());
                fresh
            }
        };
        channel.used.fetch_add(1, Ordering::Relaxed);
        Ok(channel)
    }
}

/// One socket, its pending queries and its reader.
struct Channel {
    shared: Arc<Shared>,
    used: AtomicU32,
    reader: JoinHandle<()>,
}

struct Shared {
    socket: UdpSocket,
    pending: Mutex<Pending>,
    /// Set by the reader when the socket fails for good: the pool replaces it.
    broken: AtomicBool,
    stats: Arc<UdpStats>,
}

#[derive(Default)]
struct Pending {
    by_id: HashMap<u16, Waiter>,
    next_token: u64,
}

/// A query waiting on a socket: what its reply must match, and where to hand it.
struct Waiter {
    server: SocketAddr,
    question: Question,
    token: u64,
    reply: oneshot::Sender<Message>,
}

struct Registration {
    receiver: oneshot::Receiver<Message>,
    token: u64,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Channel {
    fn open(server: SocketAddr, stats: Arc<UdpStats>) -> io::Result<Self> {
        let socket = UdpSocket::from_std(bind_random_port(server)?)?;
        let shared = Arc::new(Shared {
            socket,
            pending: Mutex::new(Pending::default()),
            broken: AtomicBool::new(false),
            stats,
        });
        let reader = tokio::spawn(read_replies(shared.clone()));
        Ok(Channel {
            shared,
            used: AtomicU32::new(0),
            reader,
        })
    }

    /// Not full, not failed, and still read: a reader ends with the runtime it was spawned on, and a
    /// resolver may outlive one runtime (tests, `block_on` in benches) and serve the next.
    fn usable(&self) -> bool {
        self.used.load(Ordering::Relaxed) < QUERIES_PER_SOCKET
            && !self.shared.broken.load(Ordering::Relaxed)
            && !self.reader.is_finished()
    }

    /// A fresh random id no pending query on this socket holds, and the receiver of its reply.
    fn register(&self, server: SocketAddr, question: &Question) -> (u16, Registration) {
        let (sender, receiver) = oneshot::channel();
        let mut pending = lock(&self.shared.pending);
        let id = loop {
            // At most QUERIES_PER_SOCKET of 65,536 ids are taken: this ends at once in practice.
            let id: u16 = rand::random();
            if !pending.by_id.contains_key(&id) {
                break id;
            }
        };
        pending.next_token += 1;
        let token = pending.next_token;
        pending.by_id.insert(
            id,
            Waiter {
                server,
                question: question.clone(),
                token,
                reply: sender,
            },
        );
        (id, Registration { receiver, token })
    }
}

/// Frees a query's id when it stops waiting, unless the id has already been answered and reused.
struct PendingGuard<'c> {
    channel: &'c Channel,
    id: u16,
    token: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut pending = lock(&self.channel.shared.pending);
        if pending
            .by_id
            .get(&self.id)
            .is_some_and(|w| w.token == self.token)
        {
            pending.by_id.remove(&self.id);
        }
    }
}

/// Read datagrams until the socket fails, handing each to the query it answers.
async fn read_replies(shared: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut errors_in_a_row = 0u32;
    loop {
        match shared.socket.recv_from(&mut buf).await {
            Ok((len, from)) => {
                errors_in_a_row = 0;
                if !deliver(&shared, &buf[..len], from) {
                    shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
            // An ICMP error surfacing on the socket says nothing about other queries: keep reading,
            // but a socket that only fails is given up (its queries time out, the pool replaces it).
            Err(_) => {
                errors_in_a_row += 1;
                if errors_in_a_row > 64 {
                    shared.broken.store(true, Ordering::Relaxed);
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Hand `datagram` to the pending query it answers; false when it answers none.
fn deliver(shared: &Shared, datagram: &[u8], from: SocketAddr) -> bool {
    if datagram.len() < HEADER_LEN {
        return false;
    }
    let id = u16::from_be_bytes([datagram[0], datagram[1]]);
    // Cheap checks first: a flood of stray datagrams is not decoded.
    if lock(&shared.pending)
        .by_id
        .get(&id)
        .is_none_or(|w| w.server != from)
    {
        return false;
    }
    let Ok(message) = Message::from_vec(datagram) else {
        return false;
    };
    let mut pending = lock(&shared.pending);
    let matches = pending
        .by_id
        .get(&id)
        .is_some_and(|w| w.server == from && w.question.is_answered_by(&message));
    if !matches {
        return false;
    }
    match pending.by_id.remove(&id) {
        // The query may have just given up: then nobody reads it, which is fine.
        Some(waiter) => {
            let _ = waiter.reply.send(message);
            true
        }
        None => false,
    }
}

/// A UDP socket on a random port of the unspecified address of `server`'s family. Linux already picks
/// bind(0) ports at random, but not every system does, so the port is drawn here (RFC 5452 §10) and
/// the system asked only if a few draws are all in use.
fn bind_random_port(server: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let any = |port| match server {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    };
    let bound = (0..8)
        .find_map(|_| std::net::UdpSocket::bind(any(rand::random_range(1024..=u16::MAX))).ok());
    let socket = match bound {
        Some(s) => s,
        None => std::net::UdpSocket::bind(any(0))?,
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves only plain maps behind: keep using them.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
