//! Fuzz target: the host ↔ worker link (`lumen_core::link`). The input is a stream of frames as a worker (or
//! the host) would write them; each header and body is decoded in both directions, and whatever decodes is
//! encoded again and must decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::link::{self, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut out = Vec::new();
    while rest.len() >= HEADER_LEN {
        let head: [u8; HEADER_LEN] = rest[..HEADER_LEN].try_into().expect("5 bytes");
        let Ok(h) = link::parse_header(&head) else { return };
        let body = &rest[HEADER_LEN..(HEADER_LEN + h.body_len).min(rest.len())];
        rest = &rest[HEADER_LEN + body.len()..];
        if let Ok(m) = link::decode_to_host(h.kind, body) {
            out.clear();
            link::encode_to_host(&m, &mut out);
            let h2 = link::parse_header(out[..HEADER_LEN].try_into().expect("5 bytes")).expect("own header");
            assert_eq!(link::decode_to_host(h2.kind, &out[HEADER_LEN..]).as_ref(), Ok(&m));
        }
        if let Ok(m) = link::decode_to_worker(h.kind, body) {
            out.clear();
            link::encode_to_worker(&m, &mut out);
            let h2 = link::parse_header(out[..HEADER_LEN].try_into().expect("5 bytes")).expect("own header");
            assert_eq!(link::decode_to_worker(h2.kind, &out[HEADER_LEN..]).as_ref(), Ok(&m));
        }
    }
});
