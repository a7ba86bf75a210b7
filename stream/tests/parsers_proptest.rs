//! Property tests of every parser that reads network bytes (nvhttp query, RTSP request, SDP/ANNOUNCE,
//! launch query): random and mutated input never panics and always yields a value or a clean error.

use lumen_stream::launch::{parse_mode, LaunchRecord};
use lumen_stream::nvhttp::query::{parse_query, parse_query_bytes};
use lumen_stream::rtsp::request::{parse_request, Parsed};
use lumen_stream::sdp::{parse_announce, parse_body};
use proptest::prelude::*;

const ANNOUNCE: &str = "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n\
a=x-ml-general.featureFlags:3 \r\na=x-ss-general.encryptionEnabled:5 \r\na=x-nv-video[0].clientViewportWd:1280 \r\n\
a=x-nv-video[0].clientViewportHt:720 \r\na=x-nv-video[0].maxFPS:30 \r\na=x-nv-video[0].packetSize:1392 \r\n\
a=x-nv-vqos[0].bw.maximumBitrateKbps:8000 \r\na=x-nv-vqos[0].bitStreamFormat:0 \r\na=x-nv-aqos.packetDuration:5 \r\n\
t=0 0\r\nm=video 47998  \r\n";

const RTSP: &str = "ANNOUNCE streamid=control/13/0 RTSP/1.0\r\nCSeq: 6\r\nSession: 1\r\nContent-length: 4\r\n\r\nv=0\n";

const LAUNCH: &str = "uniqueid=0123456789ABCDEF&uuid=ab&appid=1&mode=1280x720x30&additionalStates=1&sops=1\
&rikey=00112233445566778899aabbccddeeff&rikeyid=-775962003&localAudioPlayMode=0&surroundAudioInfo=196610\
&remoteControllersBitmap=0&gcmap=0&gcpersist=0&corever=1";

/// `base` with a few random byte edits (flip, insert, delete).
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8).prop_map(move |edits| {
        let mut v = base.as_bytes().to_vec();
        for (i, b, op) in edits {
            if v.is_empty() {
                v.push(b);
                continue;
            }
            let at = i.index(v.len());
            match op {
                0 => v[at] = b,
                1 => v.insert(at, b),
                _ => {
                    v.remove(at);
                }
            }
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn query_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(q) = parse_query_bytes(&bytes) {
            prop_assert!(q.len() <= lumen_stream::nvhttp::query::MAX_PARAMS);
        }
    }

    #[test]
    fn query_mutated(bytes in mutated(LAUNCH)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(q) = parse_query(text) {
                let _ = LaunchRecord::from_launch(&q, 1, "Desktop");
                let _ = q.hex("rikey");
                let _ = q.parse_required::<i32>("rikeyid");
            }
        }
    }

    #[test]
    fn mode_strings(s in "\\PC{0,24}") {
        if let Some((w, h, f)) = parse_mode(&s) {
            prop_assert!(w > 0 && h > 0 && f > 0);
        }
    }

    #[test]
    fn rtsp_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(Parsed::Complete(_, used)) = parse_request(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn rtsp_mutated(bytes in mutated(RTSP)) {
        match parse_request(&bytes) {
            Ok(Parsed::Complete(r, used)) => {
                prop_assert!(used <= bytes.len());
                prop_assert!(!r.method.is_empty());
            }
            Ok(Parsed::Incomplete) | Err(_) => {}
        }
    }

    #[test]
    fn rtsp_any_prefix_is_incomplete_or_error(cut in 0usize..RTSP.len()) {
        prop_assert!(!matches!(parse_request(&RTSP.as_bytes()[..cut]), Ok(Parsed::Complete(..))));
    }

    #[test]
    fn sdp_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse_body(&bytes);
        let _ = parse_announce(&bytes);
    }

    #[test]
    fn sdp_mutated(bytes in mutated(ANNOUNCE)) {
        if let Ok(c) = parse_announce(&bytes) {
            prop_assert!(c.width >= 1 && c.height >= 1 && c.fps >= 1 && c.packet_size >= 64);
        }
    }
}

#[test]
fn unmutated_inputs_parse() {
    assert!(parse_announce(ANNOUNCE.as_bytes()).is_ok());
    assert!(matches!(parse_request(RTSP.as_bytes()), Ok(Parsed::Complete(..))));
    let q = parse_query(LAUNCH).unwrap();
    assert!(LaunchRecord::from_launch(&q, 1, "Desktop").is_ok());
}
