//! Client-side audio receiver: RTP audio and FEC datagrams in any order → Opus packets in sequence order,
//! lost data packets rebuilt from the 4 + 2 FEC blocks, the rest reported lost. Decrypts when keyed.
//!
//! Delivery is in order: a packet waits for its predecessors until a datagram two FEC blocks ahead arrives;
//! then the waiting block is given up (whatever it holds is delivered, the rest reported lost).
//! Fixed storage, no allocation; malformed datagrams give an [`AudioError`], never a panic.

use super::{gf, AudioError, FEC_HEADER_LEN, MAX_SHARD_LEN, PT_AUDIO, PT_FEC, RTP_LEN};
use crate::crypto::AudioCipher;

const RING: usize = 4;
const TOTAL: usize = gf::DATA + gf::PARITY;

/// One result of the receiver.
#[derive(Debug, PartialEq, Eq)]
pub enum AudioEvent<'a> {
    /// The next Opus packet in sequence.
    Packet {
        /// RTP sequence number.
        seq: u16,
        /// RTP timestamp (ms).
        timestamp: u32,
        /// Rebuilt from FEC rather than received.
        recovered: bool,
        /// The (decrypted) Opus packet.
        opus: &'a [u8],
    },
    /// The packet with this sequence number is lost for good.
    Lost {
        /// RTP sequence number.
        seq: u16,
    },
}

/// Counters over the life of a receiver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStats {
    /// Packets delivered (received or recovered).
    pub delivered: u64,
    /// Packets rebuilt from FEC.
    pub recovered: u64,
    /// Packets reported lost.
    pub lost: u64,
    /// Datagrams refused as malformed.
    pub malformed: u64,
}

struct Block {
    active: bool,
    base: u16,
    base_ts: u32,
    shard_len: Option<usize>,
    mixed: bool,
    present: [bool; TOTAL],
    recovered: [bool; gf::DATA],
    lens: [usize; TOTAL],
    bufs: [[u8; MAX_SHARD_LEN]; TOTAL],
}

impl Block {
    fn reset(&mut self, base: u16) {
        self.active = true;
        self.base = base;
        self.base_ts = 0;
        self.shard_len = None;
        self.mixed = false;
        self.present = [false; TOTAL];
        self.recovered = [false; gf::DATA];
    }

    fn has_data(&self, i: usize) -> bool {
        self.present[i] || self.recovered[i]
    }

    fn try_recover(&mut self) -> usize {
        let missing = (0..gf::DATA).filter(|&i| !self.has_data(i)).count();
        let have = self.present.iter().filter(|&&p| p).count();
        let Some(len) = self.shard_len else { return 0 };
        if missing == 0 || have < gf::DATA || self.mixed {
            return 0;
        }
        let mut present = self.present;
        for (p, r) in present.iter_mut().zip(self.recovered) {
            *p |= r;
        }
        let [b0, b1, b2, b3, b4, b5] = &mut self.bufs;
        let mut shards =
            [&mut b0[..len], &mut b1[..len], &mut b2[..len], &mut b3[..len], &mut b4[..len], &mut b5[..len]];
        if !gf::reconstruct(&mut shards, present) {
            return 0;
        }
        for i in 0..gf::DATA {
            if !self.has_data(i) {
                self.recovered[i] = true;
                self.lens[i] = len;
            }
        }
        missing
    }
}

/// The audio receiver of one stream.
pub struct AudioReceiver {
    cipher: Option<AudioCipher>,
    duration_ms: u32,
    blocks: Box<[Block; RING]>,
    next: Option<u16>,
    /// Highest sequence number known to exist (a data packet, or the end of a block an FEC packet names).
    highest: Option<u16>,
    plain: Box<[u8; MAX_SHARD_LEN]>,
    stats: AudioStats,
}

impl core::fmt::Debug for AudioReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AudioReceiver").field("next", &self.next).field("stats", &self.stats).finish_non_exhaustive()
    }
}

fn before16(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) < 0
}

#[allow(clippy::too_many_arguments)]
fn emit(
    cipher: &Option<AudioCipher>,
    plain: &mut [u8; MAX_SHARD_LEN],
    stats: &mut AudioStats,
    seq: u16,
    timestamp: u32,
    recovered: bool,
    payload: &[u8],
    sink: &mut dyn FnMut(AudioEvent<'_>),
) {
    let opus: &[u8] = match cipher {
        Some(c) => {
            plain[..payload.len()].copy_from_slice(payload);
            match c.decrypt(seq, &mut plain[..payload.len()]) {
                Ok(n) => &plain[..n],
                Err(e) => {
                    tracing::debug!(seq, error = %e, "audio packet failed to decrypt");
                    stats.lost += 1;
                    sink(AudioEvent::Lost { seq });
                    return;
                }
            }
        }
        None => payload,
    };
    stats.delivered += 1;
    if recovered {
        stats.recovered += 1;
    }
    sink(AudioEvent::Packet { seq, timestamp, recovered, opus });
}

impl AudioReceiver {
    /// A receiver for packets of `duration_ms`, decrypting when `cipher` is given.
    pub fn new(duration_ms: u32, cipher: Option<AudioCipher>) -> Self {
        let blocks = Box::new(std::array::from_fn(|_| Block {
            active: false,
            base: 0,
            base_ts: 0,
            shard_len: None,
            mixed: false,
            present: [false; TOTAL],
            recovered: [false; gf::DATA],
            lens: [0; TOTAL],
            bufs: [[0u8; MAX_SHARD_LEN]; TOTAL],
        }));
        Self {
            cipher,
            duration_ms,
            blocks,
            next: None,
            highest: None,
            plain: Box::new([0u8; MAX_SHARD_LEN]),
            stats: AudioStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> AudioStats {
        self.stats
    }

    /// Feeds one datagram; everything that became deliverable goes to `sink` in sequence order.
    pub fn push(&mut self, d: &[u8], sink: &mut dyn FnMut(AudioEvent<'_>)) -> Result<(), AudioError> {
        let r = self.push_inner(d, sink);
        if let Err(e) = &r {
            self.stats.malformed += 1;
            tracing::debug!(error = %e, len = d.len(), "audio datagram refused");
        }
        r
    }

    fn push_inner(&mut self, d: &[u8], sink: &mut dyn FnMut(AudioEvent<'_>)) -> Result<(), AudioError> {
        if d.len() < RTP_LEN {
            return Err(AudioError::Truncated { need: RTP_LEN, have: d.len() });
        }
        if d[0] & 0xC0 != 0x80 {
            return Err(AudioError::BadRtpHeader(d[0]));
        }
        let seq = u16::from_be_bytes([d[2], d[3]]);
        let (base, idx, base_ts, payload) = match d[1] {
            PT_AUDIO => {
                let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
                let idx = (seq % gf::DATA as u16) as usize;
                (seq - idx as u16, idx, ts.wrapping_sub(idx as u32 * self.duration_ms), &d[RTP_LEN..])
            }
            PT_FEC => {
                let at = RTP_LEN + FEC_HEADER_LEN;
                if d.len() < at {
                    return Err(AudioError::Truncated { need: at, have: d.len() });
                }
                let h = &d[RTP_LEN..at];
                if h[0] as usize >= gf::PARITY {
                    return Err(AudioError::BadFecHeader("FEC shard index above 1"));
                }
                let base = u16::from_be_bytes([h[2], h[3]]);
                if !base.is_multiple_of(gf::DATA as u16) {
                    return Err(AudioError::BadFecHeader("base sequence number not a multiple of 4"));
                }
                (base, gf::DATA + h[0] as usize, u32::from_be_bytes([h[4], h[5], h[6], h[7]]), &d[at..])
            }
            other => return Err(AudioError::BadPayloadType(other)),
        };
        if payload.len() > MAX_SHARD_LEN {
            return Err(AudioError::TooLarge(payload.len()));
        }
        let top = if idx < gf::DATA { seq } else { base.wrapping_add(gf::DATA as u16 - 1) };
        let next = *self.next.get_or_insert(if idx < gf::DATA { seq } else { base });
        if self.highest.is_none_or(|h| before16(h, top)) {
            self.highest = Some(top);
        }
        if before16(base.wrapping_add(gf::DATA as u16 - 1), next) {
            return Ok(()); // a block already delivered or given up
        }
        // Give up on waiting blocks once this datagram is two blocks ahead.
        while let Some(n) = self.next {
            let nbase = n - n % gf::DATA as u16;
            if (base.wrapping_sub(nbase) as i16) < 2 * gf::DATA as i16 {
                break;
            }
            self.give_up(sink, None);
        }
        let slot = (base / gf::DATA as u16) as usize % RING;
        let b = &mut self.blocks[slot];
        if !b.active || b.base != base {
            b.reset(base);
        }
        if b.present[idx] || (idx < gf::DATA && b.recovered[idx]) {
            return Ok(());
        }
        b.present[idx] = true;
        b.lens[idx] = payload.len();
        b.bufs[idx][..payload.len()].copy_from_slice(payload);
        b.bufs[idx][payload.len()..].fill(0);
        b.base_ts = base_ts;
        match b.shard_len {
            None => b.shard_len = Some(payload.len()),
            Some(l) if l != payload.len() => b.mixed = true,
            Some(_) => {}
        }
        b.try_recover();
        self.drain(sink);
        Ok(())
    }

    /// Delivers in-order packets from the head block.
    fn drain(&mut self, sink: &mut dyn FnMut(AudioEvent<'_>)) {
        while let Some(n) = self.next {
            let idx = (n % gf::DATA as u16) as usize;
            let base = n - idx as u16;
            let b = &mut self.blocks[(base / gf::DATA as u16) as usize % RING];
            if !b.active || b.base != base || !b.has_data(idx) {
                return;
            }
            let ts = b.base_ts.wrapping_add(idx as u32 * self.duration_ms);
            let rec = b.recovered[idx];
            emit(&self.cipher, &mut self.plain, &mut self.stats, n, ts, rec, &b.bufs[idx][..b.lens[idx]], sink);
            if idx == gf::DATA - 1 {
                b.active = false;
            }
            self.next = Some(n.wrapping_add(1));
        }
    }

    /// Ends the wait on the head block: delivers what it has, reports the rest lost, moves to the next.
    /// With `limit`, sequence numbers after it (never sent, as far as we know) are not reported.
    fn give_up(&mut self, sink: &mut dyn FnMut(AudioEvent<'_>), limit: Option<u16>) {
        let Some(n) = self.next else { return };
        let idx0 = (n % gf::DATA as u16) as usize;
        let base = n - idx0 as u16;
        let b = &mut self.blocks[(base / gf::DATA as u16) as usize % RING];
        let live = b.active && b.base == base;
        for idx in idx0..gf::DATA {
            let seq = base.wrapping_add(idx as u16);
            if limit.is_some_and(|l| before16(l, seq)) {
                break;
            }
            if live && b.has_data(idx) {
                let ts = b.base_ts.wrapping_add(idx as u32 * self.duration_ms);
                emit(
                    &self.cipher,
                    &mut self.plain,
                    &mut self.stats,
                    seq,
                    ts,
                    b.recovered[idx],
                    &b.bufs[idx][..b.lens[idx]],
                    sink,
                );
            } else {
                self.stats.lost += 1;
                sink(AudioEvent::Lost { seq });
            }
        }
        if live {
            b.active = false;
        }
        self.next = Some(base.wrapping_add(gf::DATA as u16));
        self.drain(sink);
    }

    /// End of stream: gives up on every block still waiting.
    pub fn flush(&mut self, sink: &mut dyn FnMut(AudioEvent<'_>)) {
        while let Some(n) = self.next {
            let nbase = n - n % gf::DATA as u16;
            let pending = self.blocks.iter().any(|b| b.active && !before16(b.base, nbase));
            if !pending {
                return;
            }
            self.give_up(sink, self.highest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::AudioPacketizer;
    use super::*;
    use crate::crypto::RemoteInputKey;
    use crate::video::PacketBatch;

    type Delivered = Vec<(u16, bool, Vec<u8>)>;

    fn run(cipher: bool, drop: &dyn Fn(usize, u16, bool) -> bool, n: usize, sizes_vary: bool) -> (Delivered, Vec<u16>) {
        let rik = RemoteInputKey::new([7; 16], -12345);
        let mk = || cipher.then(|| AudioCipher::new(&rik));
        let mut p = AudioPacketizer::new(5, mk());
        let mut r = AudioReceiver::new(5, mk());
        let mut batch = PacketBatch::new();
        let mut got = Vec::new();
        let mut lost = Vec::new();
        let mut dg = 0usize;
        for i in 0..n {
            let len = if sizes_vary { 20 + i % 7 } else { 60 };
            let opus: Vec<u8> = (0..len).map(|b| (i * 13 + b) as u8).collect();
            p.packetize(&opus, &mut batch).unwrap();
            for d in batch.iter() {
                let fec = d[1] == PT_FEC;
                let seq = u16::from_be_bytes([d[2], d[3]]);
                if !drop(dg, seq, fec) {
                    r.push(d, &mut |e| match e {
                        AudioEvent::Packet { seq, recovered, opus, .. } => got.push((seq, recovered, opus.to_vec())),
                        AudioEvent::Lost { seq } => lost.push(seq),
                    })
                    .unwrap();
                }
                dg += 1;
            }
        }
        r.flush(&mut |e| match e {
            AudioEvent::Packet { seq, recovered, opus, .. } => got.push((seq, recovered, opus.to_vec())),
            AudioEvent::Lost { seq } => lost.push(seq),
        });
        (got, lost)
    }

    fn expect(i: usize) -> Vec<u8> {
        (0..60).map(|b| (i * 13 + b) as u8).collect()
    }

    #[test]
    fn lossless_in_order_with_and_without_crypto() {
        for c in [false, true] {
            let (got, lost) = run(c, &|_, _, _| false, 40, false);
            assert!(lost.is_empty());
            assert_eq!(got.len(), 40);
            for (i, (s, rec, o)) in got.iter().enumerate() {
                assert_eq!(*s as usize, i);
                assert!(!rec);
                assert_eq!(o, &expect(i));
            }
        }
    }

    #[test]
    fn two_losses_per_block_recover() {
        for c in [false, true] {
            // Drop data packets 1 and 2 of every block.
            let (got, lost) = run(c, &|_, s, fec| !fec && (s % 4 == 1 || s % 4 == 2), 40, false);
            assert!(lost.is_empty(), "{lost:?}");
            assert_eq!(got.len(), 40);
            for (i, (s, rec, o)) in got.iter().enumerate() {
                assert_eq!(*s as usize, i);
                assert_eq!(*rec, i % 4 == 1 || i % 4 == 2);
                assert_eq!(o, &expect(i));
            }
        }
    }

    #[test]
    fn three_losses_are_reported_lost() {
        let (got, lost) = run(true, &|_, s, fec| !fec && (8..11).contains(&s), 24, false);
        assert_eq!(lost, vec![8, 9, 10]);
        assert_eq!(got.len(), 21);
    }

    #[test]
    fn mixed_sizes_go_without_fec_and_still_deliver() {
        let (got, lost) = run(false, &|_, _, _| false, 16, true);
        assert!(lost.is_empty());
        assert_eq!(got.len(), 16);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut r = AudioReceiver::new(5, None);
        let mut sink = |_: AudioEvent<'_>| {};
        assert!(r.push(&[0x80; 5], &mut sink).is_err());
        assert!(r.push(&[0x00; 20], &mut sink).is_err());
        let mut fec = [0u8; 30];
        fec[0] = 0x80;
        fec[1] = PT_FEC;
        fec[12] = 5;
        assert!(r.push(&fec, &mut sink).is_err());
        fec[12] = 0;
        fec[15] = 3;
        assert!(r.push(&fec, &mut sink).is_err());
        assert!(r.push(&[0x80, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut sink).is_err());
    }
}
