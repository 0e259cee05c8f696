//! Typed starters for real servers on free loopback ports. Each waits until ready and stops on drop.

pub mod alertmanager;
pub mod chromium;
pub mod cli;
pub mod daemon;
pub mod dns_relay;
pub mod dovecot;
pub mod hostile_dns;
pub mod https;
pub mod nsd;
pub mod prometheus;
pub mod rbldnsd;

use std::net::{SocketAddr, TcpListener, UdpSocket};

/// A loopback port free for both UDP and TCP at the time of asking.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = udp.local_addr() else { continue };
        if TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Send SIGTERM to a child and wait for it (SIGKILL after 5 s), so daemons that fork workers stop them.
pub fn terminate(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
