//! The TCP fallback for answers too long for UDP (RFC 7766 §5: a truncated UDP reply is asked again
//! over TCP). One connection per query: truncation is rare (long TXT records), so pooling buys nothing.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::op::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::wire::{HEADER_LEN, Question};

/// Why a TCP exchange gave no answer.
#[derive(Debug)]
pub(crate) enum TcpFailure {
    /// No complete answer within the timeout.
    Timeout,
    /// The connection failed, or the server sent something that is not the answer.
    Io(io::Error),
}

/// Ask `question` over a new TCP connection to `server`, all within `timeout`.
pub(crate) async fn exchange(
    server: SocketAddr,
    question: &Question,
    timeout: Duration,
) -> Result<Message, TcpFailure> {
    match tokio::time::timeout(timeout, ask(server, question)).await {
        Ok(result) => result.map_err(TcpFailure::Io),
        Err(_) => Err(TcpFailure::Timeout),
    }
}

async fn ask(server: SocketAddr, question: &Question) -> io::Result<Message> {
    let id: u16 = rand::random();
    let query = question
        .encode(id)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let len = u16::try_from(query.len()).map_err(|_| io::Error::other("query too long"))?;
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    // RFC 1035 §4.2.2: each message is prefixed with its length as two octets.
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&query);
    stream.write_all(&framed).await?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await?;
    let reply_len = usize::from(u16::from_be_bytes(prefix));
    if reply_len < HEADER_LEN {
        return Err(io::Error::other(format!(
            "a {reply_len}-byte reply over TCP is shorter than a DNS header"
        )));
    }
    let mut reply = vec![0u8; reply_len];
    stream.read_exact(&mut reply).await?;
    let message = Message::from_vec(&reply)
        .map_err(|e| io::Error::other(format!("malformed reply over TCP: {e}")))?;
    if message.metadata.id != id || !question.is_answered_by(&message) {
        return Err(io::Error::other(
            "the reply over TCP does not answer the question asked",
        ));
    }
    Ok(message)
}
