//! The client-side video reassembler: Moonlight video datagrams in any order, with loss and duplicates →
//! FEC recovery per block → whole access units, or a clean "lost" verdict per frame.
//!
//! Sans-IO: [`VideoReassembler::push`] takes one datagram, [`VideoReassembler::poll`] hands out what became
//! ready. A few frames may be in flight at once (reordering across frame boundaries); completing a frame
//! declares every older unfinished frame lost, like the stock client. Storage is reused: no allocation per
//! frame once the largest frame has been seen. Malformed datagrams give a [`VideoError`], never a panic.

use std::collections::VecDeque;

use super::crypt::VideoOpener;
use super::fec::{recycle, ShardTable};
use super::header::{FrameHeader, FrameType, PacketHeader, FLAG_EOF, FLAG_SOF, FRAME_HEADER_LEN, PACKET_HEADER_LEN};
use super::shape::{VideoParams, MAX_FEC_BLOCKS};
use super::VideoError;
use crate::fec::gf256::CodecCache;

/// Frames kept in flight at once.
const SLOTS: usize = 4;
/// Bitmap words per block (1024 shards: the 10-bit `fecInfo` limit).
const BITMAP_WORDS: usize = 16;

/// What [`VideoReassembler::push`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored; the frame is not complete yet.
    Stored,
    /// Stored, and its frame became complete (poll it).
    FrameReady,
    /// A second copy of a shard already held, or a shard of a block already rebuilt.
    Duplicate,
    /// Belongs to a frame already delivered or declared lost.
    Stale,
}

/// One result of [`VideoReassembler::poll`].
#[derive(Debug, PartialEq, Eq)]
pub enum Reassembled<'a> {
    /// A whole access unit.
    Frame(FrameView<'a>),
    /// Frames `first..=last` will never be delivered (unrecoverable or never seen).
    Lost {
        /// First lost frame index.
        first: u32,
        /// Last lost frame index.
        last: u32,
    },
}

/// A reassembled access unit; `data` is valid until the next call on the reassembler.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameView<'a> {
    /// Frame index.
    pub frame_index: u32,
    /// Frame type from the frame header.
    pub frame_type: FrameType,
    /// Host processing latency, 0.1 ms units.
    pub host_latency: u16,
    /// RTP timestamp (90 kHz).
    pub rtp_timestamp: u32,
    /// Data shards rebuilt from parity for this frame.
    pub recovered_shards: usize,
    /// The access unit, exactly as packetized (no FEC padding).
    pub data: &'a [u8],
}

/// Counters over the life of a reassembler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Datagrams accepted into a frame.
    pub datagrams: u64,
    /// Frames delivered whole.
    pub frames_complete: u64,
    /// Frames declared lost.
    pub frames_lost: u64,
    /// Data shards rebuilt from parity.
    pub shards_recovered: u64,
    /// Datagrams refused as malformed.
    pub malformed: u64,
}

#[derive(Debug, Default)]
struct Block {
    known: bool,
    done: bool,
    data: usize,
    parity: usize,
    pct: u8,
    base_seq: u16,
    got_data: usize,
    got_total: usize,
    recovered: usize,
    bitmap: [u64; BITMAP_WORDS],
    buf: Vec<u8>,
}

impl Block {
    fn reset(&mut self) {
        self.known = false;
        self.done = false;
        self.got_data = 0;
        self.got_total = 0;
        self.recovered = 0;
        self.bitmap = [0; BITMAP_WORDS];
    }

    fn has(&self, i: usize) -> bool {
        self.bitmap[i / 64] & (1 << (i % 64)) != 0
    }

    fn mark(&mut self, i: usize) {
        self.bitmap[i / 64] |= 1 << (i % 64);
    }
}

#[derive(Debug, Default)]
struct Slot {
    active: bool,
    ready: bool,
    frame_index: u32,
    timestamp: u32,
    block_count: usize,
    blocks: [Block; MAX_FEC_BLOCKS],
}

impl Slot {
    fn reset(&mut self, frame_index: u32, block_count: usize, timestamp: u32) {
        self.active = true;
        self.ready = false;
        self.frame_index = frame_index;
        self.block_count = block_count;
        self.timestamp = timestamp;
        for b in &mut self.blocks {
            b.reset();
        }
    }

    fn complete(&self) -> bool {
        self.blocks[..self.block_count].iter().all(|b| b.done)
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Lost { first: u32, last: u32 },
    Frame { slot: usize },
}

/// `a` is at or before `b` in wrapping frame-index order.
fn at_or_before(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

/// The client-side reassembler of one video stream.
pub struct VideoReassembler {
    params: VideoParams,
    opener: Option<Box<dyn VideoOpener>>,
    codecs: CodecCache,
    slots: [Slot; SLOTS],
    events: VecDeque<Event>,
    last_done: Option<u32>,
    stage: Vec<u8>,
    out: Vec<u8>,
    present: Vec<bool>,
    scratch: ShardTable,
    stats: ReassemblyStats,
}

impl core::fmt::Debug for VideoReassembler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VideoReassembler")
            .field("params", &self.params)
            .field("last_done", &self.last_done)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl VideoReassembler {
    /// A reassembler for unencrypted video with the negotiated parameters.
    pub fn new(params: VideoParams) -> Result<Self, VideoError> {
        params.validate()?;
        Ok(Self {
            params,
            opener: None,
            codecs: CodecCache::new(),
            slots: Default::default(),
            events: VecDeque::with_capacity(2 * SLOTS + 2),
            // Like the stock client, expect the stream's first frame to be frame 1.
            last_done: Some(0),
            stage: Vec::new(),
            out: Vec::new(),
            present: Vec::new(),
            scratch: ShardTable::new(),
            stats: ReassemblyStats::default(),
        })
    }

    /// Sets the index of the last frame before the stream starts (frames up to it count as stale);
    /// the default is 0, the stream starting at frame 1 as Moonlight hosts number them.
    pub fn set_last_frame(&mut self, frame_index: u32) {
        self.last_done = Some(frame_index);
    }

    /// Decrypts every datagram with `opener` first (e.g. [`super::GcmVideo`]).
    pub fn with_opener(mut self, opener: Box<dyn VideoOpener>) -> Self {
        self.opener = Some(opener);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Feeds one datagram.
    pub fn push(&mut self, datagram: &[u8]) -> Result<PushOutcome, VideoError> {
        let r = self.push_inner(datagram);
        if let Err(e) = &r {
            self.stats.malformed += 1;
            tracing::debug!(error = %e, len = datagram.len(), "video datagram refused");
        }
        r
    }

    fn push_inner(&mut self, datagram: &[u8]) -> Result<PushOutcome, VideoError> {
        let shard_len = self.params.shard_len();
        let prefix = self.opener.as_ref().map_or(0, |o| o.prefix_len());
        if datagram.len() != prefix + shard_len {
            return Err(VideoError::BadLength { expected: prefix + shard_len, got: datagram.len() });
        }
        let plain = if let Some(opener) = self.opener.as_mut() {
            self.stage.clear();
            self.stage.extend_from_slice(datagram);
            let range = opener.open(&mut self.stage)?;
            &self.stage[range]
        } else {
            datagram
        };
        let h = PacketHeader::parse(plain)?;
        if let Some(done) = self.last_done {
            if at_or_before(h.frame_index, done) {
                return Ok(PushOutcome::Stale);
            }
        }
        let idx = h.fec.shard_index as usize;
        let block_count = h.last_block_index as usize + 1;
        let si = Self::slot_for(&mut self.slots, h.frame_index, block_count, h.timestamp).ok_or(VideoError::Backlog)?;
        let slot = &mut self.slots[si];
        if slot.block_count != block_count {
            return Err(VideoError::Inconsistent("FEC block count differs within a frame"));
        }
        if slot.ready {
            return Ok(PushOutcome::Duplicate);
        }
        let block = &mut slot.blocks[h.block_index as usize];
        let data = h.fec.data_shards as usize;
        let parity = h.fec.parity_shards() as usize;
        let base_seq = h.seq.wrapping_sub(h.fec.shard_index);
        if !block.known {
            block.known = true;
            block.data = data;
            block.parity = parity;
            block.pct = h.fec.percentage;
            block.base_seq = base_seq;
            block.buf.clear();
            block.buf.resize((data + parity) * shard_len, 0);
        } else if block.data != data || block.pct != h.fec.percentage || block.base_seq != base_seq {
            return Err(VideoError::Inconsistent("fecInfo or sequence numbers differ within an FEC block"));
        }
        if block.done || block.has(idx) {
            return Ok(PushOutcome::Duplicate);
        }
        block.buf[idx * shard_len..(idx + 1) * shard_len].copy_from_slice(plain);
        block.mark(idx);
        block.got_total += 1;
        if idx < data {
            block.got_data += 1;
        }
        self.stats.datagrams += 1;
        if block.got_total < block.data {
            return Ok(PushOutcome::Stored);
        }
        let bi = h.block_index as usize;
        self.finish_block(si, bi)?;
        if !self.slots[si].complete() {
            return Ok(PushOutcome::Stored);
        }
        self.deliver(si);
        Ok(PushOutcome::FrameReady)
    }

    /// Finds the slot of `frame_index`, or takes a free one, evicting the oldest frame when all are busy.
    fn slot_for(slots: &mut [Slot; SLOTS], frame_index: u32, block_count: usize, timestamp: u32) -> Option<usize> {
        if let Some(i) = slots.iter().position(|s| s.active && s.frame_index == frame_index) {
            return Some(i);
        }
        let i = match slots.iter().position(|s| !s.active) {
            Some(i) => i,
            None => {
                // Evict the oldest unfinished frame; its loss is reported when a later frame completes.
                let mut oldest: Option<usize> = None;
                for (i, s) in slots.iter().enumerate() {
                    if !s.ready && oldest.is_none_or(|o| at_or_before(s.frame_index, slots[o].frame_index)) {
                        oldest = Some(i);
                    }
                }
                let oldest = oldest?;
                tracing::debug!(frame = slots[oldest].frame_index, "video frame evicted unfinished");
                oldest
            }
        };
        slots[i].reset(frame_index, block_count, timestamp);
        Some(i)
    }

    /// Rebuilds the missing data shards of a block that has enough shards.
    fn finish_block(&mut self, si: usize, bi: usize) -> Result<(), VideoError> {
        let shard_len = self.params.shard_len();
        let block = &mut self.slots[si].blocks[bi];
        let missing = block.data - block.got_data;
        if missing > 0 {
            let total = block.data + block.parity;
            self.present.clear();
            self.present.extend((0..total).map(|i| block.has(i)));
            let mut table = recycle(core::mem::take(&mut self.scratch));
            table.extend(block.buf.chunks_exact_mut(shard_len));
            let r = self.codecs.get(block.data, block.parity).and_then(|rs| rs.reconstruct(&mut table, &self.present));
            self.scratch = recycle(table);
            r?;
            block.recovered = missing;
            self.stats.shards_recovered += missing as u64;
        }
        block.done = true;
        Ok(())
    }

    /// Queues `lost` events for every frame before the completed one, then the frame itself.
    fn deliver(&mut self, si: usize) {
        let f = self.slots[si].frame_index;
        self.slots[si].ready = true;
        if let Some(done) = self.last_done {
            let first = done.wrapping_add(1);
            if first != f {
                self.lose(first, f.wrapping_sub(1));
            }
        }
        for (i, s) in self.slots.iter_mut().enumerate() {
            if i != si && s.active && !s.ready && at_or_before(s.frame_index, f) {
                s.active = false;
            }
        }
        self.last_done = Some(f);
        self.events.push_back(Event::Frame { slot: si });
    }

    fn lose(&mut self, first: u32, last: u32) {
        self.stats.frames_lost += u64::from(last.wrapping_sub(first)) + 1;
        tracing::debug!(first, last, "video frames lost");
        self.events.push_back(Event::Lost { first, last });
    }

    /// Declares every unfinished frame up to the newest one seen lost (end of stream).
    pub fn flush(&mut self) {
        let newest = self.slots.iter().filter(|s| s.active && !s.ready).map(|s| s.frame_index).reduce(|a, b| {
            if at_or_before(a, b) {
                b
            } else {
                a
            }
        });
        if let Some(n) = newest {
            let first = self.last_done.map_or(
                self.slots
                    .iter()
                    .filter(|s| s.active && !s.ready)
                    .map(|s| s.frame_index)
                    .reduce(|a, b| if at_or_before(a, b) { a } else { b })
                    .unwrap_or(n),
                |d| d.wrapping_add(1),
            );
            for s in &mut self.slots {
                if s.active && !s.ready {
                    s.active = false;
                }
            }
            self.lose(first, n);
            self.last_done = Some(n);
        }
    }

    /// Hands out the next result, if any. The frame's bytes stay valid until the next call.
    pub fn poll(&mut self) -> Option<Reassembled<'_>> {
        let slot = match self.events.pop_front()? {
            Event::Lost { first, last } => return Some(Reassembled::Lost { first, last }),
            Event::Frame { slot } => slot,
        };
        self.slots[slot].active = false;
        match self.assemble(slot) {
            Ok((header, recovered)) => {
                self.stats.frames_complete += 1;
                let s = &self.slots[slot];
                Some(Reassembled::Frame(FrameView {
                    frame_index: s.frame_index,
                    frame_type: header.frame_type,
                    host_latency: header.host_latency,
                    rtp_timestamp: s.timestamp,
                    recovered_shards: recovered,
                    data: &self.out,
                }))
            }
            Err(e) => {
                let f = self.slots[slot].frame_index;
                self.stats.malformed += 1;
                tracing::warn!(frame = f, error = %e, "reassembled video frame is corrupt");
                self.stats.frames_lost += 1;
                Some(Reassembled::Lost { first: f, last: f })
            }
        }
    }

    /// Copies the payload of every data shard of a complete frame into `out` and checks the flags.
    fn assemble(&mut self, si: usize) -> Result<(FrameHeader, usize), VideoError> {
        let shard_len = self.params.shard_len();
        let payload_len = self.params.payload_len();
        let slot = &self.slots[si];
        let first = &slot.blocks[0].buf[PACKET_HEADER_LEN..shard_len];
        let header = FrameHeader::parse(first)?;
        let total_data: usize = slot.blocks[..slot.block_count].iter().map(|b| b.data).sum();
        let last_len = header.last_payload_len as usize;
        let min_last = if total_data == 1 { FRAME_HEADER_LEN } else { 1 };
        if last_len > payload_len || last_len < min_last {
            return Err(VideoError::Corrupt("last payload length out of range"));
        }
        let au_len = (total_data - 1) * payload_len + last_len - FRAME_HEADER_LEN;
        self.out.clear();
        self.out.reserve(au_len);
        let mut recovered = 0;
        let mut shard_no = 0;
        for b in &slot.blocks[..slot.block_count] {
            recovered += b.recovered;
            let mut spi0 = 0;
            for x in 0..b.data {
                let shard = &b.buf[x * shard_len..(x + 1) * shard_len];
                let h = PacketHeader::parse_flags_spi(shard);
                let want_sof = x == 0;
                let want_eof = x + 1 == b.data;
                if (h.0 & FLAG_SOF != 0) != want_sof || (h.0 & FLAG_EOF != 0) != want_eof {
                    return Err(VideoError::Corrupt("SOF/EOF flags do not match the shard position"));
                }
                if x == 0 {
                    spi0 = h.1;
                } else if h.1 != (spi0 + x as u32) & 0xFF_FFFF {
                    return Err(VideoError::Corrupt("stream packet index not contiguous"));
                }
                let mut body = &shard[PACKET_HEADER_LEN..];
                if shard_no == 0 {
                    body = &body[FRAME_HEADER_LEN..];
                }
                if shard_no + 1 == total_data {
                    let keep = if shard_no == 0 { last_len - FRAME_HEADER_LEN } else { last_len };
                    body = &body[..keep];
                }
                self.out.extend_from_slice(body);
                shard_no += 1;
            }
        }
        debug_assert_eq!(self.out.len(), au_len);
        Ok((header, recovered))
    }
}

impl PacketHeader {
    /// Flags and stream packet index of a (possibly recovered) data shard, without validation of the
    /// fields a recovery leaves unrestored.
    fn parse_flags_spi(d: &[u8]) -> (u8, u32) {
        use super::header::off;
        let spi = u32::from_le_bytes([
            d[off::STREAM_PACKET_INDEX],
            d[off::STREAM_PACKET_INDEX + 1],
            d[off::STREAM_PACKET_INDEX + 2],
            d[off::STREAM_PACKET_INDEX + 3],
        ]);
        (d[off::FLAGS], (spi >> 8) & 0xFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FrameMeta, GcmVideo, PacketBatch, VideoPacketizer};
    use super::*;

    fn au(i: u32, len: usize) -> Vec<u8> {
        (0..len).map(|b| (b as u32 * 31 + i * 7) as u8).collect()
    }

    fn meta(i: u32) -> FrameMeta {
        FrameMeta {
            frame_index: i,
            frame_type: if i % 5 == 1 { FrameType::Idr } else { FrameType::P },
            host_latency: 7,
            rtp_timestamp: i * 1500,
        }
    }

    fn collect(r: &mut VideoReassembler, out: &mut Vec<(u32, Vec<u8>)>, lost: &mut Vec<(u32, u32)>) {
        while let Some(e) = r.poll() {
            match e {
                Reassembled::Frame(f) => out.push((f.frame_index, f.data.to_vec())),
                Reassembled::Lost { first, last } => lost.push((first, last)),
            }
        }
    }

    #[test]
    fn round_trip_with_loss_reorder_and_duplicates() {
        let params = VideoParams::DEFAULT;
        for enc in [false, true] {
            let mut p = VideoPacketizer::new(params).unwrap();
            let mut r = VideoReassembler::new(params).unwrap();
            if enc {
                p = p.with_sealer(Box::new(GcmVideo::new(&[9; 16])));
                r = r.with_opener(Box::new(GcmVideo::new(&[9; 16])));
            }
            let mut b = PacketBatch::new();
            let (mut out, mut lost) = (Vec::new(), Vec::new());
            for i in 1..=12u32 {
                let len = [5usize, 1368, 1369, 40_000, 300_000, 700_000][i as usize % 6];
                let data = au(i, len);
                let shape = p.packetize(&meta(i), &data, &mut b).unwrap();
                // Drop as many data shards as each block has parity, send the rest backwards, one twice.
                let mut order: Vec<usize> = Vec::new();
                let mut at = 0;
                for blk in &shape.blocks[..shape.block_count] {
                    for x in 0..blk.data + blk.parity {
                        if x >= blk.parity {
                            order.push(at + x);
                        }
                    }
                    at += blk.data + blk.parity;
                }
                order.reverse();
                order.push(order[0]);
                for k in order {
                    r.push(b.get(k)).unwrap();
                }
                collect(&mut r, &mut out, &mut lost);
                assert_eq!(out.last().unwrap(), &(i, data), "frame {i} enc {enc}");
            }
            assert!(lost.is_empty());
            assert_eq!(r.stats().frames_complete, 12);
            assert!(r.stats().shards_recovered > 0);
        }
    }

    #[test]
    fn too_much_loss_is_reported_lost() {
        let params = VideoParams::DEFAULT;
        let mut p = VideoPacketizer::new(params).unwrap();
        let mut r = VideoReassembler::new(params).unwrap();
        let mut b = PacketBatch::new();
        let (mut out, mut lost) = (Vec::new(), Vec::new());
        for i in 1..=4u32 {
            let shape = p.packetize(&meta(i), &au(i, 20_000), &mut b).unwrap();
            let skip = if i == 2 { shape.blocks[0].parity + 1 } else { 0 };
            for k in skip..b.len() {
                r.push(b.get(k)).unwrap();
            }
            collect(&mut r, &mut out, &mut lost);
        }
        assert_eq!(out.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(lost, vec![(2, 2)]);
        // Whole frames that never arrive are reported too, and stale datagrams are ignored.
        p.packetize(&meta(5), &au(5, 100), &mut b).unwrap();
        let stale = b.get(0).to_vec();
        let shape = p.packetize(&meta(8), &au(8, 100), &mut b).unwrap();
        for k in 0..shape.total_shards() {
            r.push(b.get(k)).unwrap();
        }
        collect(&mut r, &mut out, &mut lost);
        assert_eq!(lost, vec![(2, 2), (5, 7)]);
        assert_eq!(r.push(&stale).unwrap(), PushOutcome::Stale);
    }

    #[test]
    fn flush_reports_unfinished_frames() {
        let params = VideoParams::DEFAULT;
        let mut p = VideoPacketizer::new(params).unwrap();
        let mut r = VideoReassembler::new(params).unwrap();
        let mut b = PacketBatch::new();
        p.packetize(&meta(1), &au(1, 5000), &mut b).unwrap();
        r.push(b.get(0)).unwrap();
        r.flush();
        assert_eq!(r.poll(), Some(Reassembled::Lost { first: 1, last: 1 }));
        assert_eq!(r.poll(), None);
    }

    #[test]
    fn malformed_datagrams_are_errors() {
        let params = VideoParams::DEFAULT;
        let mut r = VideoReassembler::new(params).unwrap();
        assert!(matches!(r.push(&[]), Err(VideoError::BadLength { .. })));
        assert!(matches!(r.push(&[0u8; 1408]), Err(VideoError::BadRtpHeader(0))));
        let mut p = VideoPacketizer::new(params).unwrap();
        let mut b = PacketBatch::new();
        p.packetize(&meta(1), &au(1, 5000), &mut b).unwrap();
        let mut d = b.get(1).to_vec();
        d[28..32].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        assert!(r.push(&d).is_err());
        let mut enc = VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&[1; 16])));
        assert!(matches!(enc.push(&[0u8; 1440]), Err(VideoError::Crypto(_))));
        assert_eq!(r.stats().malformed, 3);
    }
}
