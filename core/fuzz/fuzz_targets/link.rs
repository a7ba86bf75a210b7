//! Fuzz target: the host ↔ worker link (`lumen_core::link`). The input is a stream of frames as a worker (or
//! the host) would write them; each header and body is decoded in both directions, and whatever decodes is
//! encoded again and must decode to the same message. The input's first bytes are also read as a video-ring
//! notice (`RingUnit`), which must round-trip, and placed with `RingPlan`, whose answers must stay inside the
//! ring.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_core::link::{self, RingPlan, RingUnit, HEADER_LEN, RING_UNIT_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = RingUnit::decode(&data[..data.len().min(RING_UNIT_LEN)]) {
        assert_eq!(RingUnit::decode(&u.encode()), Ok(u));
        let plan = RingPlan::new(1 << 16);
        if let Some(start) = plan.place(u.start, u.meta.frame_no, u.len as usize) {
            let off = plan.offset(start, u.len as usize).expect("a placed unit lies inside the ring");
            assert!(off + u.len as usize <= plan.capacity());
        }
    }
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
