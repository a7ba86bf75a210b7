//! Answers RTSP requests against one live session (the server found which): records each step, hands out
//! the session's media ports, parses ANNOUNCE into the typed stream config, and prepares PLAY — the media
//! plane itself is started by the server off the async workers and outside the session lock.

use std::net::IpAddr;

use super::request::{response, Request};
use crate::host::{lock, HostState};
use crate::media_plane::{EndReason, MediaSession, MediaStart};
use crate::session::RtspStep;

/// What answering a request needs next.
pub enum Handled {
    /// The plaintext reply.
    Reply(Vec<u8>),
    /// PLAY: start the media plane with `start` (after stopping `old`), then reply.
    Play(Box<PlayJob>),
}

/// A PLAY to carry out: the media start and how to answer.
pub struct PlayJob {
    pub session: u64,
    pub start: MediaStart,
    pub old: Option<Box<dyn MediaSession>>,
    pub cseq: Option<String>,
    pub session_id: Option<String>,
}

/// The reply to PLAY once the media plane answered.
pub fn play_reply(cseq: Option<&str>, session_id: Option<&str>, started: bool) -> Vec<u8> {
    if !started {
        return response(500, "Internal Server Error", cseq, &[], b"");
    }
    match session_id {
        Some(id) => response(200, "OK", cseq, &[("Session", format!("{id};timeout = 90"))], b""),
        None => response(200, "OK", cseq, &[], b""),
    }
}

/// Answers one request (already decrypted) from `peer` for session `generation`, reached on the host
/// address `local`.
pub fn handle(
    state: &HostState,
    generation: u64,
    peer: IpAddr,
    local: IpAddr,
    req: &Request,
    encrypted: bool,
) -> Handled {
    let cseq = req.cseq();
    let reply = |status: u16, reason: &str| Handled::Reply(response(status, reason, cseq, &[], b""));
    let mut table = lock(&state.sessions);
    let Some(live) = table.by_id(generation) else {
        tracing::warn!(%peer, method = req.method, "RTSP request without a launched session");
        return reply(454, "Session Not Found");
    };
    if !encrypted && live.client_ip != peer {
        tracing::warn!(%peer, launched_by = %live.client_ip, "RTSP request from an address that did not launch the session");
        return reply(403, "Forbidden");
    }
    let session_id = live.rtsp_session_id.clone();
    let session_header = |id: &str| ("Session", format!("{id};timeout = 90"));
    match req.method.as_str() {
        "OPTIONS" => {
            live.rtsp_steps.push(RtspStep::Options);
            live.rtsp_encrypted = encrypted;
            Handled::Reply(response(
                200,
                "OK",
                cseq,
                &[("Public", "OPTIONS, DESCRIBE, SETUP, ANNOUNCE, PLAY".into())],
                b"",
            ))
        }
        "DESCRIBE" => {
            // A fresh salt per DESCRIBE: each set-up gets a transport key of its own (`docs/wire.md` §12).
            let salt: [u8; 16] = rand::random();
            live.lumen_salt = Some(salt);
            let opts = crate::sdp::OfferOptions { lumen_salt: Some(salt), ..state.media.offer_options() };
            let body = crate::sdp::describe_offer(local, &state.media.codec_support(), &opts);
            live.rtsp_steps.push(RtspStep::Describe);
            Handled::Reply(response(200, "OK", cseq, &[("Content-Type", "application/sdp".into())], body.as_bytes()))
        }
        "SETUP" => {
            let (step, port) = if req.target.contains("streamid=audio") {
                (RtspStep::SetupAudio, live.media_ports.audio)
            } else if req.target.contains("streamid=video") {
                (RtspStep::SetupVideo, live.media_ports.video)
            } else if req.target.contains("streamid=control") {
                (RtspStep::SetupControl, live.media_ports.control)
            } else {
                tracing::warn!(target = req.target, "RTSP SETUP of an unknown stream");
                return reply(404, "Stream Not Found");
            };
            let id = match session_id {
                Some(id) => id,
                None => {
                    let id = format!("{}", rand::random::<u32>() | 1);
                    live.rtsp_session_id = Some(id.clone());
                    id
                }
            };
            live.rtsp_steps.push(step);
            // The session's tokens: the client copies the ping payload into its video and audio pings and the
            // connect data into its ENet connect, so no datagram of another client can reach this session.
            let token = match step {
                RtspStep::SetupControl => ("X-SS-Connect-Data", live.tokens.connect_data.to_string()),
                _ => ("X-SS-Ping-Payload", live.tokens.ping_payload_str().to_owned()),
            };
            Handled::Reply(response(
                200,
                "OK",
                cseq,
                &[session_header(&id), ("Transport", format!("server_port={port}")), token],
                b"",
            ))
        }
        "ANNOUNCE" => match crate::sdp::parse_announce(&req.body) {
            Ok(mut config) => {
                if let Some(accept) = &config.lumen {
                    if live.lumen_salt != Some(accept.salt) {
                        tracing::warn!(%peer, "ANNOUNCE accepts a lumen transport offer this host did not make");
                        return reply(400, "Bad Request");
                    }
                    tracing::info!(%peer, fec = ?accept.fec_percent, "client accepted the lumen transport");
                }
                match state.media.limits().apply(&mut config) {
                    Ok(clamped) if clamped.any() => {
                        tracing::warn!(%peer, fps = ?clamped.fps, bitrate_kbps = ?clamped.bitrate_kbps,
                            "ANNOUNCE asked for more than this host gives: clamped (from, to)");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "ANNOUNCE refused: beyond the host's limits");
                        return reply(400, "Bad Request");
                    }
                }
                tracing::info!(
                    width = config.width,
                    height = config.height,
                    fps = config.fps,
                    bitrate_kbps = config.bitrate_kbps,
                    codec = config.codec.name(),
                    "stream configured (ANNOUNCE)"
                );
                live.config = Some(config);
                live.rtsp_steps.push(RtspStep::Announce);
                reply(200, "OK")
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "malformed ANNOUNCE");
                reply(400, "Bad Request")
            }
        },
        "PLAY" => {
            let Some(config) = live.config.clone() else {
                tracing::warn!(%peer, "RTSP PLAY before ANNOUNCE");
                return reply(455, "Method Not Valid In This State");
            };
            let old = live.media.take();
            if old.is_some() {
                live.media_ended = Some(EndReason::Replaced);
            }
            live.rtsp_steps.push(RtspStep::Play);
            let start = MediaStart {
                client: state.client_ref(&live.client_id),
                session: live.generation,
                tokens: live.tokens,
                launch: live.launch.clone(),
                config,
                client_ip: peer,
                ports: live.media_ports,
                on_end: state.end_callback(live.generation),
            };
            Handled::Play(Box::new(PlayJob {
                session: live.generation,
                start,
                old,
                cseq: cseq.map(str::to_owned),
                session_id,
            }))
        }
        other => {
            tracing::warn!(%peer, method = other, "unsupported RTSP method");
            reply(501, "Not Implemented")
        }
    }
}
