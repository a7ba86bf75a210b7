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

/// Which session an encrypted message belongs to: the one whose `rikey` opens it (exactly one GCM tag
/// verifies). Returns the session and the plaintext range in `buf` (decrypted in place).
fn open_for_session(state: &HostState, buf: &mut Vec<u8>) -> Result<(u64, std::ops::Range<usize>), ConnError> {
    let keys: Vec<(u64, [u8; 16])> = lock(&state.sessions)
        .iter()
        .filter(|s| s.launch.wants_encrypted_rtsp())
        .map(|s| (s.generation, s.launch.key.key))
        .collect();
    if keys.is_empty() {
        return Err(ConnError::Refused("encrypted RTSP without a launched session"));
    }
    let mut trial = Vec::with_capacity(buf.len());
    for (generation, key) in keys {
        trial.clear();
        trial.extend_from_slice(buf);
        let cipher = Aes128Gcm::new(&key);
        if let Ok((_, range)) = enc::open_in_place(&cipher, Direction::ClientToHost, &mut trial) {
            std::mem::swap(buf, &mut trial);
            return Ok((generation, range));
        }
    }
    Err(ConnError::Refused("encrypted RTSP that no session's key opens"))
}

async fn connection(state: &Arc<HostState>, mut stream: TcpStream, peer: IpAddr) -> Result<(), ConnError> {
    let local = stream.local_addr()?.ip();
    let mut buf = Vec::with_capacity(2048);
    read_more(&mut stream, &mut buf).await?;
    let encrypted = buf[0] & 0x80 != 0;
    let reply = if encrypted {
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
        let (generation, range) = open_for_session(state, &mut buf)?;
        let Parsed::Complete(req, _) = parse_request(&buf[range])? else {
            return Err(ConnError::Refused("encrypted RTSP message holds a partial request"));
        };
        let handled = super::handler::handle(state, generation, peer, local, &req, true);
        let plain = finish(state, handled).await;
        let (key, seq) = {
            let mut t = lock(&state.sessions);
            match t.by_id(generation) {
                Some(live) => {
                    live.rtsp_host_seq = live.rtsp_host_seq.wrapping_add(1);
                    (live.launch.key.key, live.rtsp_host_seq)
                }
                None => return Err(ConnError::Refused("the session ended during the request")),
            }
        };
        let cipher = Aes128Gcm::new(&key);
        let mut out = vec![0u8; enc::HEADER_LEN + plain.len()];
        out[enc::HEADER_LEN..].copy_from_slice(&plain);
        let n = enc::seal_in_place(&cipher, seq, Direction::HostToClient, &mut out, plain.len())?;
        out.truncate(n);
        out
    } else {
        let req = loop {
            match parse_request(&buf)? {
                Parsed::Complete(req, _) => break req,
                Parsed::Incomplete => read_more(&mut stream, &mut buf).await?,
            }
        };
        let candidate = lock(&state.sessions).rtsp_candidates(peer).first().copied();
        let Some(generation) = candidate else {
            tracing::warn!(%peer, method = req.method, "RTSP request without a launched session");
            let reply = super::request::response(454, "Session Not Found", req.cseq(), &[], b"");
            stream.write_all(&reply).await?;
            stream.shutdown().await?;
            return Ok(());
        };
        let wants_encrypted = lock(&state.sessions).by_id(generation).is_some_and(|s| s.launch.wants_encrypted_rtsp());
        if wants_encrypted {
            return Err(ConnError::Refused("plaintext RTSP on an encrypted session"));
        }
        let handled = super::handler::handle(state, generation, peer, local, &req, false);
        finish(state, handled).await
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await?;
    Ok(())
}

/// Carries out what the handler asked for: a reply as is, or PLAY — the old stream stopped and the media
/// plane started on a blocking thread (it joins threads and may wait for a worker), outside the lock.
async fn finish(state: &Arc<HostState>, handled: super::handler::Handled) -> Vec<u8> {
    let job = match handled {
        super::handler::Handled::Reply(r) => return r,
        super::handler::Handled::Play(job) => job,
    };
    let st = state.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let super::handler::PlayJob { session, start, old, cseq, session_id } = *job;
        if let Some(mut old) = old {
            old.stop(crate::media_plane::EndReason::Replaced);
        }
        let peer = start.client_ip;
        let started = match st.media.start(start) {
            Ok(m) => {
                let mut t = lock(&st.sessions);
                match t.by_id(session) {
                    Some(live) => {
                        live.media = Some(m);
                        live.media_ended = None;
                        live.last_active = std::time::Instant::now();
                        tracing::info!(%peer, session, "media session started (PLAY)");
                        true
                    }
                    None => {
                        drop(t);
                        let mut m = m;
                        m.stop(crate::media_plane::EndReason::Cancelled);
                        false
                    }
                }
            }
            Err(e) => {
                tracing::error!(%peer, session, error = %format!("{e:#}"), "the media plane failed to start");
                false
            }
        };
        super::handler::play_reply(cseq.as_deref(), session_id.as_deref(), started)
    })
    .await;
    joined.unwrap_or_else(|_| super::request::response(500, "Internal Server Error", None, &[], b""))
}
