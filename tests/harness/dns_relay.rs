//! [`CountingRelay`]: forwards UDP and TCP queries to a real server (nsd) and counts them, so a test
//! asserts how many queries a check sent, measured at the server side.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::{free_port, loopback};

/// A relay in front of `upstream` counting the queries it forwards. Stops when dropped.
pub struct CountingRelay {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CountingRelay {
    /// Relay UDP and TCP on a free loopback port to `upstream`.
    pub fn start(upstream: SocketAddr) -> CountingRelay {
        let addr = loopback(free_port());
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let udp = UdpSocket::bind(addr).expect("bind relay UDP");
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("UDP timeout");
        let tcp = TcpListener::bind(addr).expect("bind relay TCP");
        tcp.set_nonblocking(true).expect("nonblocking TCP");
        {
            let (queries, stop) = (queries.clone(), stop.clone());
            std::thread::spawn(move || relay_udp(udp, upstream, &queries, &stop));
        }
        {
            let (queries, stop) = (queries.clone(), stop.clone());
            std::thread::spawn(move || relay_tcp(tcp, upstream, queries, &stop));
        }
        CountingRelay {
            addr,
            queries,
            stop,
        }
    }

    /// Where clients should send their queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries relayed so far (UDP datagrams and TCP messages).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for CountingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn relay_udp(socket: UdpSocket, upstream: SocketAddr, queries: &AtomicUsize, stop: &AtomicBool) {
    let mut buf = [0u8; 65_535];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        let query = buf[..n].to_vec();
        let Ok(reply_to) = socket.try_clone() else {
            continue;
        };
        std::thread::spawn(move || {
            let Ok(up) = UdpSocket::bind("127.0.0.1:0") else {
                return;
            };
            let _ = up.set_read_timeout(Some(Duration::from_secs(3)));
            if up.send_to(&query, upstream).is_err() {
                return;
            }
            let mut answer = [0u8; 65_535];
            if let Ok(n) = up.recv(&mut answer) {
                let _ = reply_to.send_to(&answer[..n], client);
            }
        });
    }
}

fn relay_tcp(
    listener: TcpListener,
    upstream: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = client.set_nonblocking(false);
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        let counter = queries.clone();
        std::thread::spawn(move || {
            // Client → server, one length-prefixed message at a time (RFC 1035 §4.2.2).
            let mut len = [0u8; 2];
            while c_read.read_exact(&mut len).is_ok() {
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if c_read.read_exact(&mut msg).is_err() {
                    break;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                if s_write.write_all(&len).is_err() || s_write.write_all(&msg).is_err() {
                    break;
                }
            }
            let _ = s_write.shutdown(Shutdown::Write);
        });
        let (mut s_read, mut c_write) = (server, client);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s_read, &mut c_write);
            let _ = c_write.shutdown(Shutdown::Both);
        });
    }
}
