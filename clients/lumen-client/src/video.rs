//! The video receiver: pings the host's video (and audio) port with the session's ping payload, receives
//! datagrams, rebuilds frames — the lumen transport through `lumen_core::transport::SealedVideoReceiver`
//! (the receive path the C ABI exposes too), or Moonlight's datagrams through `VideoReassembler` — decodes
//! them, prints one JSON line per frame, and reports loss to the host for the lumen FEC policy.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lumen_core::control::{ControlMessage, FrameFecStatus};
use lumen_core::transport::{derive_video_key, SealedVideoReceiver, TransportSalt};
use lumen_core::video::{FrameType, Reassembled, VideoParams, VideoReassembler};

use crate::decode::H264;
use crate::stats::{FrameLine, Latencies};

/// What the receiver needs.
pub struct VideoSetup {
    pub video: SocketAddr,
    pub audio: SocketAddr,
    pub ping_payload: Option<[u8; 16]>,
    /// `Some((rikey, salt))` for the lumen transport.
    pub lumen: Option<([u8; 16], [u8; 16])>,
    pub packet_size: usize,
    /// Stop after this many decoded frames (0: no limit).
    pub max_frames: u64,
    /// Stop after this long.
    pub duration: Duration,
    /// Control messages (input) to send once the first frame is decoded.
    pub input: Vec<ControlMessage>,
}

enum Rx {
    Lumen(Box<SealedVideoReceiver>),
    Moonlight(Box<VideoReassembler>),
}

/// Runs until `stop`, the frame limit or the duration; returns the decoder (with the last picture), the
/// latency samples and the count of decoded frames.
pub fn run(
    setup: &VideoSetup,
    control: &SyncSender<ControlMessage>,
    stop: &AtomicBool,
    on_picture: &mut dyn FnMut(&[u8], usize, usize),
) -> anyhow::Result<(H264, Latencies, u64)> {
    let bind = if setup.video.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(bind)?;
    let audio = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut rx = match setup.lumen {
        Some((rikey, salt)) => {
            let key = derive_video_key(&rikey, &TransportSalt(salt));
            Rx::Lumen(Box::new(SealedVideoReceiver::new(&key, setup.packet_size)?))
        }
        None => Rx::Moonlight(Box::new(VideoReassembler::new(VideoParams {
            packet_size: setup.packet_size,
            fec_percentage: 20,
            min_fec_packets: 2,
        })?)),
    };
    let mut dec = H264::new()?;
    let mut au: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut buf = vec![0u8; 65536];
    let mut lat = Latencies::default();
    let started = Instant::now();
    let mut last_ping = None::<Instant>;
    let mut ping_seq: u32 = 0;
    let mut decoded: u64 = 0;
    let mut waiting_idr = false;
    let mut abandoned_seen = 0;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < setup.duration {
        if last_ping.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            ping_seq = ping_seq.wrapping_add(1);
            let mut ping = Vec::with_capacity(20);
            match setup.ping_payload {
                Some(p) => {
                    ping.extend_from_slice(&p);
                    ping.extend_from_slice(&ping_seq.to_be_bytes());
                }
                None => ping.extend_from_slice(b"PING"),
            }
            let _ = sock.send_to(&ping, setup.video);
            let _ = audio.send_to(&ping, setup.audio);
            last_ping = Some(Instant::now());
        }
        let n = match sock.recv_from(&mut buf) {
            Ok((n, from)) if from.ip() == setup.video.ip() => n,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.into()),
        };
        // One complete frame at a time: (index, type, host latency 0.1 ms, capture µs, recovered shards).
        let mut got: Option<(u32, FrameType, u16, u64, usize)> = None;
        match &mut rx {
            Rx::Lumen(r) => match r.push(&mut buf[..n]) {
                Ok(Some(f)) => {
                    let h = f.frame.header;
                    au.clear();
                    au.extend_from_slice(f.frame.data);
                    got = Some((h.frame_index, h.frame_type, h.host_latency, f.capture_us, f.frame.recovered_shards));
                    let seen = (f.frame.highest_shard + 1) as u16;
                    let received = f.frame.received_shards as u16;
                    let data_seen = seen.min(h.data_shards);
                    let status = FrameFecStatus {
                        frame_index: h.frame_index,
                        highest_received_seq: 0,
                        next_contiguous_seq: 0,
                        missing_before_highest: seen - received,
                        total_data_packets: data_seen,
                        total_parity_packets: seen - data_seen,
                        received_data_packets: received.min(data_seen),
                        received_parity_packets: received - received.min(data_seen),
                        fec_percentage: 0,
                        multi_fec_block_index: 0,
                        multi_fec_block_count: 1,
                    };
                    let _ = control.try_send(ControlMessage::FrameFecStatus(status));
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "lumen datagram refused"),
            },
            Rx::Moonlight(r) => {
                if r.push(&buf[..n]).is_ok() {
                    while let Some(ev) = r.poll() {
                        match ev {
                            Reassembled::Frame(f) => {
                                au.clear();
                                au.extend_from_slice(f.data);
                                got = Some((f.frame_index, f.frame_type, f.host_latency, 0, f.recovered_shards));
                            }
                            Reassembled::Lost { first, last } => {
                                tracing::info!(first, last, "frames lost: asking for an IDR");
                                let _ = control.try_send(ControlMessage::RequestIdrFrame);
                            }
                        }
                    }
                }
            }
        }
        let Some((index, ftype, host_latency, capture_us, recovered)) = got else { continue };
        if let Rx::Lumen(r) = &rx {
            // A frame abandoned unfinished breaks the reference chain: ask for an IDR and skip until it comes.
            if r.abandoned() > abandoned_seen {
                abandoned_seen = r.abandoned();
                waiting_idr = true;
                let _ = control.try_send(ControlMessage::RequestIdrFrame);
            }
        }
        if waiting_idr && ftype != FrameType::Idr {
            continue;
        }
        waiting_idr = false;
        let ok = dec.decode(&au);
        let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        let latency_us = (capture_us > 0 && ok).then(|| now_us.saturating_sub(capture_us));
        if let Some(l) = latency_us {
            lat.push(l);
        }
        if ok {
            let (rgb, w, h) = dec.rgb();
            on_picture(rgb, w, h);
            decoded += 1;
            if decoded == 1 {
                for m in &setup.input {
                    let _ = control.try_send(m.clone());
                }
            }
        }
        FrameLine {
            index,
            idr: ftype == FrameType::Idr,
            bytes: au.len(),
            recovered,
            decoded: ok,
            host_latency,
            latency_us,
        }
        .print();
        if setup.max_frames > 0 && decoded >= setup.max_frames {
            break;
        }
    }
    Ok((dec, lat, decoded))
}
