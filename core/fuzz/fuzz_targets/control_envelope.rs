//! Fuzz target: the encrypted control envelope. The first byte picks a mode: open the input as a
//! received packet, or treat the rest as a plaintext to seal and open (which reaches the decoder
//! behind the crypto).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::control::envelope;
use lumen_core::crypto::{Aes128Gcm, Direction};

fuzz_target!(|data: &[u8]| {
    let gcm = Aes128Gcm::new(&[0x33; 16]);
    let Some((&mode, rest)) = data.split_first() else { return };
    let from = if mode & 1 == 0 { Direction::ClientToHost } else { Direction::HostToClient };
    if mode & 2 == 0 {
        let mut buf = rest.to_vec();
        let _ = envelope::open_message(&gcm, from, &mut buf);
    } else if rest.len() <= envelope::MAX_PLAINTEXT {
        let mut buf = vec![0u8; envelope::OVERHEAD + rest.len()];
        buf[envelope::OVERHEAD..].copy_from_slice(rest);
        let n = envelope::seal_in_place(&gcm, u32::from(mode), from, &mut buf, rest.len()).expect("seal");
        let _ = envelope::open_message(&gcm, from, &mut buf[..n]);
    }
});
