//! Host-side audio packetizer: one Opus packet in → its RTP datagram out, plus the two FEC datagrams of
//! the block after every fourth packet. Caller-owned output, fixed internal storage: no allocation.

use super::{gf, AudioError, FEC_HEADER_LEN, MAX_DATAGRAM_LEN, MAX_OPUS_LEN, MAX_SHARD_LEN, PT_AUDIO, PT_FEC, RTP_LEN};
use crate::crypto::AudioCipher;
use crate::video::PacketBatch;

/// The audio packetizer of one stream.
pub struct AudioPacketizer {
    seq: u16,
    timestamp: u32,
    duration_ms: u32,
    cipher: Option<AudioCipher>,
    shards: Box<[[u8; MAX_SHARD_LEN]; gf::DATA + gf::PARITY]>,
    lens: [usize; gf::DATA],
    base_timestamp: u32,
    in_block: usize,
}

impl core::fmt::Debug for AudioPacketizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AudioPacketizer")
            .field("seq", &self.seq)
            .field("timestamp", &self.timestamp)
            .field("encrypted", &self.cipher.is_some())
            .finish_non_exhaustive()
    }
}

fn write_rtp(out: &mut [u8], pt: u8, seq: u16, ts: u32) {
    out[0] = 0x80;
    out[1] = pt;
    out[2..4].copy_from_slice(&seq.to_be_bytes());
    out[4..8].copy_from_slice(&ts.to_be_bytes());
    out[8..12].fill(0);
}

impl AudioPacketizer {
    /// A packetizer for packets of `duration_ms` (5 by default), encrypting when `cipher` is given.
    pub fn new(duration_ms: u32, cipher: Option<AudioCipher>) -> Self {
        Self {
            seq: 0,
            timestamp: 0,
            duration_ms,
            cipher,
            shards: Box::new([[0u8; MAX_SHARD_LEN]; gf::DATA + gf::PARITY]),
            lens: [0; gf::DATA],
            base_timestamp: 0,
            in_block: 0,
        }
    }

    /// Sets the next sequence number and timestamp (FEC starts at the next multiple of 4).
    pub fn set_position(&mut self, seq: u16, timestamp: u32) {
        self.seq = seq;
        self.timestamp = timestamp;
        self.in_block = 0;
    }

    /// The sequence number the next packet gets.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// Packetizes one Opus packet into `out` (cleared first): one data datagram, plus two FEC datagrams
    /// when it completes a block of four equal-sized payloads (CBR Opus; a block of mixed sizes goes out
    /// without FEC, since the client turns FEC off for good when it sees one).
    pub fn packetize(&mut self, opus: &[u8], out: &mut PacketBatch) -> Result<(), AudioError> {
        if opus.len() > MAX_OPUS_LEN {
            return Err(AudioError::TooLarge(opus.len()));
        }
        let seq = self.seq;
        let ts = self.timestamp;
        let k = (seq % gf::DATA as u16) as usize;
        if k == 0 {
            self.in_block = 0;
            self.base_timestamp = ts;
        }
        let shard = &mut self.shards[k];
        shard[..opus.len()].copy_from_slice(opus);
        let len = match &self.cipher {
            Some(c) => c.encrypt(seq, &mut shard[..], opus.len())?,
            None => opus.len(),
        };
        self.lens[k] = len;
        self.in_block += 1;

        let fec = k == gf::DATA - 1 && self.in_block == gf::DATA;
        let fec = fec && self.lens.iter().all(|&l| l == len);
        out.reset(if fec { 3 } else { 1 }, MAX_DATAGRAM_LEN);
        let d = out.slot_mut(0);
        write_rtp(d, PT_AUDIO, seq, ts);
        d[RTP_LEN..RTP_LEN + len].copy_from_slice(&self.shards[k][..len]);
        out.set_len(0, RTP_LEN + len);
        if k == gf::DATA - 1 && self.in_block == gf::DATA && !fec {
            tracing::debug!(seq, "audio block of mixed packet sizes sent without FEC");
        }
        if fec {
            let [d0, d1, d2, d3, p0, p1] = &mut *self.shards;
            gf::encode([&d0[..len], &d1[..len], &d2[..len], &d3[..len]], [&mut p0[..len], &mut p1[..len]]);
            let base = seq.wrapping_sub(gf::DATA as u16 - 1);
            for x in 0..gf::PARITY {
                let d = out.slot_mut(1 + x);
                write_rtp(d, PT_FEC, seq.wrapping_add(1 + x as u16), 0);
                let h = &mut d[RTP_LEN..RTP_LEN + FEC_HEADER_LEN];
                h[0] = x as u8;
                h[1] = PT_AUDIO;
                h[2..4].copy_from_slice(&base.to_be_bytes());
                h[4..8].copy_from_slice(&self.base_timestamp.to_be_bytes());
                h[8..12].fill(0);
                let at = RTP_LEN + FEC_HEADER_LEN;
                d[at..at + len].copy_from_slice(&self.shards[gf::DATA + x][..len]);
                out.set_len(1 + x, at + len);
            }
        }
        self.seq = seq.wrapping_add(1);
        self.timestamp = ts.wrapping_add(self.duration_ms);
        Ok(())
    }
}
