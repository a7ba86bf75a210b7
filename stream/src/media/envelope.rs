//! The encrypted control v2 envelope of gen-7 Moonlight control messages (ENet packet payloads).
//!
//! Layout (all little-endian), see `docs/media-plane.md`:
//! `[0x0001: u16][length: u16 = 4 + 16 + 4 + payload_len][seq: u32][GCM tag: 16][ciphertext]`, where the
//! ciphertext is AES-128-GCM (key `rikey`) of `[type: u16][payload_len: u16][payload]`. The 12-byte IV
//! is `seq` little-endian in bytes 0..4, zeros, then the direction byte (`'C'` client, `'H'` host) at 10
//! and `'C'` (control channel) at 11.

use lumen_core::crypto::{Aes128Gcm, Direction, IvChannel, RemoteInputKey, GCM_TAG_LEN};

/// The type of an encrypted envelope.
pub const ENCRYPTED_TYPE: u16 = 0x0001;
const OUTER: usize = 2 + 2 + 4;
const INNER: usize = 2 + 2;

/// Control messages the host receives or sends (gen-7 encrypted type numbers).
pub mod ptype {
    /// Periodic ping from a Sunshine-mode client.
    pub const PING: u16 = 0x0200;
    /// Loss statistics (non-Sunshine clients).
    pub const LOSS_STATS: u16 = 0x0201;
    /// Frame statistics (unused by clients).
    pub const FRAME_STATS: u16 = 0x0204;
    /// Input packet.
    pub const INPUT: u16 = 0x0206;
    /// Reference frame invalidation request.
    pub const INVALIDATE_REFS: u16 = 0x0301;
    /// IDR request (also "start A").
    pub const REQUEST_IDR: u16 = 0x0302;
    /// Start B.
    pub const START_B: u16 = 0x0307;
    /// Rumble (host → client).
    pub const RUMBLE: u16 = 0x010b;
    /// Extended termination (host → client), payload u32 big-endian HRESULT.
    pub const TERMINATION: u16 = 0x0109;
    /// HDR mode (host → client).
    pub const HDR_MODE: u16 = 0x010e;
    /// Per-frame FEC status (Sunshine extension, client → host).
    pub const FRAME_FEC_STATUS: u16 = 0x5502;
}

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("control packet of {0} bytes is too short")]
    Short(usize),
    #[error("unencrypted control packet (type {0:#06x}) on an encrypted stream")]
    NotEncrypted(u16),
    #[error("envelope length {claimed} does not match packet of {actual} bytes")]
    Length { claimed: usize, actual: usize },
    #[error("authentication failed (seq {0})")]
    Auth(u32),
    #[error("inner payload length {claimed} exceeds {actual}")]
    Inner { claimed: usize, actual: usize },
}

/// Seals and opens control v2 envelopes of one session.
pub struct ControlCrypto {
    gcm: Aes128Gcm,
    next_seq: u32,
}

impl ControlCrypto {
    pub fn new(key: &RemoteInputKey) -> Self {
        Self { gcm: Aes128Gcm::new(&key.key), next_seq: 0 }
    }

    /// Decrypts a client envelope in place; returns (type, payload).
    pub fn open<'a>(&self, pkt: &'a mut [u8]) -> Result<(u16, &'a [u8]), EnvelopeError> {
        if pkt.len() < OUTER + GCM_TAG_LEN + INNER {
            return Err(EnvelopeError::Short(pkt.len()));
        }
        let t = u16::from_le_bytes([pkt[0], pkt[1]]);
        if t != ENCRYPTED_TYPE {
            return Err(EnvelopeError::NotEncrypted(t));
        }
        let len = u16::from_le_bytes([pkt[2], pkt[3]]) as usize;
        if len + 4 != pkt.len() {
            return Err(EnvelopeError::Length { claimed: len + 4, actual: pkt.len() });
        }
        let seq = u32::from_le_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let iv = RemoteInputKey::sequence_iv(seq, Direction::ClientToHost, IvChannel::Control);
        let (head, body) = pkt.split_at_mut(OUTER + GCM_TAG_LEN);
        let tag: [u8; GCM_TAG_LEN] = head[OUTER..].try_into().map_err(|_| EnvelopeError::Short(0))?;
        self.gcm.open_in_place(&iv, body, &tag).map_err(|_| EnvelopeError::Auth(seq))?;
        let ty = u16::from_le_bytes([body[0], body[1]]);
        let plen = u16::from_le_bytes([body[2], body[3]]) as usize;
        let payload = &body[INNER..];
        if plen > payload.len() {
            return Err(EnvelopeError::Inner { claimed: plen, actual: payload.len() });
        }
        Ok((ty, &payload[..plen]))
    }

    /// Seals a host message into `out` (cleared first; its capacity is reused).
    pub fn seal(&mut self, ty: u16, payload: &[u8], out: &mut Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let len = 4 + GCM_TAG_LEN + INNER + payload.len();
        out.clear();
        out.extend_from_slice(&ENCRYPTED_TYPE.to_le_bytes());
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&[0u8; GCM_TAG_LEN]);
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        out.extend_from_slice(payload);
        let iv = RemoteInputKey::sequence_iv(seq, Direction::HostToClient, IvChannel::Control);
        let (head, body) = out.split_at_mut(OUTER + GCM_TAG_LEN);
        // Sealing into a correctly sized buffer cannot fail; keep the tag zero (client rejects) if it did.
        match self.gcm.seal_in_place(&iv, body) {
            Ok(tag) => head[OUTER..].copy_from_slice(&tag),
            Err(e) => tracing::error!(error = %e, "control: sealing failed"),
        }
    }

    /// Seals a client message (tests and lumen's own client use this direction).
    pub fn seal_client(&mut self, ty: u16, payload: &[u8], out: &mut Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let len = 4 + GCM_TAG_LEN + INNER + payload.len();
        out.clear();
        out.extend_from_slice(&ENCRYPTED_TYPE.to_le_bytes());
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&[0u8; GCM_TAG_LEN]);
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        out.extend_from_slice(payload);
        let iv = RemoteInputKey::sequence_iv(seq, Direction::ClientToHost, IvChannel::Control);
        let (head, body) = out.split_at_mut(OUTER + GCM_TAG_LEN);
        if let Ok(tag) = self.gcm.seal_in_place(&iv, body) {
            head[OUTER..].copy_from_slice(&tag);
        }
    }

    /// Opens a host message (the client's direction; for tests).
    pub fn open_host<'a>(&self, pkt: &'a mut [u8]) -> Result<(u16, &'a [u8]), EnvelopeError> {
        if pkt.len() < OUTER + GCM_TAG_LEN + INNER {
            return Err(EnvelopeError::Short(pkt.len()));
        }
        let seq = u32::from_le_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let iv = RemoteInputKey::sequence_iv(seq, Direction::HostToClient, IvChannel::Control);
        let (head, body) = pkt.split_at_mut(OUTER + GCM_TAG_LEN);
        let tag: [u8; GCM_TAG_LEN] = head[OUTER..].try_into().map_err(|_| EnvelopeError::Short(0))?;
        self.gcm.open_in_place(&iv, body, &tag).map_err(|_| EnvelopeError::Auth(seq))?;
        let ty = u16::from_le_bytes([body[0], body[1]]);
        let plen = (u16::from_le_bytes([body[2], body[3]]) as usize).min(body.len() - INNER);
        Ok((ty, &body[INNER..INNER + plen]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_envelope_round_trips_and_rejects_tampering() {
        let key = RemoteInputKey::new([7; 16], -5);
        let mut client = ControlCrypto::new(&key);
        let host = ControlCrypto::new(&key);
        let mut buf = Vec::new();
        client.seal_client(ptype::REQUEST_IDR, &[0, 0], &mut buf);
        assert_eq!(&buf[..2], &[1, 0]);
        assert_eq!(u16::from_le_bytes([buf[2], buf[3]]) as usize, buf.len() - 4);
        let mut copy = buf.clone();
        assert_eq!(host.open(&mut copy).unwrap(), (ptype::REQUEST_IDR, &[0u8, 0][..]));
        let mut bad = buf.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(host.open(&mut bad), Err(EnvelopeError::Auth(0)));
        assert!(matches!(host.open(&mut buf[..10].to_vec()), Err(EnvelopeError::Short(10))));
        let mut plain = vec![0x06, 0x02, 4, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(host.open(&mut plain), Err(EnvelopeError::NotEncrypted(0x0206)));
    }

    #[test]
    fn host_envelope_uses_the_host_iv() {
        let key = RemoteInputKey::new([9; 16], 1);
        let mut host = ControlCrypto::new(&key);
        let client = ControlCrypto::new(&key);
        let mut buf = Vec::new();
        host.seal(ptype::TERMINATION, &0x8003_0023u32.to_be_bytes(), &mut buf);
        // The client-direction IV must not open it.
        assert!(client.open(&mut buf.clone()).is_err());
        let (t, p) = client.open_host(&mut buf).unwrap();
        assert_eq!((t, p), (ptype::TERMINATION, &[0x80, 0x03, 0x00, 0x23][..]));
    }
}
