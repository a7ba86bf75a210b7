//! Fuzz target: the audio receiver (RTP Opus + 4+2 FEC), plain and AES-CBC encrypted. The input is a
//! sequence of datagrams, each prefixed by a 2-byte big-endian length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::audio::AudioReceiver;
use lumen_core::crypto::{AudioCipher, RemoteInputKey};

fuzz_target!(|data: &[u8]| {
    let rik = RemoteInputKey::new([0x55; 16], -7);
    let mut plain = AudioReceiver::new(5, None);
    let mut enc = AudioReceiver::new(5, Some(AudioCipher::new(&rik)));
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let d = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let _ = plain.push(d, &mut |_| {});
        let _ = enc.push(d, &mut |_| {});
    }
    plain.flush(&mut |_| {});
    enc.flush(&mut |_| {});
});
