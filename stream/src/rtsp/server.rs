//! The RTSP socket side: accept, read one request (plain, or the encrypted framing of `rtspenc://`:
//! a 24-byte header `[0x8000_0000 | len: u32 BE][seq: u32 BE][GCM tag: 16]` then the ciphertext, keyed with
//! the session's `rikey`), answer, close.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lumen_core::crypto::{rtsp as enc, Aes128Gcm, Direction};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::request::{parse_request, Parsed, MAX_BODY_LEN, MAX_HEAD_LEN};
use crate::host::{lock, HostState};

const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts RTSP connections forever (capped per port and per address like nvhttp).
pub async fn serve(state: Arc<HostState>, listener: TcpListener) {
    let limiter = crate::nvhttp::server::limiter("rtsp");
    loop {
        let (stream, peer, _, permit) = crate::nvhttp::server::accept(&listener, &limiter).await;
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tokio::time::timeout(READ_TIMEOUT, connection(&state, stream, peer.ip())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => crate::noise::record(peer.ip(), "RTSP connection failed", &e),
                Err(_) => crate::noise::record(peer.ip(), "RTSP connection timed out", &"idle connection closed"),
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("request: {0}")]
    Parse(#[from] super::request::RtspError),
    #[error("encrypted RTSP: {0}")]
    Crypto(#[from] lumen_core::crypto::CryptoError),
    #[error("{0}")]
    Refused(&'static str),
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ConnError> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(ConnError::Refused("peer closed before sending a whole request"));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

async fn connection(state: &HostState, mut stream: TcpStream, peer: IpAddr) -> Result<(), ConnError> {
    let local = stream.local_addr()?.ip();
    let mut buf = Vec::with_capacity(2048);
    read_more(&mut stream, &mut buf).await?;
    let encrypted = buf[0] & 0x80 != 0;
    let session_key = lock(&state.session).as_ref().map(|s| (s.launch.key.key, s.launch.wants_encrypted_rtsp()));
    let reply = if encrypted {
        let Some((key, _)) = session_key else {
            return Err(ConnError::Refused("encrypted RTSP without a launched session"));
        };
        while buf.len() < enc::HEADER_LEN {
            read_more(&mut stream, &mut buf).await?;
        }
        let header = enc::parse_header(&buf)?;
        if header.len > MAX_HEAD_LEN + MAX_BODY_LEN {
            return Err(ConnError::Refused("encrypted RTSP message too long"));
        }
        while buf.len() < header.total_len() {
            read_more(&mut stream, &mut buf).await?;
        }
        buf.truncate(header.total_len());
        let cipher = Aes128Gcm::new(&key);
        let (_, range) = enc::open_in_place(&cipher, Direction::ClientToHost, &mut buf)?;
        let Parsed::Complete(req, _) = parse_request(&buf[range])? else {
            return Err(ConnError::Refused("encrypted RTSP message holds a partial request"));
        };
        let plain = super::handler::handle(state, peer, local, &req, true);
        let seq = {
            let mut s = lock(&state.session);
            match s.as_mut() {
                Some(live) => {
                    live.rtsp_host_seq = live.rtsp_host_seq.wrapping_add(1);
                    live.rtsp_host_seq
                }
                None => 1,
            }
        };
        let mut out = vec![0u8; enc::HEADER_LEN + plain.len()];
        out[enc::HEADER_LEN..].copy_from_slice(&plain);
        let n = enc::seal_in_place(&cipher, seq, Direction::HostToClient, &mut out, plain.len())?;
        out.truncate(n);
        out
    } else {
        if matches!(session_key, Some((_, true))) {
            return Err(ConnError::Refused("plaintext RTSP on an encrypted session"));
        }
        let req = loop {
            match parse_request(&buf)? {
                Parsed::Complete(req, _) => break req,
                Parsed::Incomplete => read_more(&mut stream, &mut buf).await?,
            }
        };
        super::handler::handle(state, peer, local, &req, false)
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await?;
    Ok(())
}
