//! Key schedule of the lumen transport: the ChaCha20-Poly1305 key of a video stream is
//! `HKDF-SHA256(salt = the 16-byte salt of the host's DESCRIBE offer, IKM = rikey, info = KEY_LABEL_VIDEO)`,
//! 32 bytes. The salt is fresh per DESCRIBE, so every RTSP set-up (and so every media session, whose frame
//! indices restart at 1) gets a key of its own and a nonce never repeats under one key.

use hkdf::Hkdf;
use sha2::Sha256;

/// HKDF `info` of the host → client video key.
pub const KEY_LABEL_VIDEO: &[u8] = b"lumen transport v1 video host-to-client";

/// The per-set-up salt the host offers (`salt=` of `a=x-lumen-transport`), 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSalt(pub [u8; 16]);

impl TransportSalt {
    /// Lower-case hex, as the SDP attribute carries it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut b = [0u8; 16];
        (s.len() == 32 && hex::decode_to_slice(s, &mut b).is_ok()).then_some(Self(b))
    }
}

/// The 32-byte video key of a session: HKDF-SHA256 of `rikey` with the offer's salt.
pub fn derive_video_key(rikey: &[u8; 16], salt: &TransportSalt) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(&salt.0), rikey);
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    if hk.expand(KEY_LABEL_VIDEO, &mut out).is_err() {
        out = [0u8; 32];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_rikey_and_salt() {
        let a = derive_video_key(&[1; 16], &TransportSalt([2; 16]));
        assert_eq!(a, derive_video_key(&[1; 16], &TransportSalt([2; 16])));
        assert_ne!(a, derive_video_key(&[1; 16], &TransportSalt([3; 16])));
        assert_ne!(a, derive_video_key(&[9; 16], &TransportSalt([2; 16])));
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn salt_hex_round_trips() {
        let s = TransportSalt([0xab; 16]);
        assert_eq!(TransportSalt::from_hex(&s.to_hex()), Some(s));
        assert_eq!(TransportSalt::from_hex("abc"), None);
        assert_eq!(TransportSalt::from_hex(&"zz".repeat(16)), None);
    }
}
