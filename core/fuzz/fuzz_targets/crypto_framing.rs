//! Fuzz target: encrypted RTSP and video framing, `rikey`/`rikeyid` parsing, and CBC unpadding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::crypto::{self, Aes128Gcm, AudioCipher, Direction, RemoteInputKey};

fuzz_target!(|data: &[u8]| {
    let gcm = Aes128Gcm::new(&[0x66; 16]);
    let mut buf = data.to_vec();
    let _ = crypto::rtsp::open_in_place(&gcm, Direction::ClientToHost, &mut buf);
    let mut buf = data.to_vec();
    let _ = crypto::video::open_in_place(&gcm, &mut buf);
    let s = String::from_utf8_lossy(data);
    let (a, b) = s.split_at(s.char_indices().nth(s.chars().count() / 2).map_or(0, |(i, _)| i));
    let _ = RemoteInputKey::parse(a, b);
    let cbc = AudioCipher::new(&RemoteInputKey::new([0x66; 16], 1));
    let mut buf = data.to_vec();
    if let Ok(n) = cbc.decrypt(7, &mut buf) {
        assert!(n < data.len().max(1));
    }
});
