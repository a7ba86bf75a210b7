//! Fuzz target: client input packets; whatever decodes must survive an encode/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::input;

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = input::decode(data) {
        let mut out = [0u8; 64];
        let n = input::encode_into(&ev, &mut out).expect("a decoded event re-encodes");
        assert_eq!(input::decode(&out[..n]), Ok(ev));
    }
});
