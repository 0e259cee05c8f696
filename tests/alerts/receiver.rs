//! A webhook receiver on a free loopback port: answers each request with the next status of its
//! script (then 200), and keeps every request body it read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running receiver (its thread ends with the test process).
pub struct Receiver {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<(u16, String)>>>,
}

impl Receiver {
    /// Answer the first requests with `script`'s statuses, every later one with 200.
    pub fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let bodies: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
        let seen = bodies.clone();
        let mut script: std::collections::VecDeque<u16> = script.iter().copied().collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_request(&mut stream) else {
                    continue;
                };
                let status = script.pop_front().unwrap_or(200);
                seen.lock().unwrap().push((status, body));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Receiver { addr, bodies }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook?token=s3cr3t-token", self.addr)
    }

    /// Every request so far: the status answered and the body.
    pub fn requests(&self) -> Vec<(u16, String)> {
        self.bodies.lock().unwrap().clone()
    }

    /// Wait until `pred` holds over the requests (at most `within`).
    pub fn wait_for(
        &self,
        within: Duration,
        pred: impl Fn(&[(u16, String)]) -> bool,
    ) -> Vec<(u16, String)> {
        let deadline = Instant::now() + within;
        loop {
            let r = self.requests();
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got the expected requests; got {r:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Read one HTTP/1.1 request with a Content-Length body; its body.
fn read_request(stream: &mut std::net::TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}
