//! Accept loops of the HTTP and HTTPS ports: each connection is served by hyper (HTTP/1.1, one request per
//! connection as Sunshine does); for HTTPS the client certificate from the TLS handshake travels with the
//! connection to the handlers. Connections are capped per port and per address ([`ConnLimiter`]), and one
//! that does not send its request head (or finish its TLS handshake) within [`HEADER_TIMEOUT`] is closed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::host::HostState;
use crate::net_guard::{per_port_cap, ConnLimiter, ConnPermit, HEADER_TIMEOUT, PER_ADDRESS};

/// TCP listeners of the host (HTTP, HTTPS, RTSP): the file limit is shared between them.
const TCP_PORTS: u64 = 3;

/// The connection caps of one TCP port of the host.
pub fn limiter(name: &'static str) -> ConnLimiter {
    ConnLimiter::new(name, per_port_cap(TCP_PORTS), PER_ADDRESS)
}

/// What the handlers know about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: bool,
    /// The client certificate (DER) presented in the TLS handshake.
    pub client_der: Option<Vec<u8>>,
}

async fn serve_conn<I>(state: Arc<HostState>, io: I, info: Arc<ConnInfo>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let state = state.clone();
        let info = info.clone();
        async move { Ok::<_, Infallible>(super::handlers::handle(&state, &info, req).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(false)
        .serve_connection(io, svc)
        .await
    {
        tracing::debug!(error = %e, "nvhttp connection ended with an error");
    }
}

/// Accepts the next connection the caps admit; the others are closed at once (counted, not logged each).
pub async fn accept(
    listener: &TcpListener,
    limiter: &ConnLimiter,
) -> (tokio::net::TcpStream, SocketAddr, SocketAddr, ConnPermit) {
    loop {
        match listener.accept().await {
            Ok((s, peer)) => {
                let permit = match limiter.admit(peer.ip()) {
                    Ok(p) => p,
                    Err(why) => {
                        crate::noise::record(
                            peer.ip(),
                            "connection over the cap",
                            &format_args!("{}: {why}", limiter.name()),
                        );
                        drop(s);
                        continue;
                    }
                };
                match s.local_addr() {
                    Ok(local) => return (s, peer, local, permit),
                    Err(e) => tracing::warn!(error = %e, "accepted socket has no local address"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, port = limiter.name(), held = limiter.held(), "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves plain HTTP (pairing stages 1–4, `/serverinfo`, `/unpair`).
pub async fn serve_http(state: Arc<HostState>, listener: TcpListener) {
    let limiter = limiter("http");
    loop {
        let (stream, peer, local, permit) = accept(&listener, &limiter).await;
        let info = Arc::new(ConnInfo { peer, local, tls: false, client_der: None });
        let state = state.clone();
        tokio::spawn(async move {
            serve_conn(state, TokioIo::new(stream), info).await;
            drop(permit);
        });
    }
}

/// The TLS handshake of an accepted connection, within [`HEADER_TIMEOUT`]; a failure is counted as noise
/// of its source and gives `None`.
pub async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            crate::noise::record(peer.ip(), "TLS handshake failed", &e);
            None
        }
        Err(_) => {
            crate::noise::record(peer.ip(), "TLS handshake timed out", &"idle connection closed");
            None
        }
    }
}

/// Serves HTTPS with the host certificate, requesting a client certificate.
pub async fn serve_https(state: Arc<HostState>, listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let limiter = limiter("https");
    loop {
        let (stream, peer, local, permit) = accept(&listener, &limiter).await;
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(tls_stream) = handshake(&acceptor, stream, peer).await else { return };
            let client_der = tls_stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
            let info = Arc::new(ConnInfo { peer, local, tls: true, client_der });
            serve_conn(state, TokioIo::new(tls_stream), info).await;
        });
    }
}
