//! Fuzz target: the video depacketizers (Moonlight reassembler, plain and encrypted, and the lumen
//! transport reassembler). The input is split into datagrams by a 2-byte big-endian length prefix, so
//! one run feeds a sequence of datagrams into the same reassembler state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::crypto::{self, Aes128Gcm};
use lumen_core::video::lumen::{LumenParams, LumenReassembler};
use lumen_core::video::{GcmVideo, VideoParams, VideoReassembler};

const KEY: [u8; 16] = [0x44; 16];

fuzz_target!(|data: &[u8]| {
    let params = VideoParams::DEFAULT;
    let mut plain = VideoReassembler::new(params).expect("params");
    let mut enc = VideoReassembler::new(params).expect("params").with_opener(Box::new(GcmVideo::new(&KEY)));
    let mut lumen = LumenReassembler::new(LumenParams::for_datagram(1392, 20, 2).expect("params")).expect("params");
    let gcm = Aes128Gcm::new(&KEY);
    let mut counter = 1u64 << 40;
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        // A short length means "pad this datagram to the plaintext datagram size" so the length check
        // passes and the header parser runs.
        let take = len.min(rest.len());
        let mut d = rest[..take].to_vec();
        rest = &rest[take..];
        if len < 64 {
            d.resize(params.shard_len(), 0);
        }
        let _ = plain.push(&d);
        while plain.poll().is_some() {}
        let _ = lumen.push(&d);
        // Seal the same plaintext so the encrypted path reaches its parser too.
        let mut sealed = vec![0u8; crypto::video::PREFIX_LEN + d.len()];
        sealed[crypto::video::PREFIX_LEN..].copy_from_slice(&d);
        crypto::video::seal_in_place(&gcm, counter, 1, &mut sealed).expect("seal");
        counter += 1;
        let _ = enc.push(&sealed);
        while enc.poll().is_some() {}
    }
});
