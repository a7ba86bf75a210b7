//! The host-side video packetizer: one access unit → the RTP datagrams a stock Moonlight client
//! reassembles, written into a caller-owned [`PacketBatch`] (no heap allocation per frame once the batch,
//! the FEC codec cache and the scratch table have grown to the largest frame).
//!
//! Per FEC block, in RTP sequence order: the data shards, then the parity shards. Parity is computed
//! over whole shards (RTP header + video header + payload) with the RTP bytes and `fecInfo` still zero,
//! and those fields are written afterwards on every shard, as the client's recovery path assumes.

use super::batch::PacketBatch;
use super::crypt::VideoSealer;
use super::fec::{recycle, ShardTable};
use super::header::{
    multi_fec_blocks, write_post_fec, write_pre_fec, FecInfo, FrameHeader, FrameType, FLAG_CONTAINS_PIC_DATA, FLAG_EOF,
    FLAG_SOF, FRAME_HEADER_LEN, PACKET_HEADER_LEN,
};
use super::shape::{frame_shape, FrameShape, VideoParams};
use super::VideoError;
use crate::fec::gf256::CodecCache;

/// What the host knows about one access unit besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Frame index (the client expects consecutive indices, starting at 1).
    pub frame_index: u32,
    /// Frame type for the short frame header.
    pub frame_type: FrameType,
    /// Host processing latency in 0.1 ms units (capture → packetize).
    pub host_latency: u16,
    /// RTP timestamp, 90 kHz clock.
    pub rtp_timestamp: u32,
}

/// The Moonlight video packetizer of one stream.
pub struct VideoPacketizer {
    params: VideoParams,
    /// Stream packet counter: the RTP sequence number is its low 16 bits, the stream packet index its
    /// low 24 bits.
    next_packet: u32,
    codecs: CodecCache,
    sealer: Option<Box<dyn VideoSealer>>,
    scratch: ShardTable,
}

impl core::fmt::Debug for VideoPacketizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VideoPacketizer")
            .field("params", &self.params)
            .field("next_packet", &self.next_packet)
            .field("encrypted", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

impl VideoPacketizer {
    /// A packetizer for the negotiated parameters, without encryption.
    pub fn new(params: VideoParams) -> Result<Self, VideoError> {
        params.validate()?;
        Ok(Self { params, next_packet: 0, codecs: CodecCache::new(), sealer: None, scratch: ShardTable::new() })
    }

    /// Turns on encryption of every datagram (e.g. [`super::GcmVideo`]).
    pub fn with_sealer(mut self, sealer: Box<dyn VideoSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The negotiated parameters.
    pub fn params(&self) -> &VideoParams {
        &self.params
    }

    /// Sets the first RTP sequence number / stream packet index of the next frame.
    pub fn set_next_packet(&mut self, n: u32) {
        self.next_packet = n;
    }

    /// Bytes of every datagram this packetizer emits.
    pub fn datagram_len(&self) -> usize {
        self.params.shard_len() + self.sealer.as_ref().map_or(0, |s| s.prefix_len())
    }

    /// Packetizes one access unit into `out` (cleared first) and returns the frame's layout.
    pub fn packetize(&mut self, meta: &FrameMeta, au: &[u8], out: &mut PacketBatch) -> Result<FrameShape, VideoError> {
        let shape = frame_shape(&self.params, au.len())?;
        let prefix = self.sealer.as_ref().map_or(0, |s| s.prefix_len());
        let shard_len = self.params.shard_len();
        let payload_len = self.params.payload_len();
        out.reset(shape.total_shards(), prefix + shard_len);

        let header = FrameHeader {
            frame_type: meta.frame_type,
            host_latency: meta.host_latency,
            last_payload_len: shape.last_payload_len as u16,
        };
        let mut slot_base = 0;
        let mut au_pos = 0;
        for bi in 0..shape.block_count {
            let block = shape.blocks[bi];
            let mfb = multi_fec_blocks(bi as u8, shape.block_count as u8);
            let first_packet = self.next_packet;
            // Data shards: headers the parity covers, then the payload (zero padded by `reset`).
            for x in 0..block.data {
                let slot = out.slot_mut(slot_base + x);
                let shard = &mut slot[prefix..];
                let mut flags = FLAG_CONTAINS_PIC_DATA;
                if x == 0 {
                    flags |= FLAG_SOF;
                }
                if x + 1 == block.data {
                    flags |= FLAG_EOF;
                }
                write_pre_fec(shard, first_packet.wrapping_add(x as u32), meta.frame_index, flags, mfb);
                let body = &mut shard[PACKET_HEADER_LEN..PACKET_HEADER_LEN + payload_len];
                let mut at = 0;
                if block.first_data_shard + x == 0 {
                    header.write(&mut body[..FRAME_HEADER_LEN]);
                    at = FRAME_HEADER_LEN;
                }
                let n = (payload_len - at).min(au.len() - au_pos);
                body[at..at + n].copy_from_slice(&au[au_pos..au_pos + n]);
                au_pos += n;
            }
            let total = block.data + block.parity;
            if block.parity > 0 {
                let mut table = recycle(core::mem::take(&mut self.scratch));
                table.extend(out.slots_mut().skip(slot_base).take(total).map(|s| &mut s[prefix..]));
                let r = self.codecs.get(block.data, block.parity).and_then(|rs| rs.encode(&mut table));
                self.scratch = recycle(table);
                r?;
            }
            for x in 0..total {
                let fec =
                    FecInfo { shard_index: x as u16, data_shards: block.data as u16, percentage: block.percentage };
                let slot = out.slot_mut(slot_base + x);
                let seq = first_packet.wrapping_add(x as u32) as u16;
                write_post_fec(&mut slot[prefix..], seq, meta.rtp_timestamp, meta.frame_index, mfb, fec);
                if let Some(s) = self.sealer.as_mut() {
                    s.seal(meta.frame_index, slot)?;
                }
            }
            self.next_packet = first_packet.wrapping_add(total as u32);
            slot_base += total;
        }
        debug_assert_eq!(au_pos, au.len());
        Ok(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::{off, PacketHeader, FLAG_CONTAINS_PIC_DATA, FLAG_EOF, FLAG_SOF};
    use super::*;

    fn meta(i: u32, t: FrameType) -> FrameMeta {
        FrameMeta { frame_index: i, frame_type: t, host_latency: 42, rtp_timestamp: 9000 * i }
    }

    #[test]
    fn layout_of_a_small_frame() {
        let mut p = VideoPacketizer::new(VideoParams::DEFAULT).unwrap();
        let au: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let mut b = PacketBatch::new();
        let s = p.packetize(&meta(1, FrameType::Idr), &au, &mut b).unwrap();
        // 3008 bytes over 1376-byte payloads: 3 data shards, parity max(ceil(0.6), 2) = 2 at 66 %.
        assert_eq!((s.data_shards, s.blocks[0].parity, s.blocks[0].percentage), (3, 2, 66));
        assert_eq!(b.len(), 5);
        assert!(b.is_uniform());
        assert_eq!(b.stride(), 1408);
        for (i, d) in b.iter().enumerate() {
            let h = PacketHeader::parse(d).unwrap();
            assert_eq!(h.seq, i as u16);
            assert_eq!(h.frame_index, 1);
            assert_eq!(h.timestamp, 9000);
            assert_eq!(h.fec.shard_index, i as u16);
            assert_eq!(h.fec.data_shards, 3);
            assert_eq!(h.fec.percentage, 66);
            assert_eq!((h.block_index, h.last_block_index), (0, 0));
            if i < 3 {
                assert_eq!(h.stream_packet_index, i as u32);
                let want =
                    FLAG_CONTAINS_PIC_DATA | if i == 0 { FLAG_SOF } else { 0 } | if i == 2 { FLAG_EOF } else { 0 };
                assert_eq!(h.flags, want);
                assert_eq!(&d[1..2], &[0]);
                assert_eq!(&d[8..16], &[0; 8]);
                assert_eq!(d[off::MULTI_FEC_FLAGS], 0x10);
            }
        }
        let first = b.get(0);
        // Frame header: type 1, latency 42 LE, IDR, last payload (3008 % 1376 = 256) LE.
        assert_eq!(&first[32..40], &[1, 42, 0, 2, 0x00, 0x01, 0, 0]);
        assert_eq!(&first[40..40 + 1368], &au[..1368]);
        let last = b.get(2);
        assert_eq!(&last[32..32 + 256], &au[3000 - 256..]);
        assert!(last[32 + 256..].iter().all(|&x| x == 0));
        // The next frame continues the sequence numbers and stream packet indices.
        p.packetize(&meta(2, FrameType::P), &au[..10], &mut b).unwrap();
        let h = PacketHeader::parse(b.get(0)).unwrap();
        assert_eq!((h.seq, h.stream_packet_index), (5, 5));
    }

    #[test]
    fn multi_block_frames_number_blocks_and_sequences() {
        let mut p = VideoPacketizer::new(VideoParams::DEFAULT).unwrap();
        p.set_next_packet(65_530);
        let au = vec![0xA5u8; 600_000];
        let mut b = PacketBatch::new();
        let s = p.packetize(&meta(7, FrameType::P), &au, &mut b).unwrap();
        assert_eq!(s.block_count, 3);
        assert_eq!(b.len(), s.total_shards());
        let mut seq = 65_530u16;
        let mut at = 0;
        for bi in 0..s.block_count {
            let blk = s.blocks[bi];
            let first = PacketHeader::parse(b.get(at)).unwrap();
            assert_eq!(first.stream_packet_index, 65_530 + (at as u32));
            for x in 0..blk.data + blk.parity {
                let h = PacketHeader::parse(b.get(at + x)).unwrap();
                assert_eq!(h.seq, seq);
                assert_eq!((h.block_index as usize, h.last_block_index), (bi, 2));
                assert_eq!(h.fec.shard_index as usize, x);
                seq = seq.wrapping_add(1);
            }
            at += blk.data + blk.parity;
        }
    }

    #[test]
    fn encrypted_datagrams_carry_the_prefix() {
        let key = [3u8; 16];
        let mut p = VideoPacketizer::new(VideoParams::DEFAULT)
            .unwrap()
            .with_sealer(Box::new(super::super::GcmVideo::new(&key)));
        let mut b = PacketBatch::new();
        p.packetize(&meta(9, FrameType::P), &[1, 2, 3], &mut b).unwrap();
        assert_eq!(p.datagram_len(), 1440);
        assert_eq!(b.stride(), 1440);
        let d0 = b.get(0);
        assert_eq!(&d0[12..16], &9u32.to_le_bytes());
        assert_eq!(d0[11], b'V');
        assert_eq!(&d0[..8], &0u64.to_le_bytes());
        assert_eq!(&b.get(1)[..8], &1u64.to_le_bytes());
        let mut d = d0.to_vec();
        let r = crate::crypto::video::open_in_place(&crate::crypto::Aes128Gcm::new(&key), &mut d).unwrap().1;
        assert_eq!(PacketHeader::parse(&d[r]).unwrap().frame_index, 9);
    }
}
