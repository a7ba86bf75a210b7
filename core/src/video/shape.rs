//! How a frame is cut into shards and FEC blocks, exactly as a Moonlight client expects: the shard
//! count, the split into up to 4 multi-FEC blocks, and each block's parity count and the FEC
//! percentage written into `fecInfo` (from which the client re-derives the parity count).

use super::header::{parity_for, FRAME_HEADER_LEN, PACKET_HEADER_LEN, RTP_HEADER_LEN};
use super::VideoError;

/// The client's limit on FEC blocks per frame (2 bits of `multiFecBlocks`).
pub const MAX_FEC_BLOCKS: usize = 4;
/// nanors' limit on shards per block (data + parity).
pub const MAX_SHARDS_PER_BLOCK: usize = 255;
/// `fecInfo` carries the shard index and data-shard count in 10 bits.
pub const MAX_DATA_SHARDS_FIELD: usize = 1023;

/// Negotiated video stream parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoParams {
    /// `x-nv-video[0].packetSize` from the ANNOUNCE (1392 with stock clients): NV header + payload.
    pub packet_size: usize,
    /// FEC percentage (Sunshine's default is 20).
    pub fec_percentage: u8,
    /// `x-nv-vqos[0].fec.minRequiredFecPackets`.
    pub min_fec_packets: u16,
}

impl VideoParams {
    /// Stock-client defaults: 1392-byte packets, 20 % FEC, at least 2 parity shards.
    pub const DEFAULT: Self = Self { packet_size: 1392, fec_percentage: 20, min_fec_packets: 2 };

    /// Checks that the packet size leaves room for payload and fits a datagram.
    pub fn validate(&self) -> Result<(), VideoError> {
        if self.packet_size < PACKET_HEADER_LEN - RTP_HEADER_LEN + FRAME_HEADER_LEN || self.packet_size > 65_000 {
            return Err(VideoError::BadParams("packet size must be 24..=65000 bytes"));
        }
        Ok(())
    }

    /// Bytes of one shard, and of one unencrypted datagram: RTP header + packet size.
    pub const fn shard_len(&self) -> usize {
        self.packet_size + RTP_HEADER_LEN
    }

    /// Frame bytes carried by one shard.
    pub const fn payload_len(&self) -> usize {
        self.packet_size + RTP_HEADER_LEN - PACKET_HEADER_LEN
    }
}

/// One FEC block of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockShape {
    /// Index of the block's first data shard among the frame's data shards.
    pub first_data_shard: usize,
    /// Data shards in the block.
    pub data: usize,
    /// Parity shards in the block.
    pub parity: usize,
    /// FEC percentage written into `fecInfo` (0 = no FEC for this block).
    pub percentage: u8,
}

/// The layout of a whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameShape {
    /// Data shards over all blocks.
    pub data_shards: usize,
    /// Payload bytes of the last data shard (frame header included if it is also the first).
    pub last_payload_len: usize,
    /// Number of FEC blocks (1..=4).
    pub block_count: usize,
    /// The blocks; entries past `block_count` are zero.
    pub blocks: [BlockShape; MAX_FEC_BLOCKS],
}

impl FrameShape {
    /// Total datagrams (data + parity) of the frame.
    pub fn total_shards(&self) -> usize {
        self.blocks[..self.block_count].iter().map(|b| b.data + b.parity).sum()
    }
}

/// Parity count and `fecInfo` percentage for a block of `data` shards: `ceil(data × pct / 100)`,
/// raised to `min` by raising the percentage (as Sunshine does), then adjusted so the client's own
/// `ceil(data × pct' / 100)` gives exactly the parity sent, and so data + parity ≤ 255.
pub fn block_parity(data: usize, pct: u8, min: u16) -> (usize, u8) {
    if pct == 0 || data == 0 || data >= MAX_SHARDS_PER_BLOCK || data > MAX_DATA_SHARDS_FIELD {
        return (0, 0);
    }
    let d = data as u16;
    let mut p = parity_for(d, pct) as usize;
    let mut pct_b = pct as usize;
    if p < min as usize {
        p = min as usize;
        pct_b = (100 * p / data).min(255);
        while (parity_for(d, pct_b as u8) as usize) < p && pct_b < 255 {
            pct_b += 1;
        }
    }
    while data + parity_for(d, pct_b as u8) as usize > MAX_SHARDS_PER_BLOCK && pct_b > 0 {
        pct_b -= 1;
    }
    (parity_for(d, pct_b as u8) as usize, pct_b as u8)
}

/// Computes the layout of a frame of `au_len` bytes (the short frame header is added here).
///
/// Follows the host algorithm the client is built against: shards of `payload_len` bytes; at most
/// `255 × 100 / (100 + pct)` data shards per block; as many blocks as that needs, each block but the last
/// a whole number of shards of `size / blocks` rounded up; with more than 4 blocks needed FEC is turned off
/// for the frame and it is cut into 4 blocks.
pub fn frame_shape(params: &VideoParams, au_len: usize) -> Result<FrameShape, VideoError> {
    let payload = params.payload_len();
    let blocksize = params.shard_len();
    let stream_len = au_len + FRAME_HEADER_LEN;
    let data_shards = stream_len.div_ceil(payload);
    let last_payload_len = stream_len - (data_shards - 1) * payload;
    // Size of the frame once every shard carries its headers (the last shard unpadded).
    let total = (data_shards - 1) * blocksize + PACKET_HEADER_LEN + last_payload_len;

    let mut pct = params.fec_percentage;
    let max_data_per_block = (MAX_SHARDS_PER_BLOCK * 100) / (100 + pct as usize);
    let mut block_count = total.div_ceil(max_data_per_block * blocksize);
    if block_count > MAX_FEC_BLOCKS {
        tracing::debug!(block_count, au_len, "frame too large for FEC; sending it without parity");
        pct = 0;
        block_count = MAX_FEC_BLOCKS;
    }
    let per_block = (total / block_count).div_ceil(blocksize);
    if per_block * (block_count - 1) >= data_shards {
        return Err(VideoError::FrameTooLarge { bytes: au_len });
    }
    let mut blocks = [BlockShape::default(); MAX_FEC_BLOCKS];
    let mut first = 0;
    for (i, b) in blocks.iter_mut().enumerate().take(block_count) {
        let data = if i + 1 == block_count { data_shards - first } else { per_block };
        if data > MAX_DATA_SHARDS_FIELD {
            return Err(VideoError::FrameTooLarge { bytes: au_len });
        }
        let (parity, percentage) = block_parity(data, pct, params.min_fec_packets);
        *b = BlockShape { first_data_shard: first, data, parity, percentage };
        first += data;
    }
    Ok(FrameShape { data_shards, last_payload_len, block_count, blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frame_is_one_block_with_min_parity() {
        let s = frame_shape(&VideoParams::DEFAULT, 100).unwrap();
        assert_eq!(s.data_shards, 1);
        assert_eq!(s.last_payload_len, 108);
        assert_eq!(s.block_count, 1);
        // ceil(1 × 20 / 100) = 1 < 2 → 2 parity at 200 %.
        assert_eq!(s.blocks[0], BlockShape { first_data_shard: 0, data: 1, parity: 2, percentage: 200 });
    }

    #[test]
    fn exact_multiple_has_full_last_payload() {
        let p = VideoParams::DEFAULT;
        let s = frame_shape(&p, p.payload_len() * 3 - FRAME_HEADER_LEN).unwrap();
        assert_eq!(s.data_shards, 3);
        assert_eq!(s.last_payload_len, p.payload_len());
    }

    #[test]
    fn large_frames_split_into_blocks() {
        let p = VideoParams::DEFAULT;
        // 212 data shards per block at 20 %.
        let s = frame_shape(&p, 1_000_000).unwrap();
        assert_eq!(s.data_shards, (1_000_008usize).div_ceil(1376));
        assert_eq!(s.block_count, 4);
        assert!(s.blocks.iter().all(|b| b.data + b.parity <= 255));
        assert_eq!(s.blocks.iter().map(|b| b.data).sum::<usize>(), s.data_shards);
        let s = frame_shape(&p, 250_000).unwrap();
        assert_eq!(s.block_count, 1);
        assert_eq!(s.blocks[0].parity, parity_for(s.blocks[0].data as u16, 20) as usize);
        // Over 4 × 212 shards: FEC off, 4 blocks.
        let s = frame_shape(&p, 1_400_000).unwrap();
        assert_eq!(s.block_count, 4);
        assert!(s.blocks.iter().all(|b| b.parity == 0 && b.percentage == 0));
    }

    #[test]
    fn parity_always_matches_client_derivation() {
        for data in 1..255 {
            for pct in [1u8, 5, 10, 20, 50, 100, 200, 255] {
                for min in [0u16, 1, 2, 4, 7, 30] {
                    let (p, pc) = block_parity(data, pct, min);
                    assert_eq!(p, parity_for(data as u16, pc) as usize, "d={data} pct={pct} min={min}");
                    assert!(data + p <= 255);
                }
            }
        }
        assert_eq!(block_parity(10, 10, 2), (2, 20));
        assert_eq!(block_parity(3, 20, 2), (2, 66));
    }

    #[test]
    fn too_large_frames_are_refused() {
        assert!(matches!(frame_shape(&VideoParams::DEFAULT, 6_000_000), Err(VideoError::FrameTooLarge { .. })));
    }
}
