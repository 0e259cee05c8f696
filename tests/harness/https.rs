//! A loopback HTTPS server for MTA-STS policies, with a test CA made by `openssl` (Debian package
//! `openssl`) in a temporary directory.
//!
//! One server answers for many host names: the certificate is chosen by SNI (a name without its own
//! certificate gets the default one), the reply by the `Host` header. It speaks just enough HTTP/1.1 for
//! one GET per connection, which is all a policy fetch does, and records the hosts it was asked for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// A certificate authority for one test, made with openssl.
pub struct TestCa {
    dir: tempfile::TempDir,
    root_pem: Vec<u8>,
    issued: Mutex<u32>,
}

/// A leaf certificate and its key, PEM.
#[derive(Clone)]
pub struct Leaf {
    /// The certificate.
    pub cert_pem: Vec<u8>,
    /// Its private key (PKCS#8).
    pub key_pem: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl TestCa {
    /// A fresh CA (ECDSA P-256, valid for three days).
    pub fn new(name: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("ca.cnf"),
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {name}\n\
                 [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
                 subjectKeyIdentifier = hash\n"
            ),
        )
        .unwrap();
        let mut args = vec![
            "req",
            "-x509",
            "-new",
            "-config",
            "ca.cnf",
            "-extensions",
            "v3_ca",
        ];
        args.extend(EC_KEY);
        args.extend([
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3",
        ]);
        openssl(dir.path(), &args);
        let root_pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
        TestCa {
            dir,
            root_pem,
            issued: Mutex::new(0),
        }
    }

    /// The CA certificate, to trust in the client.
    pub fn root_pem(&self) -> &[u8] {
        &self.root_pem
    }

    /// A server certificate for `names` (subjectAltName DNS entries).
    pub fn issue(&self, names: &[&str]) -> Leaf {
        let n = {
            let mut issued = self.issued.lock().unwrap();
            *issued += 1;
            *issued
        };
        let d = self.dir.path();
        let (key, csr, cert, ext) = (
            format!("leaf{n}.key"),
            format!("leaf{n}.csr"),
            format!("leaf{n}.pem"),
            format!("leaf{n}.ext"),
        );
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            d.join(&ext),
            format!(
                "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
                 extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\nsubjectAltName = {}\n",
                san.join(",")
            ),
        )
        .unwrap();
        let subject = format!("/CN={}", names.first().copied().unwrap_or("leaf"));
        let mut args = vec!["req", "-new"];
        args.extend(EC_KEY);
        args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(d, &args);
        let serial = format!("{n}");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        Leaf {
            cert_pem: std::fs::read(d.join(&cert)).unwrap(),
            key_pem: std::fs::read(d.join(&key)).unwrap(),
        }
    }
}

/// What the server answers for one host.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: bool,
    stall: bool,
}

impl Reply {
    /// 200 with `text/plain` and this body.
    pub fn policy(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            content_length: true,
            stall: false,
        }
    }

    /// An empty reply with this status.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
            stall: false,
        }
    }

    /// Accept the connection and the request, then never answer.
    pub fn stall() -> Reply {
        Reply {
            stall: true,
            ..Reply::status(200)
        }
    }

    /// Replace the body.
    pub fn body(mut self, body: Vec<u8>) -> Reply {
        self.body = body;
        self
    }

    /// Add (or, for Content-Type, replace) a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Send no Content-Length: the body ends when the connection closes.
    pub fn without_length(mut self) -> Reply {
        self.content_length = false;
        self
    }
}

#[derive(Debug)]
struct BySni {
    default: Arc<CertifiedKey>,
    named: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().map(str::to_ascii_lowercase);
        Some(
            name.and_then(|n| self.named.get(&n).cloned())
                .unwrap_or_else(|| self.default.clone()),
        )
    }
}

fn certified(leaf: &Leaf, provider: &rustls::crypto::CryptoProvider) -> Arc<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&leaf.cert_pem)
        .collect::<Result<_, _>>()
        .expect("leaf certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(&leaf.key_pem).expect("leaf key PEM");
    Arc::new(CertifiedKey::from_der(chain, key, provider).expect("certificate and key match"))
}

/// A running HTTPS server on 127.0.0.1; stopped when dropped.
pub struct HttpsServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpsServer {
    /// Serve `replies` (by host name) with `default` as certificate, except for the names in
    /// `certificates`. Hosts without a reply get 404.
    pub async fn start(
        default: &Leaf,
        certificates: &[(&str, &Leaf)],
        replies: &[(&str, Reply)],
    ) -> HttpsServer {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let resolver = BySni {
            default: certified(default, &provider),
            named: certificates
                .iter()
                .map(|(n, l)| (n.to_ascii_lowercase(), certified(l, &provider)))
                .collect(),
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let replies: Arc<HashMap<String, Reply>> = Arc::new(
            replies
                .iter()
                .map(|(h, r)| (h.to_ascii_lowercase(), r.clone()))
                .collect(),
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, replies, seen) = (acceptor.clone(), replies.clone(), seen.clone());
                tokio::spawn(async move {
                    // A failed handshake is what some tests want (untrusted certificate): just drop it.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Some(host) = read_request_host(&mut tls).await else {
                        return;
                    };
                    seen.lock().unwrap().push(host.clone());
                    let reply = replies.get(&host).cloned().unwrap_or(Reply::status(404));
                    if reply.stall {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    let _ = tls.write_all(&render(&reply)).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        HttpsServer {
            addr,
            requests,
            task,
        }
    }

    /// The port it listens on (point `PolicyFetcher::with_port` here).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The `Host` of every request received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Read the request head (at most 16 KiB) and return its Host, lower-case and without a port.
async fn read_request_host<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("host").then(|| {
            let host = value.trim();
            host.split(':').next().unwrap_or(host).to_ascii_lowercase()
        })
    })
}

fn render(reply: &Reply) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} Test\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.content_length {
        out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&reply.body);
    bytes
}
