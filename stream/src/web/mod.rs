//! The admin web page (`docs/admin.md`): HTTPS on BASE+1 (loopback by default) with the host certificate,
//! served by hyper like nvhttp. [`routes`] answers the requests: the embedded page, login, and the JSON API
//! whose requests are the admin socket's ([`crate::admin`]), so the page and the CLI run the same code.

pub mod auth;
pub mod routes;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use crate::host::HostState;
use crate::identity::HostIdentity;
use crate::net_guard::{ConnLimiter, HEADER_TIMEOUT};

/// Where the page listens by default: loopback only.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Connections the page takes at once (browsers open a few each).
const MAX_CONNECTIONS: usize = 64;
const PER_ADDRESS: usize = 16;
/// The longest a browser connection is kept.
const MAX_CONN_LIFE: Duration = Duration::from_secs(600);

/// The page's shared state (logins, failed-login records).
#[derive(Default)]
pub struct WebState {
    pub auth: Mutex<auth::WebAuth>,
}

/// Where the admin page listens, if it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebOptions {
    pub addr: SocketAddr,
}

/// TLS for the page: the host certificate, no client certificate asked for (a browser would prompt).
pub fn tls_config(identity: &HostIdentity) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(identity.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_pkcs8_der.clone())),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves the page forever.
pub async fn serve(state: Arc<HostState>, listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let limiter = ConnLimiter::new("admin-web", MAX_CONNECTIONS, PER_ADDRESS);
    loop {
        let (stream, peer, _local, permit) = crate::nvhttp::server::accept(&listener, &limiter).await;
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(tls_stream) = crate::nvhttp::server::handshake(&acceptor, stream, peer).await else { return };
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(routes::handle(&state, peer, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tls_stream), svc);
            // A kept-alive browser connection lives at most this long (the browser opens a new one).
            if let Ok(Err(e)) = tokio::time::timeout(MAX_CONN_LIFE, conn).await {
                tracing::debug!(error = %e, "admin page connection ended with an error");
            }
        });
    }
}
