//! Fuzz target: the SDP body parser and the typed ANNOUNCE parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_stream::sdp::{parse_announce, parse_body};

fuzz_target!(|data: &[u8]| {
    let _ = parse_body(data);
    let _ = parse_announce(data);
});
