//! Fuzz target: plaintext control messages, decoded as sent by either side; whatever decodes must
//! re-encode to the same bytes' meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::control::ControlMessage;
use lumen_core::crypto::Direction;

fuzz_target!(|data: &[u8]| {
    for from in [Direction::ClientToHost, Direction::HostToClient] {
        if let Ok(m) = ControlMessage::decode(from, data) {
            let mut out = [0u8; 512];
            let n = m.encode_into(&mut out).expect("a decoded message re-encodes");
            assert_eq!(ControlMessage::decode(from, &out[..n]).as_ref(), Ok(&m));
        }
    }
});
