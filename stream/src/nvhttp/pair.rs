//! `/pair` (stages 1–5) and `/unpair`: the network side of [`crate::pairing_gate`].
//!
//! Stage 1 waits for the owner's PIN *for this request* (`lumen-session pin PIN [--client ID]`); stages 2–4
//! and `/unpair` reach only the attempt of their own client (`uniqueid` + address). Errors are answered the
//! way clients read them (spec §4.4): HTTP 200, `status_code="400"` (or 503 while the source is locked out)
//! with a `status_message`, and `<paired>0</paired>`.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::handlers::{ok, Resp};
use super::query::Query;
use super::server::ConnInfo;
use super::xml::XmlReply;
use crate::host::{lock, HostState};
use crate::pairing::{PairingAttempt, PairingError};
use crate::pairing_gate::{AttemptKey, Stage1};
use crate::store::PairedClient;

fn not_paired() -> Resp {
    ok(XmlReply::ok().field("paired", 0))
}

/// A pairing error as clients show it: XML status `code` with `message`, `paired=0`.
fn refused(code: u32, message: &str) -> Resp {
    ok(XmlReply::error(code, message).field("paired", 0))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn key_of(conn: &ConnInfo, q: &Query<'_>) -> AttemptKey {
    let uniqueid: String = q.get("uniqueid").unwrap_or("").chars().take(64).collect();
    AttemptKey { uniqueid, ip: conn.peer.ip() }
}

/// Answers `/pair`.
pub async fn pair(state: &Arc<HostState>, conn: &ConnInfo, q: &Query<'_>, paired: Option<PairedClient>) -> Resp {
    let device: String = q.get("devicename").unwrap_or("unknown").chars().take(64).collect();
    if q.get("phrase") == Some("getservercert") {
        return stage1(state, conn, q, &device).await;
    }
    if q.get("phrase") == Some("pairchallenge") {
        // Stage 5: over HTTPS with the client certificate paired in stage 4.
        if conn.tls && paired.is_some() {
            tracing::info!(peer = %conn.peer, device, "pairing complete (stage 5)");
            return ok(XmlReply::ok().field("paired", 1));
        }
        crate::noise::record(conn.peer.ip(), "pair stage 5 without a paired certificate", &device);
        return not_paired();
    }
    let key = key_of(conn, q);
    let now = Instant::now();
    let mut gate = lock(&state.pairing);
    let Some(attempt) = gate.attempt_mut(&key, now) else {
        crate::noise::record(conn.peer.ip(), "pair stage without an attempt of its own", &key.uniqueid);
        return refused(400, "Invalid uniqueid: no pairing attempt of this client is in progress");
    };
    let result = if let Some(v) = q.get("clientchallenge") {
        hex::decode(v)
            .map_err(|_| PairingError::Malformed("clientchallenge hex"))
            .and_then(|c| attempt.client_challenge(&state.identity, &c))
            .map(|r| ("challengeresponse", hex::encode(r)))
    } else if let Some(v) = q.get("serverchallengeresp") {
        hex::decode(v)
            .map_err(|_| PairingError::Malformed("serverchallengeresp hex"))
            .and_then(|c| attempt.server_challenge_resp(&state.identity, &c))
            .map(|r| ("pairingsecret", hex::encode(r)))
    } else if let Some(v) = q.get("clientpairingsecret") {
        match hex::decode(v)
            .map_err(|_| PairingError::Malformed("clientpairingsecret hex"))
            .and_then(|c| attempt.client_pairing_secret(&c))
        {
            Ok(()) => {
                let (name, pem, der) =
                    (attempt.device_name.clone(), attempt.client_cert_pem.clone(), attempt.client_cert_der.clone());
                let bind_user = attempt.bind_user.clone();
                gate.finish(&key);
                gate.record_success(key.ip);
                drop(gate);
                let added = {
                    let mut clients = lock(&state.clients);
                    clients.add(&name, &pem, &der, now_unix()).and_then(|id| match &bind_user {
                        Some(u) => clients.bind(&id, u).map(|_| {
                            tracing::info!(id, user = u, "client bound to a user by the owner's PIN");
                            id
                        }),
                        None => Ok(id),
                    })
                };
                return match added {
                    Ok(id) => {
                        tracing::info!(peer = %conn.peer, device = name, id, "client paired");
                        ok(XmlReply::ok().field("paired", 1))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not save the paired client");
                        refused(500, "The host could not save the pairing")
                    }
                };
            }
            Err(e) => Err(e),
        }
    } else {
        Err(PairingError::Malformed("pairing request (no known stage argument)"))
    };
    match result {
        Ok((tag, value)) => ok(XmlReply::ok().field("paired", 1).field(tag, value)),
        Err(e) => {
            gate.finish(&key);
            let out = gate.record_failure(key.ip, now);
            tracing::warn!(peer = %conn.peer, error = %e, failures = out.failures, "pairing failed");
            if let Some(until) = out.locked_until {
                tracing::warn!(peer = %conn.peer, failures = out.failures,
                    locked_for_secs = until.saturating_duration_since(now).as_secs(),
                    "pairing rate-limited for this address: too many failed attempts");
            }
            refused(400, &format!("Pairing failed: {e}"))
        }
    }
}

/// Removes a waiting request from the gate when its stage-1 request ends, however it ends.
struct WaitGuard<'a> {
    state: &'a HostState,
    id: u64,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        lock(&self.state.pairing).stop_waiting(self.id);
    }
}

async fn stage1(state: &Arc<HostState>, conn: &ConnInfo, q: &Query<'_>, device: &str) -> Resp {
    let (salt, cert) = match (q.hex("salt"), q.hex("clientcert")) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            crate::noise::record(conn.peer.ip(), "malformed pairing stage 1", &e);
            return refused(400, &e.to_string());
        }
    };
    if let Err(e) = crate::pairing::validate_stage1(&salt, &cert) {
        crate::noise::record(conn.peer.ip(), "pairing stage 1 rejected", &e);
        return refused(400, &e.to_string());
    }
    let key = key_of(conn, q);
    let now = Instant::now();
    let decision = lock(&state.pairing).stage1(&key, device, now);
    let (id, grant) = match decision {
        Stage1::Locked(until) => {
            let secs = until.saturating_duration_since(now).as_secs();
            tracing::warn!(peer = %conn.peer, device, retry_in_secs = secs,
                "pairing attempt refused: rate-limited after repeated failures from this address");
            return refused(503, &format!("Pairing is locked for this address for {secs} s after failed attempts"));
        }
        Stage1::InProgress => {
            tracing::warn!(peer = %conn.peer, device, uniqueid = key.uniqueid,
                "a second pairing request of a client whose attempt is in progress: answered \"already in progress\"");
            // `paired=1` without `plaincert`: the client reports "pairing already in progress" (spec §4.2).
            return ok(XmlReply::ok().field("paired", 1));
        }
        Stage1::TooMany => {
            crate::noise::record(conn.peer.ip(), "too many waiting pairing requests", &device);
            return refused(503, "Too many pairing requests are waiting; try again later");
        }
        Stage1::Pin(grant) => {
            tracing::info!(peer = %conn.peer, device, "pairing request takes the PIN armed in advance");
            (lock(&state.pairing).fresh_id(), grant)
        }
        Stage1::Wait { id, rx } => {
            let _guard = WaitGuard { state, id };
            tracing::info!(peer = %conn.peer, device, id, uniqueid = key.uniqueid,
                "a client wants to pair: enter the PIN it shows with `lumen-session pin <PIN>` \
                 (`--client {id}` if several wait; `lumen-session pairing` lists them)");
            let wait = lock(&state.pairing).policy.pin_wait;
            match tokio::time::timeout(wait, rx).await {
                Ok(Ok(grant)) => (id, grant),
                Ok(Err(_)) => {
                    tracing::info!(peer = %conn.peer, device, id, "pairing request cancelled by its client");
                    return refused(400, "Pairing was cancelled");
                }
                Err(_) => {
                    tracing::warn!(peer = %conn.peer, device, id,
                        "pairing attempt timed out waiting for `lumen-session pin`");
                    return refused(400, "The PIN was not entered on the host in time");
                }
            }
        }
    };
    // The owner's name for the device, if they gave one, else the name the client sent.
    let name = grant.name.as_deref().unwrap_or(device);
    match PairingAttempt::begin(&salt, &grant.pin, &cert, name) {
        Ok(mut a) => {
            a.bind_user = grant.user.clone();
            tracing::info!(peer = %conn.peer, device, id, "pairing started (stage 1)");
            lock(&state.pairing).start(id, key, a);
            ok(XmlReply::ok().field("paired", 1).field("plaincert", hex::encode(state.identity.cert_pem.as_bytes())))
        }
        Err(e) => {
            tracing::warn!(peer = %conn.peer, error = %e, "pairing stage 1 rejected");
            refused(400, &e.to_string())
        }
    }
}

/// Answers `/unpair`: cancels this client's own attempt (never counted as a failure), and over HTTPS with a
/// paired certificate removes that pairing.
pub fn unpair(state: &HostState, conn: &ConnInfo, q: &Query<'_>, paired: Option<PairedClient>) -> Resp {
    let key = key_of(conn, q);
    if lock(&state.pairing).cancel(&key) {
        tracing::warn!(peer = %conn.peer, uniqueid = key.uniqueid,
            "pairing failed: the client aborted its attempt (wrong PIN?)");
    }
    if let (true, Some(c)) = (conn.tls, paired) {
        match lock(&state.clients).remove(&c.id) {
            Ok(_) => tracing::info!(id = c.id, name = c.name, "client unpaired itself"),
            Err(e) => tracing::error!(error = %e, "could not save the client store"),
        }
    }
    ok(XmlReply::ok())
}
