//! Reaching the server: TCP, then TLS from the first byte (RFC 8314 §3.2) or after `STARTTLS`
//! (RFC 3501 §6.2.1), or neither on loopback; then `LOGIN`. Certificates are checked against the
//! system's roots and the `ca_file` ones, for the configured host name. The password goes only
//! into the `LOGIN` command, never into a log line or an error.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::settings::{ExtraRoot, ImapSettings, TlsMode};
use crate::ingest::metrics::SessionEnd;

/// Why a session could not start or ended.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The TCP connection could not be made, or broke.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// TLS could not be set up (handshake, certificate, name, a refused STARTTLS).
    #[error("TLS with {host}: {message}")]
    Tls {
        /// The host.
        host: String,
        /// What failed.
        message: String,
    },
    /// The server refused the login (the password is not in the message).
    #[error("login as {user:?} refused: {message}")]
    Login {
        /// The login name.
        user: String,
        /// The server's answer.
        message: String,
    },
    /// A folder could not be selected or created.
    #[error("folder {folder:?}: {message}")]
    Mailbox {
        /// The folder.
        folder: String,
        /// The server's answer.
        message: String,
    },
    /// A command failed or the server answered something unexpected.
    #[error("{what}: {source}")]
    Protocol {
        /// The command.
        what: &'static str,
        /// The client's error.
        #[source]
        source: async_imap::error::Error,
    },
    /// No answer in time.
    #[error("{what}: no answer within {} s", .after.as_secs())]
    Timeout {
        /// The command.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The source was stopped on purpose.
    #[error("stopped")]
    Closed,
}

impl ImapError {
    /// The `result` label of `senderscope_imap_sessions_total`.
    pub fn end(&self) -> SessionEnd {
        match self {
            ImapError::Connect { .. } => SessionEnd::Connect,
            ImapError::Tls { .. } => SessionEnd::Tls,
            ImapError::Login { .. } => SessionEnd::Login,
            ImapError::Mailbox { .. } => SessionEnd::Mailbox,
            ImapError::Protocol { .. } => SessionEnd::Protocol,
            ImapError::Timeout { .. } => SessionEnd::Timeout,
            ImapError::Closed => SessionEnd::Closed,
        }
    }
}

/// Run `fut` within `after`, naming the command when it times out.
pub async fn timed<T>(
    what: &'static str,
    after: Duration,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(after, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(ImapError::Protocol { what, source }),
        Err(_) => Err(ImapError::Timeout { what, after }),
    }
}

/// The connection under the IMAP client: TLS, or plain TCP (loopback only, and the few bytes before
/// STARTTLS).
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A logged-in session.
pub type ImapSession = Session<Transport>;

/// Connect, protect the connection as configured, read the greeting and log in.
pub async fn login(settings: &ImapSettings) -> Result<ImapSession, ImapError> {
    let addr = format!("{}:{}", settings.host, settings.port);
    let tcp = match tokio::time::timeout(
        settings.timeout,
        TcpStream::connect((settings.host.as_str(), settings.port)),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(source)) => return Err(ImapError::Connect { addr, source }),
        Err(_) => {
            return Err(ImapError::Timeout {
                what: "connecting",
                after: settings.timeout,
            });
        }
    };
    let client = match settings.tls {
        TlsMode::Implicit => {
            let tls = handshake(settings, tcp).await?;
            let mut client = Client::new(Transport::Tls(Box::new(tls)));
            greeting(&mut client, settings.timeout).await?;
            client
        }
        TlsMode::StartTls => {
            let mut client = Client::new(Transport::Plain(tcp));
            greeting(&mut client, settings.timeout).await?;
            timed(
                "STARTTLS",
                settings.timeout,
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            .map_err(|e| ImapError::Tls {
                host: settings.host.clone(),
                message: format!(
                    "the server did not accept STARTTLS ({e}); refusing to log in without TLS"
                ),
            })?;
            // Whatever the server sent after its STARTTLS answer is dropped with the client's
            // buffer (RFC 3207 §4.2 for SMTP, the same command-injection fix for IMAP): only the
            // socket is kept. RFC 3501 §6.2.1: no greeting follows the handshake.
            let Transport::Plain(tcp) = client.into_inner() else {
                return Err(ImapError::Tls {
                    host: settings.host.clone(),
                    message: "STARTTLS on a connection that already has TLS".into(),
                });
            };
            let tls = handshake(settings, tcp).await?;
            Client::new(Transport::Tls(Box::new(tls)))
        }
        TlsMode::None => {
            let mut client = Client::new(Transport::Plain(tcp));
            greeting(&mut client, settings.timeout).await?;
            client
        }
    };
    match tokio::time::timeout(
        settings.timeout,
        client.login(&settings.username, settings.password.expose()),
    )
    .await
    {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(ImapError::Login {
            user: settings.username.clone(),
            message: e.to_string(),
        }),
        Err(_) => Err(ImapError::Timeout {
            what: "LOGIN",
            after: settings.timeout,
        }),
    }
}

/// RFC 3501 §7.1: the server speaks first, with OK (or PREAUTH); BYE means it will not serve us.
async fn greeting(client: &mut Client<Transport>, after: Duration) -> Result<(), ImapError> {
    let response = match tokio::time::timeout(after, client.read_response()).await {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => {
            return Err(ImapError::Protocol {
                what: "greeting",
                source: async_imap::error::Error::ConnectionLost,
            });
        }
        Ok(Err(e)) => {
            return Err(ImapError::Protocol {
                what: "greeting",
                source: e.into(),
            });
        }
        Err(_) => {
            return Err(ImapError::Timeout {
                what: "greeting",
                after,
            });
        }
    };
    match response.parsed() {
        async_imap::imap_proto::Response::Data {
            status: async_imap::imap_proto::Status::Bye,
            outcome,
        } => Err(ImapError::Protocol {
            what: "greeting",
            source: async_imap::error::Error::No(
                outcome.information.as_deref().unwrap_or("BYE").to_owned(),
            ),
        }),
        _ => Ok(()),
    }
}

/// The TLS handshake, the certificate checked for the configured host.
async fn handshake(
    settings: &ImapSettings,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ImapError> {
    let tls_error = |message: String| ImapError::Tls {
        host: settings.host.clone(),
        message,
    };
    let config = client_config(&settings.extra_roots).map_err(tls_error)?;
    let name = ServerName::try_from(
        settings
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|e| tls_error(format!("not a name for a certificate: {e}")))?;
    match tokio::time::timeout(
        settings.timeout,
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
    {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(tls_error(e.to_string())),
        Err(_) => Err(ImapError::Timeout {
            what: "TLS handshake",
            after: settings.timeout,
        }),
    }
}

/// rustls on aws-lc with the system's roots and the configured extra ones.
fn client_config(extra: &[ExtraRoot]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    // Certificates of the system store that rustls cannot read are skipped, as browsers do.
    let native = rustls_native_certs::load_native_certs();
    let (system, _) = roots.add_parsable_certificates(native.certs);
    for root in extra {
        roots
            .add(CertificateDer::from(root.0.clone()))
            .map_err(|e| format!("a ca_file certificate is not usable: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "no trusted root certificates: none in the system store ({system} read) and no ca_file"
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
