//! The nvhttp request handlers.
//!
//! HTTP carries `/serverinfo`, `/pair` stages 1–4 and `/unpair`; HTTPS carries everything, and the
//! app endpoints (`/applist`, `/appasset`, `/launch`, `/resume`, `/cancel`) and pairing stage 5 admit only
//! a client certificate that is byte-for-byte in the paired store.

use std::net::IpAddr;
use std::sync::Arc;

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
use crate::session::LiveSession;
use crate::store::PairedClient;

/// The `appversion` lumen claims: Sunshine-style, so clients take the modern (SHA-256, encrypted control,
/// Sunshine extensions) paths; the negative 4th field marks a Sunshine-compatible host.
pub const APP_VERSION: &str = "7.1.431.-1";
/// The GFE version reported alongside.
pub const GFE_VERSION: &str = "3.23.0.74";

pub(super) type Resp = Response<Full<Bytes>>;

/// The `status_message` of a `/launch` refused because another client's session runs (status 503).
pub const BUSY_MESSAGE: &str = "Busy: this host streams as many sessions as it may (max_sessions)";

fn xml(status: StatusCode, reply: XmlReply) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/xml")
        .body(Full::new(Bytes::from(reply.render())))
        .expect("static headers are valid")
}

pub(super) fn ok(reply: XmlReply) -> Resp {
    xml(StatusCode::OK, reply)
}

/// The status message of a request from a certificate that is not paired (spec §3.2).
pub const UNAUTHORIZED_MESSAGE: &str = "The client is not authorized. Certificate verification failed.";

/// Errors go out as HTTP 200 with the code in the XML (spec §3.1): clients show `status_message` then,
/// where an HTTP-level error becomes a generic "network error".
fn unauthorized(conn: &ConnInfo, path: &str) -> Resp {
    let detail = format!("{path} (tls {}, certificate {})", conn.tls, conn.client_der.is_some());
    crate::noise::record(conn.peer.ip(), "refusing a request from an unpaired client", &detail);
    ok(XmlReply::error(401, UNAUTHORIZED_MESSAGE))
}

fn bad_request(msg: &str) -> Resp {
    ok(XmlReply::error(400, msg))
}

/// Answers one request.
pub async fn handle(state: &Arc<HostState>, conn: &ConnInfo, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let query = match parse_query(&raw_query) {
        Ok(q) => q,
        Err(e) => {
            crate::noise::record(conn.peer.ip(), "malformed nvhttp query", &format_args!("{path}: {e}"));
            return bad_request(&e.to_string());
        }
    };
    tracing::debug!(peer = %conn.peer, path, tls = conn.tls, "nvhttp request");
    let paired = conn.client_der.as_deref().and_then(|der| lock(&state.clients).by_der(der).cloned());
    if let Some(c) = paired.as_ref().filter(|_| conn.tls) {
        state.saw_client(&c.id);
    }
    match path.as_str() {
        "/serverinfo" => ok(server_info(state, conn, paired.as_ref().filter(|_| conn.tls))),
        "/pair" => super::pair::pair(state, conn, &query, paired).await,
        "/unpair" => super::pair::unpair(state, conn, &query, paired),
        "/applist" | "/appasset" | "/launch" | "/resume" | "/cancel" => {
            let Some(client) = paired.filter(|_| conn.tls) else { return unauthorized(conn, &path) };
            match path.as_str() {
                "/applist" => ok(app_list(state)),
                "/appasset" => app_asset(state, &query),
                "/launch" => launch(state, conn, &query, &client),
                "/resume" => resume(state, conn, &query, &client),
                _ => cancel(state, &client).await,
            }
        }
        _ => {
            crate::noise::record(conn.peer.ip(), "request for an unknown nvhttp path", &path);
            xml(StatusCode::NOT_FOUND, XmlReply::error(404, "Not found"))
        }
    }
}

/// `/serverinfo`: `currentgame` and the busy state describe the asking client's own session, known from its
/// certificate over HTTPS (where paired clients ask: moonlight-qt, Android, iOS). Over plain HTTP the caller is
/// unknown (every stock client sends the same `uniqueid`, and many share an address behind a NAT or on one
/// machine), so the host says "free": the client then sends `/launch`, which reattaches its own running
/// session — never a `/resume` of a session that is someone else's.
fn server_info(state: &HostState, conn: &ConnInfo, client: Option<&PairedClient>) -> XmlReply {
    let codecs = state.media.codec_support();
    let paired =
        client.is_some() || conn.client_der.as_deref().is_some_and(|d| lock(&state.clients).by_der(d).is_some());
    let current = client.and_then(|c| lock(&state.sessions).by_client(&c.id).map(|s| s.launch.app_id)).unwrap_or(0);
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

fn app_list(state: &HostState) -> XmlReply {
    let mut r = XmlReply::ok();
    for a in &state.catalog.list() {
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
    let Some(app) = state.catalog.by_id(id) else {
        return xml(StatusCode::NOT_FOUND, XmlReply::error(404, "No such app"));
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "image/png")
        .body(Full::new(Bytes::from(crate::apps::box_art(&app))))
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
    let Some(app) = state.catalog.by_id(app_id) else {
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
    record.app_cmd = app.launch_cmd();
    record.app_pad = app.pad_kind();
    let limits = state.media.limits();
    if let Err(e) = limits.check_resolution(record.width, record.height) {
        tracing::warn!(peer = %conn.peer, client = client.id, error = %e, "launch refused: mode beyond the host's limits");
        return ok(XmlReply::error(400, &format!("Unsupported stream mode: {e}")));
    }
    let fps = limits.clamp_fps(record.fps);
    if fps != record.fps {
        tracing::info!(peer = %conn.peer, asked = record.fps, fps, "launch frame rate clamped to the host's limit");
        record.fps = fps;
    }
    let encrypted = record.wants_encrypted_rtsp();
    let mode = format!("{}x{}x{}", record.width, record.height, record.fps);
    let mut table = lock(&state.sessions);
    if let Some(live) = table.by_client(&client.id) {
        if live.launch.app_id == record.app_id {
            // The caller's own session: reattached with the new mode and keys, as a resume.
            tracing::info!(app = %app.name, mode, client = client.id, session = live.generation,
                "launch of the running app: reattaching the client's session");
            let old = reattach(live, record, conn);
            drop(table);
            if let Some(mut m) = old {
                m.stop(EndReason::Replaced);
            }
            return ok(XmlReply::ok()
                .field("sessionUrl0", session_url(state, conn, encrypted))
                .field("gamesession", 1));
        }
        tracing::warn!(running = %live.launch.app_name, client = client.id, "launch refused: the client's own app is running");
        return ok(XmlReply::error(400, "Another app is running in your session: quit it first"));
    }
    if table.len() >= state.max_sessions {
        tracing::warn!(peer = %conn.peer, client = client.id, sessions = table.len(), max = state.max_sessions,
            "launch refused: the host streams as many sessions as it may (max_sessions)");
        return ok(XmlReply::error(503, BUSY_MESSAGE));
    }
    let generation = state.next_generation();
    let slot = table.free_slot();
    tracing::info!(app = %app.name, mode, client = client.id, session = generation, slot, "app launched");
    let ports = state.media_ports_for_slot(slot);
    table.insert(LiveSession::new(generation, record, conn.peer.ip(), client.id.clone(), slot, ports));
    ok(XmlReply::ok().field("sessionUrl0", session_url(state, conn, encrypted)).field("gamesession", 1))
}

/// Points a client's existing session at a new launch or resume; returns the stream it replaces.
fn reattach(
    live: &mut crate::session::LiveSession,
    record: LaunchRecord,
    conn: &ConnInfo,
) -> Option<Box<dyn crate::media_plane::MediaSession>> {
    let old_media = live.media.take();
    if old_media.is_some() {
        live.media_ended = Some(EndReason::Replaced);
    }
    let (cmd, pad) = (live.launch.app_cmd.clone(), live.launch.app_pad);
    live.launch = LaunchRecord { app_cmd: cmd, app_pad: pad, ..record };
    live.reset_handshake();
    live.client_ip = conn.peer.ip();
    old_media
}

fn resume(state: &HostState, conn: &ConnInfo, q: &Query<'_>, client: &PairedClient) -> Resp {
    let mut table = lock(&state.sessions);
    let Some(live) = table.by_client(&client.id) else {
        tracing::info!(peer = %conn.peer, client = client.id, "resume without a session of this client");
        return ok(XmlReply::error(503, "No app is running in your session"));
    };
    let mut record = live.launch.clone();
    if let Err(e) = record.resume(q) {
        tracing::warn!(peer = %conn.peer, error = %e, "malformed resume request");
        return bad_request(&e.to_string());
    }
    let encrypted = record.wants_encrypted_rtsp();
    tracing::info!(app = %record.app_name, client = client.id, session = live.generation, "app resumed");
    let old = reattach(live, record, conn);
    drop(table);
    if let Some(mut m) = old {
        m.stop(EndReason::Replaced);
    }
    ok(XmlReply::ok().field("sessionUrl0", session_url(state, conn, encrypted)).field("resume", 1))
}

/// `/cancel`: Moonlight's "quit" — ends the caller's own session and its app (nobody else's).
async fn cancel(state: &Arc<HostState>, client: &PairedClient) -> Resp {
    let Some(generation) = state.session_of(&client.id) else {
        tracing::info!(client = client.id, "cancel without a session of this client");
        return ok(XmlReply::ok().field("cancel", 1));
    };
    let st = state.clone();
    // Ending joins media threads: off the async workers.
    let _ = tokio::task::spawn_blocking(move || st.end_session(generation, EndReason::Cancelled)).await;
    ok(XmlReply::ok().field("cancel", 1))
}
