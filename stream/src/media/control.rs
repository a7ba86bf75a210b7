//! The control stream of one session, on its route of the shared ENet port (`super::control_mux`:
//! rusty_enet, ENet 1.3 wire format, as the client's ENet fork speaks it): gen-7 encrypted control v2
//! messages in, requests to the encoder out (IDR,
//! reference-frame invalidation, bitrate on sustained loss), input packets decoded by core and handed
//! to the `InputSink` in order, host messages (HDR mode, rumble, termination) to the client, and the
//! client-gone detection (ENet disconnect/timeout, or 10 s of silence) that ends the session.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lumen_core::control::envelope::ControlCodec;
use lumen_core::control::{termination, ControlError, ControlMessage, HdrMetadata, Termination};
use lumen_core::crypto::{Direction, RemoteInputKey};
use rusty_enet::{PacketReceived, Socket, SocketOptions, MTU_MAX};

use super::control_mux::{ControlIn, ControlRoute};
use super::input_sink::InputSink;
use super::shared::Shared;
use crate::media_plane::EndReason;

/// How long the client may take to connect the control stream.
pub const CONNECT_WAIT: Duration = Duration::from_secs(15);
/// Silence after which a connected client counts as gone (it pings every 100 ms).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(10);
/// Longest sleep of the control loop while nothing arrives (host messages such as rumble wait at most
/// this long).
const IDLE_WAIT: Duration = Duration::from_millis(10);
/// HRESULT of a graceful host-side termination (`NVST_DISCONN_SERVER_TERMINATED_CLOSED`).
pub const TERMINATION_GRACEFUL: u32 = termination::SERVER_TERMINATED_CLOSED;
/// Room for the largest host message (HDR mode with metadata) in its envelope.
const OUT_LEN: usize = 128;

/// Messages the host sends on the control stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMessage {
    /// Feedback for a controller of the client (rumble, light bar, motion reports, triggers).
    Pad(lumen_core::gamepad::PadFeedback),
    Hdr(bool),
}

/// What the control stream needs.
pub struct ControlSetup {
    pub key: RemoteInputKey,
    pub encrypted: bool,
    pub client_ip: IpAddr,
    pub sink: Arc<dyn InputSink>,
    pub bitrate_kbps: u32,
}

/// A UDP socket for ENet that logs and drops datagrams that are not ENet protocol headers.
pub struct GuardedSocket {
    sock: UdpSocket,
}

impl GuardedSocket {
    pub fn new(sock: UdpSocket) -> Self {
        Self { sock }
    }
}

/// Whether a datagram starts like an ENet 1.3 protocol header followed by a command.
pub fn looks_like_enet(d: &[u8]) -> bool {
    if d.len() < 4 {
        return false;
    }
    let flags = u16::from_be_bytes([d[0], d[1]]);
    if flags & 0x4000 != 0 {
        // Compressed: we never negotiate compression.
        return false;
    }
    let header = if flags & 0x8000 != 0 { 4 } else { 2 };
    if d.len() < header + 4 {
        return false;
    }
    matches!(d[header] & 0x0f, 1..=12)
}

impl Socket for GuardedSocket {
    type Address = SocketAddr;
    type Error = io::Error;

    fn init(&mut self, _o: SocketOptions) -> Result<(), io::Error> {
        self.sock.set_nonblocking(true)
    }

    fn send(&mut self, address: SocketAddr, buffer: &[u8]) -> Result<usize, io::Error> {
        match self.sock.send_to(buffer, address) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn receive(&mut self, buffer: &mut [u8; MTU_MAX]) -> Result<Option<(SocketAddr, PacketReceived)>, io::Error> {
        loop {
            match self.sock.recv_from(buffer) {
                Ok((n, from)) => {
                    if looks_like_enet(&buffer[..n]) {
                        return Ok(Some((from, PacketReceived::Complete(n))));
                    }
                    crate::noise::record(from.ip(), "control: a datagram that is not ENet", &format_args!("{n} bytes"));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

pub fn spawn(
    shared: Arc<Shared>,
    setup: ControlSetup,
    route: ControlRoute,
    host_rx: Receiver<HostMessage>,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name("lumen-control".into()).spawn(move || {
        run(&shared, setup, &route, host_rx);
    })?)
}

/// Bitrate control from the client's per-frame FEC status reports.
struct LossControl {
    initial: u32,
    window_start: Instant,
    lost: u64,
    total: u64,
    bad_windows: u32,
    good_windows: u32,
}

impl LossControl {
    const WINDOW: Duration = Duration::from_secs(2);

    fn new(initial: u32, now: Instant) -> Self {
        Self { initial, window_start: now, lost: 0, total: 0, bad_windows: 0, good_windows: 0 }
    }

    /// Adds one FEC status report received at `now`; may change the shared bitrate.
    fn report(&mut self, shared: &Shared, lost: u64, total: u64, now: Instant) {
        self.lost += lost;
        self.total += total;
        if now.saturating_duration_since(self.window_start) < Self::WINDOW {
            return;
        }
        let ratio = if self.total == 0 { 0.0 } else { self.lost as f64 / self.total as f64 };
        shared.loss_bp.store((ratio * 10_000.0) as u64, Ordering::Relaxed);
        self.window_start = now;
        self.lost = 0;
        self.total = 0;
        let cur = shared.bitrate_kbps.load(Ordering::Relaxed);
        if ratio > 0.05 {
            self.bad_windows += 1;
            self.good_windows = 0;
            if self.bad_windows >= 2 {
                let new = (cur * 4 / 5).max(self.initial / 4).max(500);
                if new < cur {
                    tracing::warn!(
                        loss_pct = ratio * 100.0,
                        from = cur,
                        to = new,
                        "sustained video loss: lowering bitrate"
                    );
                    shared.set_bitrate(new);
                }
                self.bad_windows = 0;
            }
        } else if ratio < 0.01 {
            self.good_windows += 1;
            self.bad_windows = 0;
            if self.good_windows >= 5 && cur < self.initial {
                let new = (cur + cur / 10).min(self.initial);
                tracing::info!(from = cur, to = new, "video loss gone: raising bitrate");
                shared.set_bitrate(new);
                self.good_windows = 0;
            }
        }
    }
}

fn run(shared: &Shared, setup: ControlSetup, route: &ControlRoute, host_rx: Receiver<HostMessage>) {
    let mut codec = ControlCodec::host(&setup.key);
    let mut connected = false;
    let mut out = [0u8; OUT_LEN];
    let mut loss = LossControl::new(setup.bitrate_kbps, Instant::now());
    let started = Instant::now();
    loop {
        if shared.stopping() {
            if connected {
                let term = ControlMessage::Termination(Termination::Reason(TERMINATION_GRACEFUL));
                if let Some(n) = seal(&mut codec, setup.encrypted, &term, &mut out) {
                    route.send(&out[..n]);
                }
                // The mux delivers it, then disconnects the peer.
                route.disconnect();
                tracing::info!("control: termination sent");
            }
            return;
        }
        match route.inbox.recv_timeout(IDLE_WAIT) {
            Ok(ControlIn::Connected(from)) => {
                tracing::info!(%from, "control: client connected");
                connected = true;
                shared.heard_now();
                if let Some(n) = seal(&mut codec, setup.encrypted, &hdr_mode(false), &mut out) {
                    route.send(&out[..n]);
                }
            }
            Ok(ControlIn::Disconnected) => {
                tracing::info!("control: client disconnected");
                shared.end(EndReason::ClientGone);
                return;
            }
            Ok(ControlIn::Packet(mut bytes)) => {
                shared.heard_now();
                handle(shared, &setup, &codec, bytes.bytes_mut(), &mut loss);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                shared.end(EndReason::Error("the control port closed".into()));
                return;
            }
        }
        while let Ok(msg) = host_rx.try_recv() {
            if !connected {
                continue;
            }
            let msg = match msg {
                HostMessage::Pad(f) => f.to_control(),
                HostMessage::Hdr(on) => hdr_mode(on),
            };
            if let Some(n) = seal(&mut codec, setup.encrypted, &msg, &mut out) {
                route.send(&out[..n]);
            }
        }
        let now_ms = shared.started.elapsed().as_millis() as u64;
        if !connected && started.elapsed() > CONNECT_WAIT {
            tracing::warn!("control: the client never connected");
            shared.end(EndReason::ClientGone);
            return;
        }
        if connected
            && now_ms.saturating_sub(shared.last_heard_ms.load(Ordering::Relaxed)) > SILENCE_LIMIT.as_millis() as u64
        {
            tracing::warn!("control: client silent for {:?}; ending the session", SILENCE_LIMIT);
            shared.end(EndReason::ClientGone);
            return;
        }
    }
}

/// HDR mode with Sunshine's metadata block (all zero: no mastering display information).
fn hdr_mode(enabled: bool) -> ControlMessage {
    ControlMessage::HdrMode { enabled, metadata: Some(HdrMetadata::default()) }
}

/// Encodes a host message into `out`: sealed in the v2 envelope when negotiated, else the V1 form
/// `[type: u16 LE][payload]`. Returns the packet length; `None` (logged) if it cannot be encoded.
fn seal(codec: &mut ControlCodec, encrypted: bool, msg: &ControlMessage, out: &mut [u8]) -> Option<usize> {
    let r = if encrypted {
        codec.seal(msg, out)
    } else {
        // V1 carries no length field: drop it from the V2 form.
        msg.encode_into(out).map(|n| {
            out.copy_within(4..n, 2);
            n - 2
        })
    };
    r.inspect_err(|e| tracing::error!(error = %e, ty = msg.type_id(), "control: host message not encoded")).ok()
}

/// Opens one client packet: the v2 envelope when negotiated, else the V1 form.
fn open(codec: &ControlCodec, encrypted: bool, pkt: &mut [u8]) -> Result<ControlMessage, ControlError> {
    if encrypted {
        return codec.open(pkt).map(|(_, m)| m);
    }
    if pkt.len() < 2 {
        return Err(ControlError::Truncated { need: 2, have: pkt.len() });
    }
    ControlMessage::decode_payload(Direction::ClientToHost, u16::from_le_bytes([pkt[0], pkt[1]]), &pkt[2..])
}

fn handle(shared: &Shared, setup: &ControlSetup, codec: &ControlCodec, pkt: &mut [u8], loss: &mut LossControl) {
    let msg = match open(codec, setup.encrypted, pkt) {
        Ok(m) => m,
        Err(ControlError::Input(e)) => {
            crate::noise::record(setup.client_ip, "control: undecodable input packet", &e);
            return;
        }
        Err(ControlError::UnknownType { ty, .. }) => {
            tracing::debug!(ty = format_args!("{ty:#06x}"), "control: unhandled message");
            return;
        }
        Err(e) => {
            crate::noise::record(
                setup.client_ip,
                "control: malformed or undecryptable message",
                &format_args!("{e} ({} bytes)", pkt.len()),
            );
            return;
        }
    };
    match msg {
        ControlMessage::PeriodicPing => {}
        ControlMessage::RequestIdrFrame => {
            tracing::debug!("control: IDR request");
            shared.request_idr_from_client();
        }
        ControlMessage::StartA => tracing::info!("control: start A"),
        ControlMessage::StartB => tracing::info!("control: start B"),
        ControlMessage::InvalidateRefFrames { first, last } => {
            tracing::debug!(first, last, "control: reference frame invalidation");
            shared.invalidate_refs(u64::from(first), u64::from(last));
        }
        ControlMessage::FrameFecStatus(f) => {
            let total = u64::from(f.total_data_packets) + u64::from(f.total_parity_packets);
            let received = u64::from(f.received_data_packets) + u64::from(f.received_parity_packets);
            loss.report(shared, total.saturating_sub(received), total, Instant::now());
        }
        ControlMessage::LossStats(s) => {
            let lost = u64::from(s.loss_count);
            loss.report(shared, lost, lost.max(1) * 10, Instant::now());
        }
        ControlMessage::Input(ev) => setup.sink.input(ev),
        other => tracing::debug!(ty = format_args!("{:#06x}", other.type_id()), "control: unhandled message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enet_guard_accepts_protocol_headers_only() {
        // Connect command (2) with a sent-time header.
        assert!(looks_like_enet(&[0x8f, 0xff, 0, 0, 0x82, 0xff, 0, 1, 0, 0]));
        // Ping (5) without sent time.
        assert!(looks_like_enet(&[0x00, 0x00, 0x85, 0x00, 0, 2]));
        assert!(!looks_like_enet(b"GARBAGE!"));
        assert!(!looks_like_enet(&[0, 0, 0x0f, 0, 0, 0]));
        assert!(!looks_like_enet(&[1, 2]));
    }

    #[test]
    fn sustained_loss_lowers_the_bitrate_and_recovery_restores_it() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        let requests: crate::media::feed::RequestSender =
            Arc::new(move |r| log.lock().unwrap_or_else(|e| e.into_inner()).push(r));
        let shared = Shared::new(10_000, Box::new(|_| {}), requests);
        let t0 = Instant::now();
        let mut lc = LossControl::new(10_000, t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // One lossy window is not sustained loss.
        lc.report(&shared, 10, 100, at(100));
        lc.report(&shared, 10, 100, at(2100));
        assert_eq!(shared.bitrate_kbps.load(Ordering::Relaxed), 10_000);
        // The second lossy window in a row lowers it by 20 %.
        lc.report(&shared, 10, 100, at(4200));
        assert_eq!(shared.bitrate_kbps.load(Ordering::Relaxed), 8_000);
        // Five clean windows raise it by 10 %.
        for k in 0..5 {
            lc.report(&shared, 0, 100, at(6300 + 2100 * k));
        }
        assert_eq!(shared.bitrate_kbps.load(Ordering::Relaxed), 8_800);
        // Never below a quarter of the negotiated rate.
        for k in 0..40 {
            lc.report(&shared, 50, 100, at(20_000 + 2100 * k));
        }
        assert_eq!(shared.bitrate_kbps.load(Ordering::Relaxed), 2_500);
        // Every change reached the encoder as a request, not as a value it polls.
        let asked = asked.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(asked.first(), Some(&crate::media::feed::EncoderRequest::Bitrate(8_000)));
        assert_eq!(asked.last(), Some(&crate::media::feed::EncoderRequest::Bitrate(2_500)));
    }
}
