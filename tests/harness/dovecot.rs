//! A real Dovecot (Debian `dovecot-imapd`) on loopback: a config, a passwd-file with one user and a
//! maildir, all in a temporary directory; TLS with a certificate from a test CA made by `openssl`
//! when asked. Started in the foreground (`dovecot -F`), ready when it greets on its port, stopped
//! by its PID when dropped.
//!
//! Run as root (the CI container), mail is owned by `nobody` (Dovecot refuses uid 0 for mail);
//! otherwise by the user running the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_imap::Session;
use futures::TryStreamExt;
use tokio::net::TcpStream;

use super::free_port;
use super::https::TestCa;

/// The mail user every test logs in as.
pub const USER: &str = "dmarc@example.test";
/// Its password.
pub const PASSWORD: &str = "s3cret-imap-pw";

/// What kind of server to start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A certificate (for `localhost`), implicit TLS on a second port, STARTTLS on the first.
    pub tls: bool,
    /// Replace the capabilities Dovecot advertises after login (e.g. without MOVE and IDLE, to
    /// test the fallbacks). `None`: Dovecot's own list.
    pub capabilities: Option<String>,
}

/// A running Dovecot.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Child,
    /// Plain IMAP (STARTTLS offered when `tls`).
    pub port: u16,
    /// Implicit TLS (`tls` only).
    pub tls_port: Option<u16>,
    _ca: Option<TestCa>,
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Dovecot {
    /// Start one and wait until it greets.
    pub fn start(options: Options) -> Dovecot {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let root = id("-u") == "0";
        let (uid, gid, internal, login) = if root {
            (
                "65534".to_owned(),
                "65534".to_owned(),
                "dovecot".to_owned(),
                "dovenull".to_owned(),
            )
        } else {
            let me = id("-un");
            (id("-u"), id("-g"), me.clone(), me)
        };
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        // The mail processes run as `uid`: they must reach the maildir through the temp dir.
        Command::new("chmod").arg("755").arg(d).status().unwrap();
        if root {
            Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(d.join("mail"))
                .status()
                .unwrap();
        }
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = free_port();
        let mut ssl = "ssl = no\n".to_owned();
        let mut tls_listener = String::new();
        let (ca, tls_port) = if options.tls {
            let ca = TestCa::new("senderscope dovecot test CA");
            let leaf = ca.issue(&["localhost"]);
            std::fs::write(d.join("cert.pem"), &leaf.cert_pem).unwrap();
            std::fs::write(d.join("key.pem"), &leaf.key_pem).unwrap();
            std::fs::write(d.join("ca.pem"), ca.root_pem()).unwrap();
            ssl = format!(
                "ssl = yes\nssl_cert = <{0}/cert.pem\nssl_key = <{0}/key.pem\n",
                d.display()
            );
            let tls_port = free_port();
            tls_listener = format!(
                "  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes\n  }}\n"
            );
            (Some(ca), Some(tls_port))
        } else {
            (None, None)
        };
        let capability = options
            .capabilities
            .map(|c| format!("imap_capability = {c}\n"))
            .unwrap_or_default();
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\ninstance_name = senderscope-test-{port}\n\
             listen = 127.0.0.1\nprotocols = imap\n{ssl}disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nlog_path = {d}/dovecot.log\n\
             mail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 1\n\
             default_internal_user = {internal}\ndefault_login_user = {login}\n{capability}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/mail/%u\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n{tls_listener}}}\n\
             service anvil {{\n  chroot =\n}}\n",
            d = d.display()
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot runs (apt-get install dovecot-imapd)");
        let server = Dovecot {
            dir,
            child,
            port,
            tls_port,
            _ca: ca,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::Read;
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 256];
                if let Ok(n) = s.read(&mut buf)
                    && buf[..n].starts_with(b"* OK")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not greet on port {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The test CA's certificate (PEM file), for `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A file holding the password, for `password_file`.
    pub fn password_file(&self, dir: &Path) -> PathBuf {
        let p = dir.join("imap-password");
        std::fs::write(&p, format!("{PASSWORD}\n")).unwrap();
        p
    }

    /// A plain-text session (loopback) for the test's own checks.
    pub async fn client(&self) -> Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        super::terminate(&mut self.child);
    }
}

/// Append `message` to `folder`.
pub async fn append(session: &mut Session<TcpStream>, folder: &str, message: &[u8]) {
    session.append(folder, None, None, message).await.unwrap();
}

/// The Message-IDs (or, without one, the Subjects) of the messages in `folder`, in UID order;
/// empty when the folder does not exist.
pub async fn headers(session: &mut Session<TcpStream>, folder: &str) -> Vec<String> {
    if session.select(folder).await.is_err() {
        return Vec::new();
    }
    let uids = session.uid_search("ALL").await.unwrap();
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    let mut out = Vec::new();
    for uid in uids {
        let fetches: Vec<_> = session
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[HEADER])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let text: String = fetches
            .iter()
            .filter_map(|f| f.header())
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let field = |name: &str| {
            text.lines()
                .find(|l| l.to_ascii_lowercase().starts_with(name))
                .map(|l| l[name.len()..].trim().to_owned())
        };
        out.push(
            field("message-id:")
                .or_else(|| field("subject:"))
                .unwrap_or_default(),
        );
    }
    // Leave nothing selected, so the test's session never holds the folder open.
    let _ = session.close().await;
    out
}
