//! Byte layouts of one Moonlight video datagram: the RTP header, the `NV_VIDEO_PACKET` header and the
//! short frame header that opens the first packet of every frame.
//!
//! All offsets are from the start of the plaintext datagram (after the 32-byte encryption prefix when
//! video encryption is on). The layout is written down in `docs/wire.md`.

use super::VideoError;

/// RTP header plus the 4 reserved "extension" bytes the client always skips (`MAX_RTP_HEADER_SIZE`).
pub const RTP_HEADER_LEN: usize = 16;
/// `NV_VIDEO_PACKET`: stream packet index, frame index, flags, multi-FEC fields, fecInfo.
pub const NV_HEADER_LEN: usize = 16;
/// Both headers: the bytes in front of the payload of every shard.
pub const PACKET_HEADER_LEN: usize = RTP_HEADER_LEN + NV_HEADER_LEN;
/// The Sunshine short frame header at the start of the first data shard of a frame.
pub const FRAME_HEADER_LEN: usize = 8;

/// First RTP byte: version 2 with the extension bit (`0x80 | FLAG_EXTENSION`).
pub const RTP_HEADER_BYTE: u8 = 0x90;
/// `FLAG_CONTAINS_PIC_DATA`.
pub const FLAG_CONTAINS_PIC_DATA: u8 = 0x1;
/// `FLAG_EOF`: last data shard of an FEC block.
pub const FLAG_EOF: u8 = 0x2;
/// `FLAG_SOF`: first data shard of an FEC block.
pub const FLAG_SOF: u8 = 0x4;
/// `multiFecFlags` value every current host sends.
pub const MULTI_FEC_FLAGS: u8 = 0x10;
/// Short frame header type byte.
pub const FRAME_HEADER_TYPE: u8 = 0x01;

/// Byte offsets inside the plaintext datagram.
pub mod off {
    /// RTP sequence number (u16 BE).
    pub const SEQ: usize = 2;
    /// RTP timestamp (u32 BE, 90 kHz).
    pub const TIMESTAMP: usize = 4;
    /// RTP SSRC (u32 BE; 0).
    pub const SSRC: usize = 8;
    /// Stream packet index << 8 (u32 LE).
    pub const STREAM_PACKET_INDEX: usize = 16;
    /// Frame index (u32 LE).
    pub const FRAME_INDEX: usize = 20;
    /// Flags (SOF/EOF/PIC_DATA).
    pub const FLAGS: usize = 24;
    /// Extra flags (LTR; 0).
    pub const EXTRA_FLAGS: usize = 25;
    /// multiFecFlags (0x10).
    pub const MULTI_FEC_FLAGS: usize = 26;
    /// multiFecBlocks: block index in bits 4-5, last block index in bits 6-7.
    pub const MULTI_FEC_BLOCKS: usize = 27;
    /// fecInfo (u32 LE): shard index bits 12-21, data shards bits 22-31, FEC percentage bits 4-11.
    pub const FEC_INFO: usize = 28;
}

/// The type byte of the short frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// A normal P-frame.
    P = 1,
    /// An IDR frame.
    Idr = 2,
    /// A P-frame with intra-refresh blocks.
    IntraRefresh = 4,
    /// The first P-frame after reference-frame invalidation.
    AfterRefInvalidation = 5,
}

impl FrameType {
    /// Decodes the type byte.
    pub fn from_byte(b: u8) -> Result<Self, VideoError> {
        Ok(match b {
            1 => Self::P,
            2 => Self::Idr,
            4 => Self::IntraRefresh,
            5 => Self::AfterRefInvalidation,
            other => return Err(VideoError::BadFrameType(other)),
        })
    }
}

/// `fecInfo` split into its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FecInfo {
    /// Index of this shard inside its FEC block (data shards first, then parity).
    pub shard_index: u16,
    /// Data shards in the block (10 bits).
    pub data_shards: u16,
    /// FEC percentage of the block (8 bits); the client derives the parity count from it.
    pub percentage: u8,
}

impl FecInfo {
    /// Packs the fields as the client unpacks them.
    pub const fn to_u32(self) -> u32 {
        ((self.shard_index as u32 & 0x3FF) << 12)
            | ((self.data_shards as u32 & 0x3FF) << 22)
            | ((self.percentage as u32) << 4)
    }

    /// Unpacks a raw `fecInfo` value.
    pub const fn from_u32(v: u32) -> Self {
        Self {
            shard_index: ((v >> 12) & 0x3FF) as u16,
            data_shards: ((v >> 22) & 0x3FF) as u16,
            percentage: ((v >> 4) & 0xFF) as u8,
        }
    }

    /// Parity shards of the block as the client computes them: `ceil(data × pct / 100)`.
    pub const fn parity_shards(self) -> u16 {
        parity_for(self.data_shards, self.percentage)
    }
}

/// The client's parity count for `data` shards at `pct` percent.
pub const fn parity_for(data: u16, pct: u8) -> u16 {
    (data as u32 * pct as u32).div_ceil(100) as u16
}

/// The fields of one received video datagram that the reassembler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp (90 kHz).
    pub timestamp: u32,
    /// Stream packet index (24 bits).
    pub stream_packet_index: u32,
    /// Frame index.
    pub frame_index: u32,
    /// SOF/EOF/PIC_DATA flags (meaningless on parity shards).
    pub flags: u8,
    /// FEC block of this shard.
    pub block_index: u8,
    /// Index of the last FEC block of the frame (block count − 1).
    pub last_block_index: u8,
    /// The unpacked `fecInfo`.
    pub fec: FecInfo,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl PacketHeader {
    /// Parses and sanity-checks the headers of a plaintext datagram.
    pub fn parse(d: &[u8]) -> Result<Self, VideoError> {
        if d.len() < PACKET_HEADER_LEN {
            return Err(VideoError::Truncated { need: PACKET_HEADER_LEN, have: d.len() });
        }
        if d[0] != RTP_HEADER_BYTE {
            return Err(VideoError::BadRtpHeader(d[0]));
        }
        let fec = FecInfo::from_u32(le32(d, off::FEC_INFO));
        if fec.data_shards == 0 {
            return Err(VideoError::BadFecInfo("zero data shards"));
        }
        if fec.parity_shards() > 0 && fec.data_shards + fec.parity_shards() > 255 {
            return Err(VideoError::BadFecInfo("more than 255 shards in an FEC block"));
        }
        if fec.shard_index >= fec.data_shards + fec.parity_shards() {
            return Err(VideoError::BadFecInfo("shard index beyond data + parity"));
        }
        let blocks = d[off::MULTI_FEC_BLOCKS];
        let block_index = (blocks >> 4) & 0x3;
        let last_block_index = (blocks >> 6) & 0x3;
        if block_index > last_block_index {
            return Err(VideoError::BadFecInfo("FEC block index beyond the block count"));
        }
        Ok(Self {
            seq: u16::from_be_bytes([d[off::SEQ], d[off::SEQ + 1]]),
            timestamp: be32(d, off::TIMESTAMP),
            stream_packet_index: (le32(d, off::STREAM_PACKET_INDEX) >> 8) & 0xFF_FFFF,
            frame_index: le32(d, off::FRAME_INDEX),
            flags: d[off::FLAGS],
            block_index,
            last_block_index,
            fec,
        })
    }
}

/// Writes the fields of a data shard that the parity covers (everything Sunshine sets before FEC
/// encoding): stream packet index, frame index, flags and the multi-FEC bytes. The RTP bytes and
/// `fecInfo` stay zero until [`write_post_fec`].
pub fn write_pre_fec(d: &mut [u8], stream_packet_index: u32, frame_index: u32, flags: u8, multi_fec_blocks: u8) {
    d[..RTP_HEADER_LEN].fill(0);
    d[off::STREAM_PACKET_INDEX..off::STREAM_PACKET_INDEX + 4]
        .copy_from_slice(&(stream_packet_index << 8).to_le_bytes());
    d[off::FRAME_INDEX..off::FRAME_INDEX + 4].copy_from_slice(&frame_index.to_le_bytes());
    d[off::FLAGS] = flags;
    d[off::EXTRA_FLAGS] = 0;
    d[off::MULTI_FEC_FLAGS] = MULTI_FEC_FLAGS;
    d[off::MULTI_FEC_BLOCKS] = multi_fec_blocks;
    d[off::FEC_INFO..off::FEC_INFO + 4].fill(0);
}

/// Writes the fields Sunshine sets on every shard (data and parity) after FEC encoding: RTP header
/// byte, sequence number, timestamp, frame index, multi-FEC blocks and `fecInfo`.
pub fn write_post_fec(d: &mut [u8], seq: u16, timestamp: u32, frame_index: u32, multi_fec_blocks: u8, fec: FecInfo) {
    d[0] = RTP_HEADER_BYTE;
    d[off::SEQ..off::SEQ + 2].copy_from_slice(&seq.to_be_bytes());
    d[off::TIMESTAMP..off::TIMESTAMP + 4].copy_from_slice(&timestamp.to_be_bytes());
    d[off::FRAME_INDEX..off::FRAME_INDEX + 4].copy_from_slice(&frame_index.to_le_bytes());
    d[off::MULTI_FEC_BLOCKS] = multi_fec_blocks;
    d[off::FEC_INFO..off::FEC_INFO + 4].copy_from_slice(&fec.to_u32().to_le_bytes());
}

/// The multi-FEC blocks byte.
pub const fn multi_fec_blocks(block_index: u8, block_count: u8) -> u8 {
    ((block_index & 3) << 4) | (((block_count - 1) & 3) << 6)
}

/// The Sunshine short frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Frame type.
    pub frame_type: FrameType,
    /// Host processing latency in 0.1 ms units.
    pub host_latency: u16,
    /// Payload bytes (frame header included when it shares the packet) of the frame's last data shard.
    pub last_payload_len: u16,
}

impl FrameHeader {
    /// Serialises the header.
    pub fn write(&self, out: &mut [u8]) {
        out[0] = FRAME_HEADER_TYPE;
        out[1..3].copy_from_slice(&self.host_latency.to_le_bytes());
        out[3] = self.frame_type as u8;
        out[4..6].copy_from_slice(&self.last_payload_len.to_le_bytes());
        out[6] = 0;
        out[7] = 0;
    }

    /// Parses the header from the start of a frame's first payload.
    pub fn parse(b: &[u8]) -> Result<Self, VideoError> {
        if b.len() < FRAME_HEADER_LEN {
            return Err(VideoError::Truncated { need: FRAME_HEADER_LEN, have: b.len() });
        }
        if b[0] != FRAME_HEADER_TYPE {
            return Err(VideoError::BadFrameHeader(b[0]));
        }
        Ok(Self {
            frame_type: FrameType::from_byte(b[3])?,
            host_latency: u16::from_le_bytes([b[1], b[2]]),
            last_payload_len: u16::from_le_bytes([b[4], b[5]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fec_info_round_trips_and_matches_client_masks() {
        let f = FecInfo { shard_index: 211, data_shards: 212, percentage: 20 };
        let v = f.to_u32();
        assert_eq!((v & 0x3FF000) >> 12, 211);
        assert_eq!((v & 0xFFC00000) >> 22, 212);
        assert_eq!((v & 0xFF0) >> 4, 20);
        assert_eq!(FecInfo::from_u32(v), f);
        assert_eq!(f.parity_shards(), 43);
    }

    #[test]
    fn headers_round_trip() {
        let mut d = [0u8; 64];
        write_pre_fec(&mut d, 0x12_3456, 77, FLAG_SOF | FLAG_CONTAINS_PIC_DATA, multi_fec_blocks(1, 3));
        let fec = FecInfo { shard_index: 5, data_shards: 10, percentage: 20 };
        write_post_fec(&mut d, 0xBEEF, 0xDEAD_0001, 77, multi_fec_blocks(1, 3), fec);
        let h = PacketHeader::parse(&d).unwrap();
        assert_eq!(h.seq, 0xBEEF);
        assert_eq!(h.timestamp, 0xDEAD_0001);
        assert_eq!(h.stream_packet_index, 0x12_3456);
        assert_eq!(h.frame_index, 77);
        assert_eq!(h.block_index, 1);
        assert_eq!(h.last_block_index, 2);
        assert_eq!(h.fec, fec);
        assert_eq!(d[off::MULTI_FEC_FLAGS], 0x10);
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(matches!(PacketHeader::parse(&[0x90; 10]), Err(VideoError::Truncated { .. })));
        let mut d = [0u8; 32];
        assert!(matches!(PacketHeader::parse(&d), Err(VideoError::BadRtpHeader(0))));
        d[0] = RTP_HEADER_BYTE;
        assert!(matches!(PacketHeader::parse(&d), Err(VideoError::BadFecInfo(_))));
        let fh = FrameHeader { frame_type: FrameType::Idr, host_latency: 123, last_payload_len: 99 };
        let mut b = [0u8; 8];
        fh.write(&mut b);
        assert_eq!(b, [1, 123, 0, 2, 99, 0, 0, 0]);
        assert_eq!(FrameHeader::parse(&b).unwrap(), fh);
        b[3] = 3;
        assert!(matches!(FrameHeader::parse(&b), Err(VideoError::BadFrameType(3))));
    }
}
