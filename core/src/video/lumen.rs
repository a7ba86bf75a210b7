//! The lumen-transport video framing: our own format for lumen's native clients, with one GF(2¹⁶) FEC
//! block per frame (up to 65535 shards), so a whole 4K IDR is protected as one block.
//!
//! Every datagram is a 24-byte header (little-endian) + one shard of `shard_len` bytes (a multiple of 64,
//! as the Leopard codec wants). The parity covers the shard bytes only; every header repeats the frame's
//! fields so any `data` shards of a frame rebuild it. Layout in `docs/wire.md`.

use super::batch::PacketBatch;
use super::fec::{recycle, ShardTable};
use super::header::FrameType;
use super::packetizer::FrameMeta;
use super::VideoError;
use crate::fec::gf65536::CodecCache;

/// Header bytes in front of every shard.
pub const LUMEN_HEADER_LEN: usize = 24;
/// First header byte.
pub const LUMEN_MAGIC: u8 = b'L';
/// Second header byte.
pub const LUMEN_VERSION: u8 = 1;
/// Flag bit: this shard is parity.
pub const LUMEN_FLAG_PARITY: u8 = 0x1;
/// Shards per frame the field allows.
pub const LUMEN_MAX_SHARDS: usize = 65535;

/// Parameters of a lumen-transport video stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LumenParams {
    /// Shard bytes per datagram; a multiple of 64.
    pub shard_len: usize,
    /// FEC percentage (may exceed 100).
    pub fec_percentage: u16,
    /// Minimum parity shards per frame.
    pub min_parity: u16,
}

impl LumenParams {
    /// Parameters whose datagrams fit `max_datagram` bytes.
    pub fn for_datagram(max_datagram: usize, fec_percentage: u16, min_parity: u16) -> Result<Self, VideoError> {
        let shard_len = max_datagram.saturating_sub(LUMEN_HEADER_LEN) / 64 * 64;
        let p = Self { shard_len, fec_percentage, min_parity };
        p.validate()?;
        Ok(p)
    }

    /// Checks the shard length.
    pub fn validate(&self) -> Result<(), VideoError> {
        if self.shard_len == 0 || !self.shard_len.is_multiple_of(64) || self.shard_len > 65_472 {
            return Err(VideoError::BadParams("lumen shard length must be a non-zero multiple of 64 below 64 KiB"));
        }
        Ok(())
    }

    /// Bytes of one datagram.
    pub const fn datagram_len(&self) -> usize {
        LUMEN_HEADER_LEN + self.shard_len
    }

    /// Data and parity shards for an access unit of `au_len` bytes.
    pub fn shape(&self, au_len: usize) -> Result<(usize, usize), VideoError> {
        let data = au_len.div_ceil(self.shard_len).max(1);
        if data >= LUMEN_MAX_SHARDS {
            return Err(VideoError::FrameTooLarge { bytes: au_len });
        }
        let want = (data * self.fec_percentage as usize).div_ceil(100).max(self.min_parity as usize);
        Ok((data, want.min(LUMEN_MAX_SHARDS - data)))
    }
}

/// The header of one lumen-transport datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LumenHeader {
    /// Frame type.
    pub frame_type: FrameType,
    /// Parity shard?
    pub parity: bool,
    /// Frame index.
    pub frame_index: u32,
    /// RTP-style timestamp, 90 kHz.
    pub timestamp: u32,
    /// Access unit length in bytes.
    pub au_len: u32,
    /// Index of this shard (data first, then parity).
    pub shard_index: u16,
    /// Data shards of the frame.
    pub data_shards: u16,
    /// Parity shards of the frame.
    pub parity_shards: u16,
    /// Host processing latency, 0.1 ms units.
    pub host_latency: u16,
}

impl LumenHeader {
    /// Serialises into `out[..24]`.
    pub fn write(&self, out: &mut [u8]) {
        out[0] = LUMEN_MAGIC;
        out[1] = LUMEN_VERSION;
        out[2] = self.frame_type as u8;
        out[3] = if self.parity { LUMEN_FLAG_PARITY } else { 0 };
        out[4..8].copy_from_slice(&self.frame_index.to_le_bytes());
        out[8..12].copy_from_slice(&self.timestamp.to_le_bytes());
        out[12..16].copy_from_slice(&self.au_len.to_le_bytes());
        out[16..18].copy_from_slice(&self.shard_index.to_le_bytes());
        out[18..20].copy_from_slice(&self.data_shards.to_le_bytes());
        out[20..22].copy_from_slice(&self.parity_shards.to_le_bytes());
        out[22..24].copy_from_slice(&self.host_latency.to_le_bytes());
    }

    /// Parses and validates a header.
    pub fn parse(b: &[u8]) -> Result<Self, VideoError> {
        if b.len() < LUMEN_HEADER_LEN {
            return Err(VideoError::Truncated { need: LUMEN_HEADER_LEN, have: b.len() });
        }
        if b[0] != LUMEN_MAGIC || b[1] != LUMEN_VERSION {
            return Err(VideoError::BadRtpHeader(b[0]));
        }
        let u16at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let h = Self {
            frame_type: FrameType::from_byte(b[2])?,
            parity: b[3] & LUMEN_FLAG_PARITY != 0,
            frame_index: u32at(4),
            timestamp: u32at(8),
            au_len: u32at(12),
            shard_index: u16at(16),
            data_shards: u16at(18),
            parity_shards: u16at(20),
            host_latency: u16at(22),
        };
        let total = h.data_shards as usize + h.parity_shards as usize;
        if h.data_shards == 0 || total > LUMEN_MAX_SHARDS || h.shard_index as usize >= total {
            return Err(VideoError::BadFecInfo("lumen shard counts out of range"));
        }
        if h.parity != (h.shard_index >= h.data_shards) {
            return Err(VideoError::BadFecInfo("lumen parity flag disagrees with the shard index"));
        }
        Ok(h)
    }
}

/// Packetizer for the lumen transport.
pub struct LumenPacketizer {
    params: LumenParams,
    codecs: CodecCache,
    scratch: ShardTable,
    /// Bytes left free between the header and the shard, and after the shard (the transport's own fields
    /// and its AEAD tag, [`crate::transport`]); zero for the bare framing.
    room: (usize, usize),
}

impl core::fmt::Debug for LumenPacketizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LumenPacketizer").field("params", &self.params).finish_non_exhaustive()
    }
}

impl LumenPacketizer {
    /// A packetizer with the given parameters.
    pub fn new(params: LumenParams) -> Result<Self, VideoError> {
        params.validate()?;
        Ok(Self { params, codecs: CodecCache::new(), scratch: ShardTable::new(), room: (0, 0) })
    }

    /// Leaves `head` zero bytes between the 24-byte header and the shard and `tail` after it in every
    /// datagram (the shard starts at `24 + head`; datagrams are `24 + head + shard_len + tail` long).
    pub fn with_room(mut self, head: usize, tail: usize) -> Self {
        self.room = (head, tail);
        self
    }

    /// The parameters in use.
    pub fn params(&self) -> LumenParams {
        self.params
    }

    /// Changes the FEC percentage from the next frame on (the shard length stays).
    pub fn set_fec_percentage(&mut self, pct: u16) {
        self.params.fec_percentage = pct;
    }

    /// Packetizes one access unit into `out`; returns (data, parity) shard counts.
    pub fn packetize(
        &mut self,
        meta: &FrameMeta,
        au: &[u8],
        out: &mut PacketBatch,
    ) -> Result<(usize, usize), VideoError> {
        let (data, parity) = self.params.shape(au.len())?;
        let au_len = u32::try_from(au.len()).map_err(|_| VideoError::FrameTooLarge { bytes: au.len() })?;
        let sl = self.params.shard_len;
        let off = LUMEN_HEADER_LEN + self.room.0;
        out.reset(data + parity, off + sl + self.room.1);
        for (i, chunk) in au.chunks(sl).enumerate() {
            out.slot_mut(i)[off..off + chunk.len()].copy_from_slice(chunk);
        }
        if parity > 0 {
            let mut table = recycle(core::mem::take(&mut self.scratch));
            table.extend(out.slots_mut().map(|s| &mut s[off..off + sl]));
            let r = self.codecs.get(data, parity).and_then(|rs| rs.encode(&mut table));
            self.scratch = recycle(table);
            r?;
        }
        for i in 0..data + parity {
            LumenHeader {
                frame_type: meta.frame_type,
                parity: i >= data,
                frame_index: meta.frame_index,
                timestamp: meta.rtp_timestamp,
                au_len,
                shard_index: i as u16,
                data_shards: data as u16,
                parity_shards: parity as u16,
                host_latency: meta.host_latency,
            }
            .write(out.slot_mut(i));
        }
        Ok((data, parity))
    }
}

/// A frame rebuilt by the [`LumenReassembler`]; `data` is valid until the next call.
#[derive(Debug, PartialEq, Eq)]
pub struct LumenFrame<'a> {
    /// The header fields of the frame (shard fields of the last datagram pushed).
    pub header: LumenHeader,
    /// Data shards rebuilt from parity.
    pub recovered_shards: usize,
    /// Shards of the frame received when it completed.
    pub received_shards: usize,
    /// Highest shard index seen when it completed: shards are sent in index order, so
    /// `highest_shard + 1 − received_shards` of them were lost (the loss report, `docs/wire.md` §12).
    pub highest_shard: usize,
    /// The access unit.
    pub data: &'a [u8],
}

/// Reassembler for the lumen transport: one frame in flight, a newer frame abandons the current one.
pub struct LumenReassembler {
    params: LumenParams,
    codecs: CodecCache,
    current: Option<LumenHeader>,
    got: usize,
    got_data: usize,
    highest: usize,
    have: Vec<bool>,
    buf: Vec<u8>,
    done_through: Option<u32>,
    abandoned: u64,
    scratch: ShardTable,
}

impl core::fmt::Debug for LumenReassembler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LumenReassembler")
            .field("params", &self.params)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl LumenReassembler {
    /// A reassembler with the given parameters.
    pub fn new(params: LumenParams) -> Result<Self, VideoError> {
        params.validate()?;
        Ok(Self {
            params,
            codecs: CodecCache::new(),
            current: None,
            got: 0,
            got_data: 0,
            highest: 0,
            have: Vec::new(),
            buf: Vec::new(),
            done_through: None,
            abandoned: 0,
            scratch: ShardTable::new(),
        })
    }

    /// Frames abandoned unfinished so far.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// The parameters in use.
    pub fn params(&self) -> LumenParams {
        self.params
    }

    /// Feeds one datagram; returns the frame when this datagram completed it.
    pub fn push(&mut self, d: &[u8]) -> Result<Option<LumenFrame<'_>>, VideoError> {
        if d.len() != self.params.datagram_len() {
            return Err(VideoError::BadLength { expected: self.params.datagram_len(), got: d.len() });
        }
        self.push_parts(&d[..LUMEN_HEADER_LEN], &d[LUMEN_HEADER_LEN..])
    }

    /// Feeds one datagram given as its 24-byte header and its shard (`shard_len` bytes): the transport
    /// layer's form, where other fields sit between the two ([`crate::transport`]).
    pub fn push_parts(&mut self, header: &[u8], shard: &[u8]) -> Result<Option<LumenFrame<'_>>, VideoError> {
        let sl = self.params.shard_len;
        if header.len() != LUMEN_HEADER_LEN || shard.len() != sl {
            return Err(VideoError::BadLength {
                expected: self.params.datagram_len(),
                got: header.len() + shard.len(),
            });
        }
        let h = LumenHeader::parse(header)?;
        if (h.au_len as usize).div_ceil(sl).max(1) != h.data_shards as usize {
            return Err(VideoError::BadFecInfo("lumen AU length disagrees with the data shard count"));
        }
        if self.done_through.is_some_and(|f| (f.wrapping_sub(h.frame_index) as i32) >= 0) {
            return Ok(None);
        }
        match self.current {
            Some(c) if c.frame_index == h.frame_index => {
                if c.data_shards != h.data_shards || c.parity_shards != h.parity_shards || c.au_len != h.au_len {
                    return Err(VideoError::Inconsistent("lumen shard counts differ within a frame"));
                }
            }
            Some(c) if (h.frame_index.wrapping_sub(c.frame_index) as i32) < 0 => return Ok(None),
            other => {
                if other.is_some() {
                    self.abandoned += 1;
                }
                let total = h.data_shards as usize + h.parity_shards as usize;
                self.current = Some(h);
                self.got = 0;
                self.got_data = 0;
                self.highest = 0;
                self.have.clear();
                self.have.resize(total, false);
                self.buf.clear();
                self.buf.resize(total * sl, 0);
            }
        }
        let i = h.shard_index as usize;
        if self.have[i] {
            return Ok(None);
        }
        self.have[i] = true;
        self.got += 1;
        self.highest = self.highest.max(i);
        if i < h.data_shards as usize {
            self.got_data += 1;
        }
        self.buf[i * sl..(i + 1) * sl].copy_from_slice(shard);
        let data = h.data_shards as usize;
        if self.got < data {
            return Ok(None);
        }
        let missing = data - self.got_data;
        if missing > 0 {
            let mut table = recycle(core::mem::take(&mut self.scratch));
            table.extend(self.buf.chunks_exact_mut(sl));
            let r =
                self.codecs.get(data, h.parity_shards as usize).and_then(|rs| rs.reconstruct(&mut table, &self.have));
            self.scratch = recycle(table);
            r?;
        }
        self.current = None;
        self.done_through = Some(h.frame_index);
        Ok(Some(LumenFrame {
            header: h,
            recovered_shards: missing,
            received_shards: self.got,
            highest_shard: self.highest,
            data: &self.buf[..h.au_len as usize],
        }))
    }
}
