//! Fuzz target: the RTSP request parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_stream::rtsp::request::{parse_request, Parsed};

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Complete(req, used)) = parse_request(data) {
        assert!(used <= data.len());
        let _ = req.cseq();
    }
});
