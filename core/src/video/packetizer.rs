//! The host-side video packetizer: one access unit → the RTP datagrams a stock Moonlight client
//! reassembles, written into a caller-owned [`PacketBatch`] (no heap allocation per frame once the batch,
//! the FEC codec cache and the scratch table have grown to the largest frame).
//!
//! Per FEC block, in RTP sequence order: the data shards, then the parity shards. Parity is computed
//! over whole shards (RTP header + video header + payload) with the RTP bytes and `fecInfo` still zero,
//! and those fields are written afterwards on every shard, as the client's recovery path assumes.

use super::batch::PacketBatch;
use super::crypt::VideoSealer;
use super::fec::{encode_block, recycle, ShardTable};
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
                let r = encode_block(&mut self.codecs, &mut table, block.data, block.parity);
                self.scratch = recycle(table);
                r?;
            }
            for x in 0..total {
                let fec = FecInfo { shard_index: x as u16, data_shards: block.data as u16, percentage: block.percentage };
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
