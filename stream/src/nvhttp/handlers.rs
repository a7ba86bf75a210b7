//! The nvhttp request handlers.
//!
//! HTTP carries `/serverinfo`, `/pair` stages 1–4 and `/unpair`; HTTPS carries everything, and the
//! app endpoints (`/applist`, `/appasset`, `/launch`, `/resume`, `/cancel`) and pairing stage 5 admit only
//! a client certificate that is byte-for-byte in the paired store.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::query::{parse_query, Query};
use super::server::ConnInfo;
use super::xml::XmlReply;
use crate::host::{lock, HostState};
use crate::launch::LaunchRecord;
use crate::media_plane::EndReason;
use crate::pairing::PairingAttempt;
use crate::session::LiveSession;
use crate::store::PairedClient;

/// The `appversion` lumen claims: Sunshine-style, so clients take the modern (SHA-256, encrypted control,
/// Sunshine extensions) paths; the negative 4th field marks a Sunshine-compatible host.
pub const APP_VERSION: &str = "7.1.431.-1";
/// The GFE version reported alongside.
pub const GFE_VERSION: &str = "3.23.0.74";

type Resp = Response<Full<Bytes>>;

/// The `status_message` of a `/launch` refused because another client's session runs (status 503).
pub const BUSY_MESSAGE: &str = "Busy: this host is running a session for another client";

fn xml(status: StatusCode, reply: XmlReply) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/xml")
        .body(Full::new(Bytes::from(reply.render())))
        .expect("static headers are valid")
}

fn ok(reply: XmlReply) -> Resp {
    xml(StatusCode::OK, reply)
}

fn unauthorized(conn: &ConnInfo, path: &str) -> Resp {
    tracing::warn!(peer = %conn.peer, path, tls = conn.tls, has_cert = conn.client_der.is_some(),
        "refusing a request from an unpaired client");
    xml(
        StatusCode::UNAUTHORIZED,
        XmlReply::error(401, "The client is not authorized. Certificate verification failed."),
    )
}

fn bad_request(msg: &str) -> Resp {
    xml(StatusCode::BAD_REQUEST, XmlReply::error(400, msg))
}

/// Answers one request.
pub async fn handle(state: &Arc<HostState>, conn: &ConnInfo, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let query = match parse_query(&raw_query) {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(peer = %conn.peer, path, error = %e, "malformed nvhttp query");
            return bad_request(&e.to_string());
        }
    };
    tracing::debug!(peer = %conn.peer, path, tls = conn.tls, "nvhttp request");
    let paired = conn.client_der.as_deref().and_then(|der| lock(&state.clients).by_der(der).cloned());
    match path.as_str() {
        "/serverinfo" => ok(server_info(state, conn, paired.is_some())),
        "/pair" => pair(state, conn, &query, paired).await,
        "/unpair" => unpair(state, conn, paired),
        "/applist" | "/appasset" | "/launch" | "/resume" | "/cancel" => {
            let Some(client) = paired.filter(|_| conn.tls) else { return unauthorized(conn, &path) };
            match path.as_str() {
                "/applist" => ok(app_list(state)),
                "/appasset" => app_asset(state, &query),
                "/launch" => launch(state, conn, &query, &client),
                "/resume" => resume(state, conn, &query, &client),
                _ => cancel(state),
            }
        }
        _ => xml(StatusCode::NOT_FOUND, XmlReply::error(404, "Not found")),
    }
}

fn server_info(state: &HostState, conn: &ConnInfo, paired: bool) -> XmlReply {
    let codecs = state.media.codec_support();
    let current = lock(&state.session).as_ref().map(|s| s.launch.app_id).unwrap_or(0);
    let local_ip = match conn.local.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        ip => ip,
    };
    XmlReply::ok()
        .field("hostname", &state.hostname)
        .field("appversion", APP_VERSION)
        .field("GfeVersion", GFE_VERSION)
        .field("uniqueid", &state.identity.unique_id)
        .field("HttpsPort", state.ports.https)
        .field("ExternalPort", state.ports.http)
        .field("MaxLumaPixelsHEVC", if codecs.hevc() { 1_869_449_984u64 } else { 0 })
        .field("mac", &state.mac)
        .field("LocalIP", local_ip)
        .field("ServerCodecModeSupport", codecs.server_codec_mode_support())
        .field("PairStatus", u8::from(paired))
        .field("currentgame", current)
        .field("state", if current != 0 { "SUNSHINE_SERVER_BUSY" } else { "SUNSHINE_SERVER_FREE" })
}

fn not_paired() -> Resp {
    ok(XmlReply::ok().field("paired", 0))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn pair(state: &Arc<HostState>, conn: &ConnInfo, q: &Query<'_>, paired: Option<PairedClient>) -> Resp {
    let device = q.get("devicename").unwrap_or("unknown").to_owned();
    if q.get("phrase") == Some("getservercert") {
        return pair_stage1(state, conn, q, &device).await;
    }
    if q.get("phrase") == Some("pairchallenge") {
        // Stage 5: over HTTPS with the client certificate paired in stage 4.
        if conn.tls && paired.is_some() {
            tracing::info!(peer = %conn.peer, device, "pairing complete (stage 5)");
            return ok(XmlReply::ok().field("paired", 1));
        }
        tracing::warn!(peer = %conn.peer, device, "pairing stage 5 without a paired certificate");
        return not_paired();
    }
    let mut gate = lock(&state.pairing);
    let Some(attempt) = gate.attempt.as_mut() else {
        tracing::warn!(peer = %conn.peer, "pairing request with no pairing in progress");
        return not_paired();
    };
    let result = if let Some(v) = q.get("clientchallenge") {
        hex::decode(v)
            .map_err(|_| crate::pairing::PairingError::Malformed("clientchallenge hex"))
            .and_then(|c| attempt.client_challenge(&state.identity, &c))
            .map(|r| ("challengeresponse", hex::encode(r)))
    } else if let Some(v) = q.get("serverchallengeresp") {
        hex::decode(v)
            .map_err(|_| crate::pairing::PairingError::Malformed("serverchallengeresp hex"))
            .and_then(|c| attempt.server_challenge_resp(&state.identity, &c))
            .map(|r| ("pairingsecret", hex::encode(r)))
    } else if let Some(v) = q.get("clientpairingsecret") {
        match hex::decode(v)
            .map_err(|_| crate::pairing::PairingError::Malformed("clientpairingsecret hex"))
            .and_then(|c| attempt.client_pairing_secret(&c))
        {
            Ok(()) => {
                let (name, pem, der) =
                    (attempt.device_name.clone(), attempt.client_cert_pem.clone(), attempt.client_cert_der.clone());
                gate.record_success();
                drop(gate);
                return match lock(&state.clients).add(&name, &pem, &der, now_unix()) {
                    Ok(id) => {
                        tracing::info!(peer = %conn.peer, device = name, id, "client paired");
                        ok(XmlReply::ok().field("paired", 1))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not save the paired client");
                        not_paired()
                    }
                };
            }
            Err(e) => Err(e),
        }
    } else {
        tracing::warn!(peer = %conn.peer, "pairing request without a known stage argument");
        return bad_request("unknown pairing stage");
    };
    match result {
        Ok((tag, value)) => ok(XmlReply::ok().field("paired", 1).field(tag, value)),
        Err(e) => {
            tracing::warn!(peer = %conn.peer, error = %e, "pairing failed");
            if let Some(until) = gate.record_failure(Instant::now()) {
                tracing::warn!(
                    failures = gate.failures(),
                    locked_for_secs = (until - Instant::now()).as_secs(),
                    "pairing rate-limited: too many failed attempts"
                );
            }
            not_paired()
        }
    }
}

async fn pair_stage1(state: &Arc<HostState>, conn: &ConnInfo, q: &Query<'_>, device: &str) -> Resp {
    let (salt, cert) = match (q.hex("salt"), q.hex("clientcert")) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(peer = %conn.peer, error = %e, "malformed pairing stage 1");
            return not_paired();
        }
    };
    if let Err(e) = crate::pairing::validate_stage1(&salt, &cert) {
        tracing::warn!(peer = %conn.peer, error = %e, "pairing stage 1 rejected");
        return not_paired();
    }
    let start = Instant::now();
    let mut told = false;
    loop {
        {
            let mut gate = lock(&state.pairing);
            let now = Instant::now();
            if let Some(until) = gate.locked_until(now) {
                tracing::warn!(peer = %conn.peer, device, retry_in_secs = (until - now).as_secs(),
                    "pairing attempt refused: rate-limited after repeated failures");
                return not_paired();
            }
            if let Some(old) = gate.attempt.take() {
                let stale = old.started.elapsed() > gate.policy.attempt_timeout;
                tracing::warn!(device = old.device_name, stale, "an unfinished pairing attempt was abandoned");
                if let Some(until) = gate.record_failure(now) {
                    tracing::warn!(
                        locked_for_secs = (until - now).as_secs(),
                        "pairing rate-limited: too many failed attempts"
                    );
                    return not_paired();
                }
            }
            if let Some(pin) = gate.take_pin() {
                return match PairingAttempt::begin(&salt, &pin, &cert, device) {
                    Ok(a) => {
                        tracing::info!(peer = %conn.peer, device, "pairing started (stage 1)");
                        gate.attempt = Some(a);
                        ok(XmlReply::ok()
                            .field("paired", 1)
                            .field("plaincert", hex::encode(state.identity.cert_pem.as_bytes())))
                    }
                    Err(e) => {
                        tracing::warn!(peer = %conn.peer, error = %e, "pairing stage 1 rejected");
                        gate.arm(pin);
                        not_paired()
                    }
                };
            }
            if start.elapsed() >= gate.policy.pin_wait {
                tracing::warn!(peer = %conn.peer, device, "pairing attempt timed out waiting for `lumen-session pin`");
                return not_paired();
            }
        }
        if !told {
            tracing::info!(peer = %conn.peer, device, "a client wants to pair: run `lumen-session pin <PIN>` with the PIN it shows");
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn unpair(state: &HostState, conn: &ConnInfo, paired: Option<PairedClient>) -> Resp {
    let mut gate = lock(&state.pairing);
    if gate.attempt.is_some() {
        tracing::warn!(peer = %conn.peer, "pairing failed: the client aborted the attempt (wrong PIN?)");
        if let Some(until) = gate.record_failure(Instant::now()) {
            tracing::warn!(
                failures = gate.failures(),
                locked_for_secs = (until - Instant::now()).as_secs(),
                "pairing rate-limited: too many failed attempts"
            );
        }
    }
    drop(gate);
    if let (true, Some(c)) = (conn.tls, paired) {
        match lock(&state.clients).remove(&c.id) {
            Ok(_) => tracing::info!(id = c.id, name = c.name, "client unpaired itself"),
            Err(e) => tracing::error!(error = %e, "could not save the client store"),
        }
    }
    ok(XmlReply::ok())
}

fn app_list(state: &HostState) -> XmlReply {
    let mut r = XmlReply::ok();
    for a in &state.apps.apps {
        let item = XmlReply::ok().field("IsHdrSupported", 0).field("AppTitle", &a.name).field("ID", a.id);
        let inner = item.render();
        let start = inner.find("<IsHdrSupported>").unwrap_or(0);
        let end = inner.rfind("</root>").unwrap_or(inner.len());
        r = r.raw(&format!("<App>{}</App>", &inner[start..end]));
    }
    r
}

fn app_asset(state: &HostState, q: &Query<'_>) -> Resp {
    let id = match q.parse_required::<u32>("appid") {
        Ok(id) => id,
        Err(e) => return bad_request(&e.to_string()),
    };
    let Some(app) = state.apps.by_id(id) else {
        return xml(StatusCode::NOT_FOUND, XmlReply::error(404, "No such app"));
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "image/png")
        .body(Full::new(Bytes::from(crate::apps::box_art(app))))
        .expect("static headers are valid")
}

fn session_url(state: &HostState, conn: &ConnInfo, encrypted: bool) -> String {
    let ip = match conn.local.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        ip => ip.to_string(),
    };
    format!("{}://{ip}:{}", if encrypted { "rtspenc" } else { "rtsp" }, state.ports.rtsp)
}

fn launch(state: &HostState, conn: &ConnInfo, q: &Query<'_>, client: &PairedClient) -> Resp {
    let app_id = match q.parse_required::<u32>("appid") {
        Ok(id) => id,
        Err(e) => return bad_request(&e.to_string()),
    };
    let Some(app) = state.apps.by_id(app_id) else {
        tracing::warn!(app_id, "launch of an unknown app");
        return ok(XmlReply::error(404, "No such app"));
    };
    let mut record = match LaunchRecord::from_launch(q, app.id, &app.name) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(peer = %conn.peer, error = %e, "malformed launch request");
            return bad_request(&e.to_string());
        }
    };
    record.app_cmd = app.cmd.clone();
    let mut slot = lock(&state.session);
    if let Some(live) = slot.as_ref().filter(|l| l.client_id != client.id) {
        tracing::warn!(peer = %conn.peer, client = client.id, session_client = live.client_id, app = %live.launch.app_name,
            streaming = live.media.is_some(), "launch refused: busy with another client's session (it may /resume it)");
        return ok(XmlReply::error(503, BUSY_MESSAGE));
    }
    if let Some(live) = slot.as_ref() {
        tracing::warn!(running = %live.launch.app_name, "launch refused: an app is already running");
        return ok(XmlReply::error(503, "An app is already running on this host"));
    }
    let encrypted = record.wants_encrypted_rtsp();
    tracing::info!(app = %app.name, mode = format!("{}x{}x{}", record.width, record.height, record.fps),
        client = client.id, "app launched");
    *slot =
        Some(LiveSession::new(state.next_generation(), record, conn.peer.ip(), client.id.clone(), state.media_ports()));
    ok(XmlReply::ok().field("sessionUrl0", session_url(state, conn, encrypted)).field("gamesession", 1))
}

fn resume(state: &HostState, conn: &ConnInfo, q: &Query<'_>, client: &PairedClient) -> Resp {
    let mut slot = lock(&state.session);
    let Some(live) = slot.as_mut() else {
        return ok(XmlReply::error(503, "No app is running on this host"));
    };
    if let Err(e) = live.launch.resume(q) {
        tracing::warn!(peer = %conn.peer, error = %e, "malformed resume request");
        return bad_request(&e.to_string());
    }
    let old_media = live.media.take();
    if old_media.is_some() {
        live.media_ended = Some(EndReason::Replaced);
    }
    live.reset_handshake();
    live.client_ip = conn.peer.ip();
    live.client_id = client.id.clone();
    let encrypted = live.launch.wants_encrypted_rtsp();
    tracing::info!(app = %live.launch.app_name, client = client.id, "app resumed");
    drop(slot);
    if let Some(mut m) = old_media {
        m.stop(EndReason::Replaced);
    }
    ok(XmlReply::ok().field("sessionUrl0", session_url(state, conn, encrypted)).field("resume", 1))
}

fn cancel(state: &HostState) -> Resp {
    state.end_session(EndReason::Cancelled);
    ok(XmlReply::ok().field("cancel", 1))
}
