//! Byte encoding of the link's frames ([`super`] describes the layout). Encoders append to a caller-owned
//! `Vec` (reused: no allocation once it has grown); decoders borrow from the caller's buffer.

use super::{LinkError, StreamStart, ToHost, ToWorker};

/// Bytes of the frame header: `body_len: u32 LE` and `kind: u8`.
pub const HEADER_LEN: usize = 5;
/// Largest body accepted (kind included): 1 MiB, far above any control message.
pub const MAX_BODY: usize = 1 << 20;
/// The kind byte of an Opus packet (the only message on the audio link).
pub const OPUS_KIND: u8 = kind::OPUS;

mod kind {
    pub const START: u8 = 0x01;
    pub const INPUT: u8 = 0x02;
    pub const REQUEST_IDR: u8 = 0x03;
    pub const INVALIDATE_REFS: u8 = 0x04;
    pub const SET_BITRATE: u8 = 0x05;
    pub const STOP_STREAM: u8 = 0x06;
    pub const END: u8 = 0x07;
    pub const READY: u8 = 0x81;
    pub const STREAMING: u8 = 0x82;
    pub const APP_EXITED: u8 = 0x84;
    pub const FAILED: u8 = 0x85;
    pub const OPUS: u8 = 0x86;
    pub const PAD: u8 = 0x87;
}

/// A parsed frame header: the message kind and how many body bytes follow the kind byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message kind.
    pub kind: u8,
    /// Body bytes after the kind byte.
    pub body_len: usize,
}

/// Parses the 5 header bytes of a frame.
pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<Header, LinkError> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if len == 0 || len > MAX_BODY {
        return Err(LinkError::BadLength(len));
    }
    Ok(Header { kind: h[4], body_len: len - 1 })
}

fn begin(out: &mut Vec<u8>, kind: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, kind]);
    at
}

fn finish(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Appends one host → worker frame to `out`.
pub fn encode_to_worker(msg: &ToWorker<'_>, out: &mut Vec<u8>) {
    match msg {
        ToWorker::Start(s) => {
            let at = begin(out, kind::START);
            for v in [
                s.width,
                s.height,
                s.fps,
                s.bitrate_kbps,
                s.csc_mode,
                s.slices,
                s.app_id,
                s.audio_packet_ms,
                s.audio_channels,
                s.audio_bitrate_bps,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.push(u8::from(s.audio_high_quality));
            out.push(match s.pad_kind {
                None => 0,
                Some(crate::gamepad::PadKind::Xbox) => 1,
                Some(crate::gamepad::PadKind::DualSense) => 2,
            });
            put_str(out, s.app_cmd);
            finish(out, at);
        }
        ToWorker::Input(bytes) => {
            let at = begin(out, kind::INPUT);
            out.extend_from_slice(bytes);
            finish(out, at);
        }
        ToWorker::RequestIdr => finish_empty(out, kind::REQUEST_IDR),
        ToWorker::InvalidateRefs { first, last } => {
            let at = begin(out, kind::INVALIDATE_REFS);
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&last.to_le_bytes());
            finish(out, at);
        }
        ToWorker::SetBitrate { kbps } => {
            let at = begin(out, kind::SET_BITRATE);
            out.extend_from_slice(&kbps.to_le_bytes());
            finish(out, at);
        }
        ToWorker::StopStream => finish_empty(out, kind::STOP_STREAM),
        ToWorker::End { end_app } => {
            let at = begin(out, kind::END);
            out.push(u8::from(*end_app));
            finish(out, at);
        }
    }
}

fn finish_empty(out: &mut Vec<u8>, k: u8) {
    let at = begin(out, k);
    finish(out, at);
}

/// Appends one worker → host frame to `out`.
pub fn encode_to_host(msg: &ToHost<'_>, out: &mut Vec<u8>) {
    match msg {
        ToHost::Ready { version, pid } => {
            let at = begin(out, kind::READY);
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&pid.to_le_bytes());
            finish(out, at);
        }
        ToHost::Streaming { width, height } => {
            let at = begin(out, kind::STREAMING);
            out.extend_from_slice(&width.to_le_bytes());
            out.extend_from_slice(&height.to_le_bytes());
            finish(out, at);
        }
        ToHost::AppExited { code } => {
            let at = begin(out, kind::APP_EXITED);
            out.extend_from_slice(&code.to_le_bytes());
            finish(out, at);
        }
        ToHost::Pad(f) => {
            let at = begin(out, kind::PAD);
            f.encode(out);
            finish(out, at);
        }
        ToHost::Failed { message } => {
            let at = begin(out, kind::FAILED);
            out.extend_from_slice(message.as_bytes());
            finish(out, at);
        }
        ToHost::Opus { heard_ns, data } => {
            let at = begin(out, kind::OPUS);
            out.extend_from_slice(&heard_ns.to_le_bytes());
            out.extend_from_slice(data);
            finish(out, at);
        }
    }
}

/// A cursor over a body that fails with [`LinkError::Truncated`].
struct Body<'a> {
    kind: u8,
    b: &'a [u8],
    at: usize,
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LinkError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let Some(end) = end else {
            return Err(LinkError::Truncated { kind: self.kind, need: self.at.saturating_add(n), have: self.b.len() });
        };
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, LinkError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, LinkError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, LinkError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, LinkError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn flag(&mut self, field: &'static str) -> Result<bool, LinkError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(LinkError::BadField { field, value: u64::from(v) }),
        }
    }
    fn text(&mut self, len: usize) -> Result<&'a str, LinkError> {
        std::str::from_utf8(self.take(len)?).map_err(|_| LinkError::BadText(self.kind))
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.at..];
        self.at = self.b.len();
        s
    }
}

/// Decodes the body of a host → worker frame of `kind`.
pub fn decode_to_worker(kind: u8, body: &[u8]) -> Result<ToWorker<'_>, LinkError> {
    let mut b = Body { kind, b: body, at: 0 };
    Ok(match kind {
        kind::START => {
            let mut v = [0u32; 10];
            for x in &mut v {
                *x = b.u32()?;
            }
            let audio_high_quality = b.flag("audio_high_quality")?;
            let pad_kind = match b.u8()? {
                0 => None,
                1 => Some(crate::gamepad::PadKind::Xbox),
                2 => Some(crate::gamepad::PadKind::DualSense),
                v => return Err(LinkError::BadField { field: "pad_kind", value: u64::from(v) }),
            };
            let app_cmd = if b.flag("app_cmd")? {
                let n = b.u32()? as usize;
                Some(b.text(n)?)
            } else {
                None
            };
            ToWorker::Start(StreamStart {
                width: v[0],
                height: v[1],
                fps: v[2],
                bitrate_kbps: v[3],
                csc_mode: v[4],
                slices: v[5],
                app_id: v[6],
                audio_packet_ms: v[7],
                audio_channels: v[8],
                audio_bitrate_bps: v[9],
                audio_high_quality,
                app_cmd,
                pad_kind,
            })
        }
        kind::INPUT => ToWorker::Input(b.rest()),
        kind::REQUEST_IDR => ToWorker::RequestIdr,
        kind::INVALIDATE_REFS => ToWorker::InvalidateRefs { first: b.u64()?, last: b.u64()? },
        kind::SET_BITRATE => ToWorker::SetBitrate { kbps: b.u32()? },
        kind::STOP_STREAM => ToWorker::StopStream,
        kind::END => ToWorker::End { end_app: b.flag("end_app")? },
        k => return Err(LinkError::UnknownKind(k)),
    })
}

/// Decodes the body of a worker → host frame of `kind` (an access unit borrows its data from `body`).
pub fn decode_to_host(kind: u8, body: &[u8]) -> Result<ToHost<'_>, LinkError> {
    let mut b = Body { kind, b: body, at: 0 };
    Ok(match kind {
        kind::READY => ToHost::Ready { version: b.u16()?, pid: b.u32()? },
        kind::STREAMING => ToHost::Streaming { width: b.u32()?, height: b.u32()? },
        kind::APP_EXITED => ToHost::AppExited { code: b.u32()? as i32 },
        kind::FAILED => {
            let n = body.len();
            ToHost::Failed { message: b.text(n)? }
        }
        kind::OPUS => ToHost::Opus { heard_ns: b.u64()?, data: b.rest() },
        kind::PAD => {
            let body = b.rest();
            let need = crate::gamepad::feedback::ENCODED_LEN;
            let f = crate::gamepad::PadFeedback::decode(body);
            ToHost::Pad(f.ok_or(LinkError::Truncated { kind: kind::PAD, need, have: body.len() })?)
        }
        k => return Err(LinkError::UnknownKind(k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(frame: &[u8]) -> (Header, &[u8]) {
        let h = parse_header(frame[..HEADER_LEN].try_into().unwrap()).unwrap();
        assert_eq!(frame.len(), HEADER_LEN + h.body_len, "length field covers the frame");
        (h, &frame[HEADER_LEN..])
    }

    #[test]
    fn every_host_message_round_trips() {
        let msgs = [
            ToWorker::Start(StreamStart {
                width: 1365,
                height: 767,
                fps: 60,
                bitrate_kbps: 20_000,
                csc_mode: 3,
                slices: 1,
                app_id: 7,
                audio_packet_ms: 5,
                audio_channels: 6,
                audio_bitrate_bps: 256_000,
                audio_high_quality: false,
                app_cmd: Some("foot -e sh"),
                pad_kind: Some(crate::gamepad::PadKind::DualSense),
            }),
            ToWorker::Start(StreamStart {
                width: 1,
                height: 2,
                fps: 3,
                bitrate_kbps: 4,
                csc_mode: 0,
                slices: 0,
                app_id: 1,
                audio_packet_ms: 20,
                audio_channels: 2,
                audio_bitrate_bps: 512_000,
                audio_high_quality: true,
                app_cmd: None,
                pad_kind: None,
            }),
            ToWorker::Input(&[0, 0, 0, 8, 1, 2, 3, 4]),
            ToWorker::RequestIdr,
            ToWorker::InvalidateRefs { first: 5, last: u64::MAX },
            ToWorker::SetBitrate { kbps: 1234 },
            ToWorker::StopStream,
            ToWorker::End { end_app: true },
            ToWorker::End { end_app: false },
        ];
        let mut out = Vec::new();
        for m in &msgs {
            out.clear();
            encode_to_worker(m, &mut out);
            let (h, body) = split(&out);
            assert_eq!(&decode_to_worker(h.kind, body).unwrap(), m);
        }
    }

    #[test]
    fn every_worker_message_round_trips() {
        let msgs = [
            ToHost::Ready { version: super::super::LINK_VERSION, pid: 4242 },
            ToHost::Streaming { width: 1366, height: 768 },
            ToHost::AppExited { code: -1 },
            ToHost::Pad(crate::gamepad::PadFeedback::Rumble { controller: 3, low: 0xFFFF, high: 0x1234 }),
            ToHost::Pad(crate::gamepad::PadFeedback::Led { controller: 1, r: 1, g: 2, b: 3 }),
            ToHost::Failed { message: "no such app: ✓" },
            ToHost::Opus { heard_ns: 1 << 45, data: &[0xfc, 1, 2, 3] },
        ];
        let mut out = Vec::new();
        for m in &msgs {
            out.clear();
            encode_to_host(m, &mut out);
            let (h, body) = split(&out);
            assert_eq!(&decode_to_host(h.kind, body).unwrap(), m);
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(parse_header(&[0, 0, 0, 0, 1]), Err(LinkError::BadLength(0)));
        let huge = ((MAX_BODY + 1) as u32).to_le_bytes();
        assert!(parse_header(&[huge[0], huge[1], huge[2], huge[3], 1]).is_err());
        assert!(matches!(decode_to_worker(0x01, &[1, 2, 3]), Err(LinkError::Truncated { .. })));
        assert_eq!(decode_to_worker(0x42, &[]), Err(LinkError::UnknownKind(0x42)));
        assert_eq!(decode_to_host(0x01, &[]), Err(LinkError::UnknownKind(0x01)));
        // Access units no longer travel on the link (they take the video ring).
        assert_eq!(decode_to_host(0x83, &[2; 40]), Err(LinkError::UnknownKind(0x83)));
        assert_eq!(decode_to_host(0x85, &[0xff, 0xfe]), Err(LinkError::BadText(0x85)));
        // A start whose text length points past the end (10 × u32, the quality flag, the pad kind).
        let mut start = vec![0u8; 42];
        start.push(1);
        start.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode_to_worker(0x01, &start), Err(LinkError::Truncated { .. })));
    }

    #[test]
    fn random_bodies_never_panic() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut buf = [0u8; 64];
        for _ in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let n = (x >> 8) as usize % buf.len();
            let _ = decode_to_worker(buf[0], &buf[1..n.max(1)]);
            let _ = decode_to_host(buf[0] | 0x80, &buf[1..n.max(1)]);
        }
    }
}
