//! Accept loops of the HTTP and HTTPS ports: each connection is served by hyper (HTTP/1.1, keep-alive);
//! for HTTPS the client certificate from the TLS handshake travels with the connection to the handlers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::host::HostState;

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
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(io, svc)
        .await
    {
        tracing::debug!(error = %e, "nvhttp connection ended with an error");
    }
}

async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, SocketAddr, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((s, peer)) => match s.local_addr() {
                Ok(local) => return (s, peer, local),
                Err(e) => tracing::warn!(error = %e, "accepted socket has no local address"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves plain HTTP (pairing stages 1–4, `/serverinfo`, `/unpair`).
pub async fn serve_http(state: Arc<HostState>, listener: TcpListener) {
    loop {
        let (stream, peer, local) = accept(&listener).await;
        let info = Arc::new(ConnInfo { peer, local, tls: false, client_der: None });
        tokio::spawn(serve_conn(state.clone(), TokioIo::new(stream), info));
    }
}

/// Serves HTTPS with the host certificate, requesting a client certificate.
pub async fn serve_https(state: Arc<HostState>, listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer, local) = accept(&listener).await;
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls_stream = match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let client_der = tls_stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
            let info = Arc::new(ConnInfo { peer, local, tls: true, client_der });
            serve_conn(state, TokioIo::new(tls_stream), info).await;
        });
    }
}
