//! `rikey`/`rikeyid` key material from `/launch`, and the IVs Moonlight derives from it.

use super::CryptoError;

/// Who originated a message. Moonlight puts this into byte 10 of its 12-byte GCM IVs so that the two
/// directions never share an IV under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by the client (`'C'`).
    ClientToHost,
    /// Sent by the host (`'H'`).
    HostToClient,
}

impl Direction {
    /// The IV byte for this direction.
    pub const fn iv_byte(self) -> u8 {
        match self {
            Direction::ClientToHost => b'C',
            Direction::HostToClient => b'H',
        }
    }
}

/// Which stream a GCM IV belongs to (byte 11 of the IV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IvChannel {
    /// Encrypted control stream v2 (`'C'`).
    Control,
    /// Encrypted RTSP, `rtspenc://` (`'R'`).
    Rtsp,
    /// Encrypted video (`'V'`).
    Video,
}

impl IvChannel {
    /// The IV byte for this channel.
    pub const fn iv_byte(self) -> u8 {
        match self {
            IvChannel::Control => b'C',
            IvChannel::Rtsp => b'R',
            IvChannel::Video => b'V',
        }
    }
}

/// The remote-input key of one session: `rikey` (AES-128 key for every Moonlight cipher) and `rikeyid`
/// (the first four bytes of the client's input IV read as a big-endian signed integer; the audio IV
/// derives from it).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteInputKey {
    /// The 16-byte AES key (`rikey`).
    pub key: [u8; 16],
    /// `rikeyid`, as the client sends it (often negative).
    pub key_id: i32,
}

impl core::fmt::Debug for RemoteInputKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key itself into logs.
        f.debug_struct("RemoteInputKey").field("key", &"<16 bytes>").field("key_id", &self.key_id).finish()
    }
}

impl RemoteInputKey {
    /// Parses the `rikey` (32 hex characters, either case) and `rikeyid` (signed decimal int32)
    /// query values of `/launch` or `/resume`.
    pub fn parse(rikey: &str, rikeyid: &str) -> Result<Self, CryptoError> {
        let mut key = [0u8; 16];
        let hex_str = rikey.trim();
        if hex_str.len() != 32 || hex::decode_to_slice(hex_str, &mut key).is_err() {
            tracing::warn!(len = rikey.len(), "rejecting malformed rikey");
            return Err(CryptoError::BadKeyHex { len: rikey.len() });
        }
        let key_id = rikeyid.trim().parse::<i32>().map_err(|_| {
            tracing::warn!(rikeyid, "rejecting malformed rikeyid");
            CryptoError::BadKeyId(rikeyid.chars().take(32).collect())
        })?;
        Ok(Self { key, key_id })
    }

    /// Builds the key from raw parts.
    pub const fn new(key: [u8; 16], key_id: i32) -> Self {
        Self { key, key_id }
    }

    /// `rikeyid` as the unsigned 32-bit value the audio IV arithmetic uses.
    pub const fn key_id_u32(&self) -> u32 {
        self.key_id as u32
    }

    /// The AES-128-CBC IV of the audio packet with RTP sequence number `seq`: all zero except the first
    /// four bytes, which are big-endian (`rikeyid` + `seq`) with 32-bit wrap-around.
    pub const fn audio_iv(&self, seq: u16) -> [u8; 16] {
        let v = self.key_id_u32().wrapping_add(seq as u32).to_be_bytes();
        let mut iv = [0u8; 16];
        iv[0] = v[0];
        iv[1] = v[1];
        iv[2] = v[2];
        iv[3] = v[3];
        iv
    }

    /// The 12-byte GCM IV of control v2 and encrypted RTSP: the 32-bit sequence number little-endian in
    /// bytes 0..4, zeros, the direction byte at 10 and the channel byte at 11.
    pub const fn sequence_iv(seq: u32, direction: Direction, channel: IvChannel) -> [u8; 12] {
        let s = seq.to_le_bytes();
        let mut iv = [0u8; 12];
        iv[0] = s[0];
        iv[1] = s[1];
        iv[2] = s[2];
        iv[3] = s[3];
        iv[10] = direction.iv_byte();
        iv[11] = channel.iv_byte();
        iv
    }

    /// The 12-byte GCM IV of encrypted control v2 messages.
    pub const fn control_iv(seq: u32, direction: Direction) -> [u8; 12] {
        Self::sequence_iv(seq, direction, IvChannel::Control)
    }

    /// The 12-byte GCM IV of encrypted RTSP messages.
    pub const fn rtsp_iv(seq: u32, direction: Direction) -> [u8; 12] {
        Self::sequence_iv(seq, direction, IvChannel::Rtsp)
    }

    /// The 12-byte GCM IV the host uses for encrypted video packet number `counter` (a per-session
    /// 64-bit counter, never reused): counter little-endian in bytes 0..8, zero, zero, zero, `'V'`.
    /// The IV travels in the packet, so the client accepts any unique IV; this is the construction of
    /// NIST SP 800-38D §8.2.1 that Sunshine uses too.
    pub const fn video_iv(counter: u64) -> [u8; 12] {
        let c = counter.to_le_bytes();
        let mut iv = [0u8; 12];
        let mut i = 0;
        while i < 8 {
            iv[i] = c[i];
            i += 1;
        }
        iv[11] = IvChannel::Video.iv_byte();
        iv
    }
}
