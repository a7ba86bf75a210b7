//! The typed [`ControlMessage`] and its byte coding (the plaintext inside the encrypted envelope:
//! `[type: u16 LE][payload length: u16 LE][payload]`).

use super::types::*;
use super::ControlError;
use crate::crypto::Direction;
use crate::input::{self, InputEvent};

/// Per-frame FEC status a Sunshine-aware client reports for every frame (all fields big-endian on the
/// wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameFecStatus {
    /// Frame index.
    pub frame_index: u32,
    /// Highest RTP sequence number received for the frame.
    pub highest_received_seq: u16,
    /// Next RTP sequence number after the contiguous prefix received.
    pub next_contiguous_seq: u16,
    /// Packets missing below the highest received one.
    pub missing_before_highest: u16,
    /// Data shards of the frame's FEC block.
    pub total_data_packets: u16,
    /// Parity shards of the frame's FEC block.
    pub total_parity_packets: u16,
    /// Data shards received.
    pub received_data_packets: u16,
    /// Parity shards received.
    pub received_parity_packets: u16,
    /// FEC percentage of the block.
    pub fec_percentage: u8,
    /// Index of this FEC block in the frame.
    pub multi_fec_block_index: u8,
    /// Number of FEC blocks in the frame.
    pub multi_fec_block_count: u8,
}

/// Loss statistics of the older clients (all fields little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LossStats {
    /// Packets lost since the last report (the client sends 0).
    pub loss_count: u32,
    /// Reporting interval in milliseconds (50).
    pub interval_ms: u32,
    /// Constant 1000 in client builds.
    pub unknown_1000: u32,
    /// Index of the last complete frame.
    pub last_good_frame: u64,
    /// Trailing words as sent (0, 0, 0x14).
    pub tail: [u32; 3],
}

/// HDR10 static metadata (chromaticities normalised to 50 000; luminances as noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HdrMetadata {
    /// Display primaries R, G, B as (x, y).
    pub display_primaries: [(u16, u16); 3],
    /// White point (x, y).
    pub white_point: (u16, u16),
    /// Maximum display luminance, nits.
    pub max_display_luminance: u16,
    /// Minimum display luminance, 1/10000 nit.
    pub min_display_luminance: u16,
    /// Maximum content light level, nits.
    pub max_content_light_level: u16,
    /// Maximum frame-average light level, nits.
    pub max_frame_average_light_level: u16,
    /// Maximum full-frame luminance, nits.
    pub max_full_frame_luminance: u16,
}

/// How the host ended the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Termination {
    /// The extended form: a 32-bit HRESULT-style reason (see [`termination`](crate::control::termination)); other values reach
    /// the client application unchanged as its error code.
    Reason(u32),
    /// The short form: a 16-bit reason (0x0100 = intended).
    Short(u16),
}

/// Every gen-7 control message a host sends or receives.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlMessage {
    // ---- client → host ----
    /// Start A of the unencrypted table (type 0x0305).
    StartA,
    /// Start B (0x0307).
    StartB,
    /// IDR frame request (0x0302); with the encrypted table this is also the first start message.
    RequestIdrFrame,
    /// Periodic ping (0x0200) every 100 ms; its payload carries nothing the host needs.
    PeriodicPing,
    /// Loss statistics (0x0201).
    LossStats(LossStats),
    /// Reference frame invalidation (0x0301): frames `first..=last` are lost.
    InvalidateRefFrames {
        /// First lost frame.
        first: u32,
        /// Last lost frame.
        last: u32,
    },
    /// Acknowledgement of a long-term reference frame (0x0350).
    LtrFrameAck {
        /// Frame index.
        frame: u32,
    },
    /// Frame FEC status (0x5502 from the client).
    FrameFecStatus(FrameFecStatus),
    /// One input packet (0x0206), decoded.
    Input(InputEvent),
    // ---- host → client ----
    /// Termination (0x0109).
    Termination(Termination),
    /// Rumble (0x010b): motor strengths 0..=65535.
    Rumble {
        /// Controller slot.
        controller: u16,
        /// Low-frequency (large) motor.
        low_freq: u16,
        /// High-frequency (small) motor.
        high_freq: u16,
    },
    /// Trigger rumble (0x5500).
    RumbleTriggers {
        /// Controller slot.
        controller: u16,
        /// Left trigger motor.
        left: u16,
        /// Right trigger motor.
        right: u16,
    },
    /// Enable (rate > 0) or disable (rate 0) a motion sensor's reports (0x5501).
    SetMotionEvent {
        /// Controller slot.
        controller: u16,
        /// Requested report rate in Hz; 0 disables.
        report_rate_hz: u16,
        /// `LI_MOTION_TYPE_*`: 1 accelerometer, 2 gyroscope.
        motion_type: u8,
    },
    /// Controller RGB LED colour (0x5502 from the host).
    SetRgbLed {
        /// Controller slot.
        controller: u16,
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
    },
    /// DualSense adaptive trigger effects (0x5503); the effect blocks are opaque.
    AdaptiveTriggers {
        /// Controller slot.
        controller: u16,
        /// 0x04 right trigger, 0x08 left trigger.
        event_flags: u8,
        /// Effect type of the left trigger.
        type_left: u8,
        /// Effect type of the right trigger.
        type_right: u8,
        /// Left effect block.
        left: [u8; DS_EFFECT_PAYLOAD_SIZE],
        /// Right effect block.
        right: [u8; DS_EFFECT_PAYLOAD_SIZE],
    },
    /// HDR mode (0x010e) with Sunshine's metadata when present.
    HdrMode {
        /// HDR on or off.
        enabled: bool,
        /// Metadata (absent in the 1-byte form).
        metadata: Option<HdrMetadata>,
    },
}

struct R<'a> {
    b: &'a [u8],
    p: usize,
}

impl R<'_> {
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], ControlError> {
        let end = self.p + N;
        let s = self.b.get(self.p..end).ok_or(ControlError::Truncated { need: end, have: self.b.len() })?;
        self.p = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ControlError> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16le(&mut self) -> Result<u16, ControlError> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u16be(&mut self) -> Result<u16, ControlError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }
    fn u32le(&mut self) -> Result<u32, ControlError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u32be(&mut self) -> Result<u32, ControlError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64le(&mut self) -> Result<u64, ControlError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
}

fn need(payload: &[u8], n: usize) -> Result<(), ControlError> {
    if payload.len() < n {
        Err(ControlError::Truncated { need: V2_HEADER_LEN + n, have: V2_HEADER_LEN + payload.len() })
    } else {
        Ok(())
    }
}

/// Splits a plaintext control message into its type and payload, checking the length field.
pub fn split_header(buf: &[u8]) -> Result<(u16, &[u8]), ControlError> {
    if buf.len() < V2_HEADER_LEN {
        return Err(ControlError::Truncated { need: V2_HEADER_LEN, have: buf.len() });
    }
    let ty = u16::from_le_bytes([buf[0], buf[1]]);
    let len = usize::from(u16::from_le_bytes([buf[2], buf[3]]));
    let actual = buf.len() - V2_HEADER_LEN;
    if len != actual {
        return Err(ControlError::LengthMismatch { declared: len, actual });
    }
    Ok((ty, &buf[V2_HEADER_LEN..]))
}

impl ControlMessage {
    /// Decodes a plaintext control message `[type][length][payload]` sent by `from`.
    pub fn decode(from: Direction, buf: &[u8]) -> Result<Self, ControlError> {
        let (ty, payload) = split_header(buf)?;
        Self::decode_payload(from, ty, payload)
    }

    /// Decodes the payload of a message of type `ty` sent by `from`.
    pub fn decode_payload(from: Direction, ty: u16, payload: &[u8]) -> Result<Self, ControlError> {
        Self::decode_payload_inner(from, ty, payload)
            .inspect_err(|e| tracing::debug!(error = %e, ty, len = payload.len(), ?from, "rejecting control message"))
    }

    fn decode_payload_inner(from: Direction, ty: u16, payload: &[u8]) -> Result<Self, ControlError> {
        let mut r = R { b: payload, p: 0 };
        let msg = match (from, ty) {
            (Direction::ClientToHost, START_A) => ControlMessage::StartA,
            (Direction::ClientToHost, START_B) => ControlMessage::StartB,
            (Direction::ClientToHost, REQUEST_IDR_FRAME) => ControlMessage::RequestIdrFrame,
            (Direction::ClientToHost, PERIODIC_PING) => ControlMessage::PeriodicPing,
            (Direction::ClientToHost, LOSS_STATS) => {
                need(payload, LOSS_STATS_PAYLOAD)?;
                ControlMessage::LossStats(LossStats {
                    loss_count: r.u32le()?,
                    interval_ms: r.u32le()?,
                    unknown_1000: r.u32le()?,
                    last_good_frame: r.u64le()?,
                    tail: [r.u32le()?, r.u32le()?, r.u32le()?],
                })
            }
            (Direction::ClientToHost, INVALIDATE_REF_FRAMES) => {
                need(payload, RFI_PAYLOAD)?;
                let first = r.u32le()?;
                let _ = r.u32le()?;
                let last = r.u32le()?;
                ControlMessage::InvalidateRefFrames { first, last }
            }
            (Direction::ClientToHost, LTR_FRAME_ACK) => {
                need(payload, LTR_ACK_PAYLOAD)?;
                ControlMessage::LtrFrameAck { frame: r.u32le()? }
            }
            (Direction::ClientToHost, FRAME_FEC_STATUS) => {
                need(payload, FEC_STATUS_PAYLOAD)?;
                ControlMessage::FrameFecStatus(FrameFecStatus {
                    frame_index: r.u32be()?,
                    highest_received_seq: r.u16be()?,
                    next_contiguous_seq: r.u16be()?,
                    missing_before_highest: r.u16be()?,
                    total_data_packets: r.u16be()?,
                    total_parity_packets: r.u16be()?,
                    received_data_packets: r.u16be()?,
                    received_parity_packets: r.u16be()?,
                    fec_percentage: r.u8()?,
                    multi_fec_block_index: r.u8()?,
                    multi_fec_block_count: r.u8()?,
                })
            }
            (Direction::ClientToHost, INPUT_DATA) => ControlMessage::Input(input::decode(payload)?),
            (Direction::HostToClient, TERMINATION) => {
                if payload.len() >= TERMINATION_PAYLOAD {
                    ControlMessage::Termination(Termination::Reason(r.u32be()?))
                } else {
                    need(payload, 2)?;
                    ControlMessage::Termination(Termination::Short(r.u16le()?))
                }
            }
            (Direction::HostToClient, RUMBLE) => {
                need(payload, RUMBLE_PAYLOAD)?;
                let _ = r.u32le()?;
                ControlMessage::Rumble { controller: r.u16le()?, low_freq: r.u16le()?, high_freq: r.u16le()? }
            }
            (Direction::HostToClient, RUMBLE_TRIGGERS) => {
                need(payload, RUMBLE_TRIGGERS_PAYLOAD)?;
                ControlMessage::RumbleTriggers { controller: r.u16le()?, left: r.u16le()?, right: r.u16le()? }
            }
            (Direction::HostToClient, SET_MOTION_EVENT) => {
                need(payload, MOTION_EVENT_PAYLOAD)?;
                ControlMessage::SetMotionEvent {
                    controller: r.u16le()?,
                    report_rate_hz: r.u16le()?,
                    motion_type: r.u8()?,
                }
            }
            (Direction::HostToClient, SET_RGB_LED) => {
                need(payload, RGB_LED_PAYLOAD)?;
                ControlMessage::SetRgbLed { controller: r.u16le()?, r: r.u8()?, g: r.u8()?, b: r.u8()? }
            }
            (Direction::HostToClient, ADAPTIVE_TRIGGERS) => {
                need(payload, ADAPTIVE_TRIGGERS_PAYLOAD)?;
                ControlMessage::AdaptiveTriggers {
                    controller: r.u16le()?,
                    event_flags: r.u8()?,
                    type_left: r.u8()?,
                    type_right: r.u8()?,
                    left: r.arr()?,
                    right: r.arr()?,
                }
            }
            (Direction::HostToClient, HDR_MODE) => {
                need(payload, 1)?;
                let enabled = r.u8()? != 0;
                let metadata = if payload.len() >= HDR_PAYLOAD {
                    Some(HdrMetadata {
                        display_primaries: [
                            (r.u16le()?, r.u16le()?),
                            (r.u16le()?, r.u16le()?),
                            (r.u16le()?, r.u16le()?),
                        ],
                        white_point: (r.u16le()?, r.u16le()?),
                        max_display_luminance: r.u16le()?,
                        min_display_luminance: r.u16le()?,
                        max_content_light_level: r.u16le()?,
                        max_frame_average_light_level: r.u16le()?,
                        max_full_frame_luminance: r.u16le()?,
                    })
                } else {
                    None
                };
                ControlMessage::HdrMode { enabled, metadata }
            }
            (_, ENCRYPTED) => return Err(ControlError::NotEncrypted(ENCRYPTED)),
            (from, ty) => return Err(ControlError::UnknownType { ty, from }),
        };
        Ok(msg)
    }

    /// The sender of this message kind.
    pub fn direction(&self) -> Direction {
        match self {
            ControlMessage::StartA
            | ControlMessage::StartB
            | ControlMessage::RequestIdrFrame
            | ControlMessage::PeriodicPing
            | ControlMessage::LossStats(_)
            | ControlMessage::InvalidateRefFrames { .. }
            | ControlMessage::LtrFrameAck { .. }
            | ControlMessage::FrameFecStatus(_)
            | ControlMessage::Input(_) => Direction::ClientToHost,
            _ => Direction::HostToClient,
        }
    }

    /// The message type number.
    pub fn type_id(&self) -> u16 {
        match self {
            ControlMessage::StartA => START_A,
            ControlMessage::StartB => START_B,
            ControlMessage::RequestIdrFrame => REQUEST_IDR_FRAME,
            ControlMessage::PeriodicPing => PERIODIC_PING,
            ControlMessage::LossStats(_) => LOSS_STATS,
            ControlMessage::InvalidateRefFrames { .. } => INVALIDATE_REF_FRAMES,
            ControlMessage::LtrFrameAck { .. } => LTR_FRAME_ACK,
            ControlMessage::FrameFecStatus(_) => FRAME_FEC_STATUS,
            ControlMessage::Input(_) => INPUT_DATA,
            ControlMessage::Termination(_) => TERMINATION,
            ControlMessage::Rumble { .. } => RUMBLE,
            ControlMessage::RumbleTriggers { .. } => RUMBLE_TRIGGERS,
            ControlMessage::SetMotionEvent { .. } => SET_MOTION_EVENT,
            ControlMessage::SetRgbLed { .. } => SET_RGB_LED,
            ControlMessage::AdaptiveTriggers { .. } => ADAPTIVE_TRIGGERS,
            ControlMessage::HdrMode { .. } => HDR_MODE,
        }
    }

    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        match self {
            ControlMessage::StartA | ControlMessage::RequestIdrFrame => IDR_PAYLOAD,
            ControlMessage::StartB => START_B_PAYLOAD,
            ControlMessage::PeriodicPing => PING_PAYLOAD,
            ControlMessage::LossStats(_) => LOSS_STATS_PAYLOAD,
            ControlMessage::InvalidateRefFrames { .. } => RFI_PAYLOAD,
            ControlMessage::LtrFrameAck { .. } => LTR_ACK_PAYLOAD,
            ControlMessage::FrameFecStatus(_) => FEC_STATUS_PAYLOAD,
            ControlMessage::Input(ev) => input::encoded_len(ev),
            ControlMessage::Termination(Termination::Reason(_)) => TERMINATION_PAYLOAD,
            ControlMessage::Termination(Termination::Short(_)) => 2,
            ControlMessage::Rumble { .. } => RUMBLE_PAYLOAD,
            ControlMessage::RumbleTriggers { .. } => RUMBLE_TRIGGERS_PAYLOAD,
            ControlMessage::SetMotionEvent { .. } => MOTION_EVENT_PAYLOAD,
            ControlMessage::SetRgbLed { .. } => RGB_LED_PAYLOAD,
            ControlMessage::AdaptiveTriggers { .. } => ADAPTIVE_TRIGGERS_PAYLOAD,
            ControlMessage::HdrMode { metadata: Some(_), .. } => HDR_PAYLOAD,
            ControlMessage::HdrMode { metadata: None, .. } => 1,
        }
    }

    /// Total encoded length (`4 + payload`).
    pub fn encoded_len(&self) -> usize {
        V2_HEADER_LEN + self.payload_len()
    }

    /// Writes `[type][length][payload]` into `out` and returns the bytes written.
    pub fn encode_into(&self, out: &mut [u8]) -> Result<usize, ControlError> {
        let plen = self.payload_len();
        let total = V2_HEADER_LEN + plen;
        if out.len() < total {
            return Err(ControlError::BufferTooSmall { need: total, have: out.len() });
        }
        out[0..2].copy_from_slice(&self.type_id().to_le_bytes());
        out[2..4].copy_from_slice(&(plen as u16).to_le_bytes());
        let p = &mut out[V2_HEADER_LEN..total];
        let mut w = W { b: p, p: 0 };
        match *self {
            ControlMessage::StartA | ControlMessage::RequestIdrFrame => w.put(&[0, 0]),
            ControlMessage::StartB => w.put(&[0]),
            ControlMessage::PeriodicPing => {
                w.put(&4u16.to_le_bytes());
                w.put(&[0; 6]);
            }
            ControlMessage::LossStats(s) => {
                w.put(&s.loss_count.to_le_bytes());
                w.put(&s.interval_ms.to_le_bytes());
                w.put(&s.unknown_1000.to_le_bytes());
                w.put(&s.last_good_frame.to_le_bytes());
                for t in s.tail {
                    w.put(&t.to_le_bytes());
                }
            }
            ControlMessage::InvalidateRefFrames { first, last } => {
                w.put(&first.to_le_bytes());
                w.put(&[0; 4]);
                w.put(&last.to_le_bytes());
                w.put(&[0; 12]);
            }
            ControlMessage::LtrFrameAck { frame } => {
                w.put(&frame.to_le_bytes());
                w.put(&[0; 4]);
            }
            ControlMessage::FrameFecStatus(f) => {
                w.put(&f.frame_index.to_be_bytes());
                for v in [
                    f.highest_received_seq,
                    f.next_contiguous_seq,
                    f.missing_before_highest,
                    f.total_data_packets,
                    f.total_parity_packets,
                    f.received_data_packets,
                    f.received_parity_packets,
                ] {
                    w.put(&v.to_be_bytes());
                }
                w.put(&[f.fec_percentage, f.multi_fec_block_index, f.multi_fec_block_count]);
            }
            ControlMessage::Input(ref ev) => {
                let n = input::encode_into(ev, w.b)?;
                w.p += n;
            }
            ControlMessage::Termination(Termination::Reason(r)) => w.put(&r.to_be_bytes()),
            ControlMessage::Termination(Termination::Short(r)) => w.put(&r.to_le_bytes()),
            ControlMessage::Rumble { controller, low_freq, high_freq } => {
                w.put(&[0; 4]);
                w.u16s(&[controller, low_freq, high_freq]);
            }
            ControlMessage::RumbleTriggers { controller, left, right } => w.u16s(&[controller, left, right]),
            ControlMessage::SetMotionEvent { controller, report_rate_hz, motion_type } => {
                w.u16s(&[controller, report_rate_hz]);
                w.put(&[motion_type]);
            }
            ControlMessage::SetRgbLed { controller, r, g, b } => {
                w.u16s(&[controller]);
                w.put(&[r, g, b]);
            }
            ControlMessage::AdaptiveTriggers { controller, event_flags, type_left, type_right, left, right } => {
                w.u16s(&[controller]);
                w.put(&[event_flags, type_left, type_right]);
                w.put(&left);
                w.put(&right);
            }
            ControlMessage::HdrMode { enabled, metadata } => {
                w.put(&[u8::from(enabled)]);
                if let Some(m) = metadata {
                    let [(rx, ry), (gx, gy), (bx, by)] = m.display_primaries;
                    w.u16s(&[
                        rx,
                        ry,
                        gx,
                        gy,
                        bx,
                        by,
                        m.white_point.0,
                        m.white_point.1,
                        m.max_display_luminance,
                        m.min_display_luminance,
                        m.max_content_light_level,
                        m.max_frame_average_light_level,
                        m.max_full_frame_luminance,
                    ]);
                }
            }
        }
        debug_assert_eq!(w.p, plen, "payload_len and encode_into disagree");
        Ok(total)
    }
}

struct W<'a> {
    b: &'a mut [u8],
    p: usize,
}

impl W<'_> {
    fn put(&mut self, s: &[u8]) {
        // The caller sized the slice with payload_len().
        self.b[self.p..self.p + s.len()].copy_from_slice(s);
        self.p += s.len();
    }
    fn u16s(&mut self, v: &[u16]) {
        for x in v {
            self.put(&x.to_le_bytes());
        }
    }
}
