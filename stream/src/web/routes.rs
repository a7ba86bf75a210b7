//! The admin page's requests: the embedded page (`assets/`), `/api/auth`, `/api/login`, `/api/logout`,
//! reads (`GET /api/get/<what>`) and state changes (`POST /api/do`, an admin socket request as JSON).
//!
//! Every read needs the login cookie; every state change also needs the login's CSRF token in
//! `X-CSRF-Token`, a JSON content type, and an `Origin` equal to the page's own. The `Host` must be an
//! address, `localhost` or this machine's name (a DNS-rebinding page gets nothing). Refusals are logged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::auth;
use crate::admin::{self, AdminRequest};
use crate::host::{lock, HostState};

type Resp = Response<Full<Bytes>>;

/// The login cookie's name.
pub const COOKIE: &str = "lumen_admin";
/// Largest request body.
const MAX_BODY: usize = 64 * 1024;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .header("X-Frame-Options", "DENY")
        .header("Referrer-Policy", "no-referrer")
        .header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        .body(Full::new(body.into()))
        .expect("static headers are valid")
}

fn json_reply(status: StatusCode, v: &Value) -> Resp {
    respond(status, "application/json", v.to_string())
}

fn refuse(status: StatusCode, peer: SocketAddr, what: &str) -> Resp {
    tracing::warn!(peer = %peer, status = status.as_u16(), "admin page: request refused: {what}");
    json_reply(status, &json!({"ok": false, "error": what}))
}

/// The value of cookie `name` in the request.
fn cookie<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get_all(hyper::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').map(str::trim).find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
    })
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether the `Host` names this machine (an address, `localhost`, or its host name).
fn host_is_ours(state: &HostState, host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name.parse::<IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let ours = state.hostname.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    name == ours || name == format!("{ours}.local")
}

/// Answers one request.
pub async fn handle(state: &Arc<HostState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let Some(host) = header(&req, "host").map(str::to_owned) else {
        return refuse(StatusCode::BAD_REQUEST, peer, "no Host header");
    };
    if !host_is_ours(state, &host) {
        return refuse(StatusCode::FORBIDDEN, peer, "the Host header does not name this machine");
    }
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/") | (&Method::GET, "/index.html") => {
            respond(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML)
        }
        (&Method::GET, "/app.js") => respond(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS),
        (&Method::GET, "/style.css") => respond(StatusCode::OK, "text/css; charset=utf-8", STYLE_CSS),
        (&Method::GET, "/api/auth") => auth_status(state, &req),
        (&Method::POST, _) if path.starts_with("/api/") => post(state, peer, &host, req, &path).await,
        (&Method::GET, p) if p.starts_with("/api/get/") => read(state, peer, &req, &p["/api/get/".len()..]).await,
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found"),
    }
}

fn auth_status(state: &HostState, req: &Request<Incoming>) -> Resp {
    let csrf = cookie(req, COOKIE).and_then(|t| lock(&state.web.auth).csrf_of(t, Instant::now()));
    json_reply(
        StatusCode::OK,
        &json!({"ok": true, "logged_in": csrf.is_some(), "csrf": csrf,
            "password_set": auth::stored_hash(&state.state_dir).is_some()}),
    )
}

async fn read(state: &Arc<HostState>, peer: SocketAddr, req: &Request<Incoming>, what: &str) -> Resp {
    let now = Instant::now();
    if cookie(req, COOKIE).and_then(|t| lock(&state.web.auth).csrf_of(t, now)).is_none() {
        return refuse(StatusCode::UNAUTHORIZED, peer, "log in first");
    }
    let after = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("after=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let request = match what {
        "pairing" => AdminRequest::Pairing,
        "clients" => AdminRequest::Clients,
        "apps" => AdminRequest::Apps,
        "sessions" => AdminRequest::Sessions,
        "status" => AdminRequest::Status,
        "logs" => AdminRequest::Logs { after },
        _ => return respond(StatusCode::NOT_FOUND, "text/plain", "not found"),
    };
    run(state, request).await
}

/// Runs an admin request off the async workers (some block: ending a session joins its threads).
async fn run(state: &Arc<HostState>, request: AdminRequest) -> Resp {
    let st = state.clone();
    let v = tokio::task::spawn_blocking(move || admin::answer(&st, request))
        .await
        .unwrap_or_else(|e| json!({"ok": false, "error": format!("the request failed: {e}")}));
    let status = if v["ok"] == Value::Bool(true) { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    json_reply(status, &v)
}

async fn body_json(req: Request<Incoming>) -> Result<Value, String> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))
}

async fn post(state: &Arc<HostState>, peer: SocketAddr, host: &str, req: Request<Incoming>, path: &str) -> Resp {
    // Same origin only: a browser always sends Origin on a POST; another site's page has another origin.
    let expected = format!("https://{host}");
    match header(&req, "origin") {
        Some(o) if o == expected => {}
        Some(o) => return refuse(StatusCode::FORBIDDEN, peer, &format!("cross-origin request from {o}")),
        None => return refuse(StatusCode::FORBIDDEN, peer, "no Origin header on a state change"),
    }
    if !header(&req, "content-type").is_some_and(|c| c.starts_with("application/json")) {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, peer, "state changes are JSON");
    }
    let now = Instant::now();
    let token = cookie(&req, COOKIE).map(str::to_owned);
    match path {
        "/api/login" => return login(state, peer, req).await,
        "/api/logout" => {
            if let Some(t) = token {
                let mut a = lock(&state.web.auth);
                // A live login ends only with its own CSRF token (another site cannot log the owner out).
                if let Some(csrf) = a.csrf_of(&t, now) {
                    if !constant_time_eq(header(&req, "x-csrf-token").unwrap_or("").as_bytes(), csrf.as_bytes()) {
                        drop(a);
                        return refuse(StatusCode::FORBIDDEN, peer, "missing or wrong CSRF token");
                    }
                }
                a.close(&t);
            }
            let mut r = json_reply(StatusCode::OK, &json!({"ok": true}));
            r.headers_mut().insert(
                hyper::header::SET_COOKIE,
                format!("{COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict")
                    .parse()
                    .expect("a valid header"),
            );
            return r;
        }
        "/api/do" => {}
        _ => return respond(StatusCode::NOT_FOUND, "text/plain", "not found"),
    }
    let Some(csrf) = token.and_then(|t| lock(&state.web.auth).csrf_of(&t, now)) else {
        return refuse(StatusCode::UNAUTHORIZED, peer, "log in first");
    };
    let sent = header(&req, "x-csrf-token").unwrap_or("");
    if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
        return refuse(StatusCode::FORBIDDEN, peer, "missing or wrong CSRF token");
    }
    let request: AdminRequest = match body_json(req)
        .await
        .and_then(|v| serde_json::from_value(v).map_err(|e| format!("not an admin request: {e}")))
    {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, peer, &e),
    };
    tracing::info!(peer = %peer, request = request.name(), "admin page: state change");
    run(state, request).await
}

async fn login(state: &Arc<HostState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let now = Instant::now();
    if let Err(auth::Locked(left)) = lock(&state.web.auth).check_source(peer.ip(), now) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            peer,
            &format!("too many failed logins: try again in {} s", left.as_secs().max(1)),
        );
    }
    let Some(hash) = auth::stored_hash(&state.state_dir) else {
        return refuse(StatusCode::CONFLICT, peer, "no admin password is set: run `lumen-session admin-password`");
    };
    let password = match body_json(req).await {
        Ok(v) => v["password"].as_str().unwrap_or("").to_owned(),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, peer, &e),
    };
    if password.is_empty() || password.len() > auth::MAX_PASSWORD {
        return refuse(StatusCode::UNAUTHORIZED, peer, "wrong password");
    }
    let ok = tokio::task::spawn_blocking(move || auth::verify(&hash, &password)).await.unwrap_or(false);
    let mut a = lock(&state.web.auth);
    if !ok {
        let locked = a.failed(peer.ip(), Instant::now());
        drop(a);
        if let Some(l) = locked {
            tracing::warn!(peer = %peer, lockout_secs = l.as_secs(), "admin page: login locked for this address");
        }
        return refuse(StatusCode::UNAUTHORIZED, peer, "wrong password");
    }
    a.succeeded(peer.ip());
    let (token, csrf) = a.open(Instant::now());
    drop(a);
    tracing::info!(peer = %peer, "admin page: owner logged in");
    let mut r = json_reply(StatusCode::OK, &json!({"ok": true, "csrf": csrf}));
    r.headers_mut().insert(
        hyper::header::SET_COOKIE,
        format!("{COOKIE}={token}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Strict", auth::SESSION_TTL.as_secs())
            .parse()
            .expect("a valid header"),
    );
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
