//! Fuzz target: the nvhttp query parser and the typed `/launch` parsing on top of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lumen_stream::launch::LaunchRecord;
use lumen_stream::nvhttp::query::parse_query_bytes;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = parse_query_bytes(data) {
        let _ = LaunchRecord::from_launch(&q, 1, "Desktop");
        let _ = q.hex("salt");
        let _ = q.parse_required::<u32>("appid");
    }
});
