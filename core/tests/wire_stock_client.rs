//! lumen's video and audio datagrams through the stock client's own receive code: the video FEC queue
//! (`RtpvAddPacket`), the depacketizer and the audio FEC queue (`RtpaAddPacket`/`RtpaGetQueuedPacket`) of
//! the real moonlight-common-c shipped in `moonlight-python` 0.3.0 (the test venv; `LUMEN_VENV`, default
//! `/root/.cache/lumen/venv`), whose internals the library exports. Frames lose up to their parity and
//! must come out of the client byte-exact; audio blocks lose up to 2 packets and must come out whole.
//! Video is encrypted: each datagram is opened with the client's own `PltDecryptMessage` exactly as its
//! video receive thread does (AES-GCM, IV and tag from the 32-byte prefix) before it enters the queue.
//!
//! Everything runs in one test function: the library's state is process-global.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Mutex;

use libloading::{Library, Symbol};
use lumen_core::audio::AudioPacketizer;
use lumen_core::crypto::{AudioCipher, RemoteInputKey};
use lumen_core::video::{FrameMeta, FrameType, GcmVideo, PacketBatch, VideoPacketizer, VideoParams};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

extern "C" {
    fn malloc(n: usize) -> *mut c_void;
    fn calloc(n: usize, m: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

#[repr(C)]
struct LEntry {
    next: *mut LEntry,
    data: *const u8,
    length: i32,
    buffer_type: i32,
}

#[repr(C)]
struct DecodeUnit {
    frame_number: i32,
    frame_type: i32,
    host_latency: u16,
    receive_time_us: u64,
    enqueue_time_us: u64,
    presentation_time_us: u64,
    rtp_timestamp: u32,
    full_length: i32,
    buffer_list: *mut LEntry,
    hdr_active: bool,
    colorspace: u8,
}

#[repr(C)]
struct DecoderCallbacks {
    setup: usize,
    start: usize,
    stop: usize,
    cleanup: usize,
    submit: extern "C" fn(*mut DecodeUnit) -> i32,
    capabilities: i32,
}

/// Frames the client submitted: (frame number, frame type, RTP timestamp, bytes).
type Submitted = Vec<(i32, i32, u32, Vec<u8>)>;

static FRAMES: Mutex<Submitted> = Mutex::new(Vec::new());

extern "C" fn submit(du: *mut DecodeUnit) -> i32 {
    // SAFETY: the client passes a valid decode unit whose buffer list is valid for this call.
    let du = unsafe { &*du };
    let mut data = Vec::with_capacity(du.full_length.max(0) as usize);
    let mut e = du.buffer_list;
    while !e.is_null() {
        // SAFETY: a valid list entry of `length` bytes (client invariant).
        unsafe {
            data.extend_from_slice(std::slice::from_raw_parts((*e).data, (*e).length as usize));
            e = (*e).next;
        }
    }
    FRAMES.lock().unwrap().push((du.frame_number, du.frame_type, du.rtp_timestamp, data));
    0
}

extern "C" fn noop() {}

/// moonlight-common-c `PltDecryptMessage` (PlatformCrypto.h).
type DecryptFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    algorithm: i32,
    flags: i32,
    key: *mut u8,
    key_len: i32,
    iv: *mut u8,
    iv_len: i32,
    tag: *mut u8,
    tag_len: i32,
    input: *mut u8,
    input_len: i32,
    output: *mut u8,
    output_len: *mut i32,
) -> bool;
const ALGORITHM_AES_GCM: i32 = 2;
const VIDEO_KEY: [u8; 16] = *b"stock-client-key";

fn library_path() -> PathBuf {
    let venv = std::env::var("LUMEN_VENV").unwrap_or_else(|_| "/root/.cache/lumen/venv".into());
    let lib = PathBuf::from(venv).join("lib");
    for e in std::fs::read_dir(&lib).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", lib.display())) {
        let p = e.unwrap().path().join("site-packages/moonlight_python/libmoonlight-common-c.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libmoonlight-common-c.so not found under {} (run scripts/setup.sh)", lib.display());
}

/// Writes the RTP sequence number, timestamp and SSRC in host order, as the client's receive loops do
/// before handing a packet to its queues.
fn to_host_order(p: &mut [u8]) {
    let seq = u16::from_be_bytes([p[2], p[3]]);
    p[2..4].copy_from_slice(&seq.to_ne_bytes());
    for at in [4, 8] {
        let v = u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        p[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }
}

#[test]
fn stock_client_reassembles_lumen_video_and_audio() {
    // SAFETY: (whole test) symbols are looked up by the names and C types of moonlight-common-c at the
    // bundled commit b187204 (src/Limelight.h, RtpVideoQueue.h, RtpAudioQueue.h); buffers handed to the
    // library come from libc malloc because it frees them with free().
    unsafe {
        let lib = Library::new(library_path()).expect("load libmoonlight-common-c.so");
        let app_version: Symbol<*mut [i32; 4]> = lib.get(b"AppVersionQuad\0").unwrap();
        let format: Symbol<*mut i32> = lib.get(b"NegotiatedVideoFormat\0").unwrap();
        let stream_config: Symbol<*mut i32> = lib.get(b"StreamConfig\0").unwrap();
        let listener: Symbol<*mut [usize; 16]> = lib.get(b"ListenerCallbacks\0").unwrap();
        let video_cb: Symbol<*mut DecoderCallbacks> = lib.get(b"VideoCallbacks\0").unwrap();
        let audio_duration: Symbol<*mut i32> = lib.get(b"AudioPacketDuration\0").unwrap();
        let init_depacketizer: Symbol<unsafe extern "C" fn(i32)> = lib.get(b"initializeVideoDepacketizer\0").unwrap();
        let rtpv_init: Symbol<unsafe extern "C" fn(*mut c_void)> = lib.get(b"RtpvInitializeQueue\0").unwrap();
        let rtpv_add: Symbol<unsafe extern "C" fn(*mut c_void, *mut u8, i32, *mut u8) -> i32> =
            lib.get(b"RtpvAddPacket\0").unwrap();
        let rtpa_init: Symbol<unsafe extern "C" fn(*mut c_void)> = lib.get(b"RtpaInitializeQueue\0").unwrap();
        let rtpa_add: Symbol<unsafe extern "C" fn(*mut c_void, *mut u8, u16) -> i32> =
            lib.get(b"RtpaAddPacket\0").unwrap();
        let create_ctx: Symbol<unsafe extern "C" fn() -> *mut c_void> = lib.get(b"PltCreateCryptoContext\0").unwrap();
        let decrypt: Symbol<DecryptFn> = lib.get(b"PltDecryptMessage\0").unwrap();
        let rtpa_get: Symbol<unsafe extern "C" fn(*mut c_void, u16, *mut u16) -> *mut u8> =
            lib.get(b"RtpaGetQueuedPacket\0").unwrap();

        // A Sunshine-era host (7.1.431; 4th field 0 keeps the Sunshine-only control messages, which need a
        // live control stream, switched off) streaming AV1, whose depacketizer path returns exact bytes.
        **app_version = [7, 1, 431, 0];
        **format = 0x1000; // VIDEO_FORMAT_AV1_MAIN8
        *(*stream_config).add(4) = 1392; // StreamConfig.packetSize
        **listener = [noop as *const () as usize; 16];
        **video_cb = DecoderCallbacks { setup: 0, start: 0, stop: 0, cleanup: 0, submit, capabilities: 1 };
        **audio_duration = 5;

        // ---- video ----
        init_depacketizer(1392);
        let vq = calloc(1, 1 << 16);
        rtpv_init(vq);
        let params = VideoParams::DEFAULT;
        let mut p = VideoPacketizer::new(params).unwrap().with_sealer(Box::new(GcmVideo::new(&VIDEO_KEY)));
        let ctx = create_ctx();
        assert!(!ctx.is_null());
        let mut rng = StdRng::seed_from_u64(2024);
        let mut batch = PacketBatch::new();
        let mut sent = Vec::new();
        let shard = params.shard_len();
        let mut lost_total = 0;
        for i in 1..=40u32 {
            let len = match i % 8 {
                1 => rng.gen_range(200_000..600_000), // multi-block frames
                2 => rng.gen_range(1..30),
                _ => rng.gen_range(1_000..60_000),
            };
            let au: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let meta = FrameMeta {
                frame_index: i,
                frame_type: if i == 1 { FrameType::Idr } else { FrameType::P },
                host_latency: 0,
                rtp_timestamp: i * 1500,
            };
            let shape = p.packetize(&meta, &au, &mut batch).unwrap();
            // Per block: lose up to its parity (data shards included), reorder inside the block.
            let mut at = 0;
            for b in &shape.blocks[..shape.block_count] {
                let n = b.data + b.parity;
                let mut idx: Vec<usize> = (at..at + n).collect();
                idx.shuffle(&mut rng);
                let lose = rng.gen_range(0..=b.parity);
                lost_total += lose;
                let mut keep = idx[lose..].to_vec();
                if i % 2 == 0 {
                    keep.sort_unstable();
                }
                for k in keep {
                    let mut enc = batch.get(k).to_vec();
                    assert_eq!(enc.len(), 32 + shard);
                    let (mut key, mut iv, mut tag) = (VIDEO_KEY, [0u8; 12], [0u8; 16]);
                    iv.copy_from_slice(&enc[..12]);
                    tag.copy_from_slice(&enc[16..32]);
                    let buf = malloc(shard + 512).cast::<u8>();
                    let mut out_len = 0i32;
                    let ok = decrypt(
                        ctx,
                        ALGORITHM_AES_GCM,
                        0,
                        key.as_mut_ptr(),
                        16,
                        iv.as_mut_ptr(),
                        12,
                        tag.as_mut_ptr(),
                        16,
                        enc[32..].as_mut_ptr(),
                        shard as i32,
                        buf,
                        &mut out_len,
                    );
                    assert!(
                        ok && out_len as usize == shard,
                        "the client failed to decrypt video datagram {k} of frame {i}"
                    );
                    to_host_order(std::slice::from_raw_parts_mut(buf, shard));
                    if rtpv_add(vq, buf, shard as i32, buf.add(shard)) != 0 {
                        free(buf.cast()); // rejected: still ours
                    }
                }
                at += n;
            }
            sent.push((i, au));
        }
        let got = std::mem::take(&mut *FRAMES.lock().unwrap());
        assert!(lost_total > 50, "the run should exercise FEC recovery ({lost_total} datagrams lost)");
        assert_eq!(got.len(), sent.len(), "the stock client delivered {} of {} frames", got.len(), sent.len());
        for ((n, ty, ts, data), (i, au)) in got.iter().zip(&sent) {
            assert_eq!(*n as u32, *i);
            assert_eq!(*ty, if *i == 1 { 1 } else { 0 }, "frame type of {i}");
            assert_eq!(*ts, i * 1500);
            assert_eq!(data.len(), au.len(), "frame {i} length");
            assert!(data == au, "frame {i} bytes differ");
        }

        // ---- audio (encrypted, as the stock client always negotiates) ----
        let aq = calloc(1, 1 << 16);
        rtpa_init(aq);
        let rik = RemoteInputKey::new([0x5A; 16], -77);
        let mut ap = AudioPacketizer::new(5, Some(AudioCipher::new(&rik)));
        let mut payloads = Vec::new();
        let mut out: Vec<(u16, Vec<u8>)> = Vec::new();
        let take = |q: *mut c_void, out: &mut Vec<(u16, Vec<u8>)>| loop {
            let mut len = 0u16;
            let p = rtpa_get(q, 0, &mut len);
            if p.is_null() {
                break;
            }
            let pkt = std::slice::from_raw_parts(p, len as usize);
            if len >= 12 {
                out.push((u16::from_ne_bytes([pkt[2], pkt[3]]), pkt[12..].to_vec()));
            }
            free(p.cast());
        };
        for n in 0..400usize {
            let opus: Vec<u8> = (0..97).map(|_| rng.gen()).collect();
            ap.packetize(&opus, &mut batch).unwrap();
            payloads.push(batch.get(0)[12..].to_vec());
            // Lose two of the six datagrams of every block that has its FEC (after the first few blocks).
            let in_block = n % 4;
            for (j, d) in batch.iter().enumerate() {
                let lose = n >= 16
                    && ((in_block == 1 && j == 0)
                        || (in_block == 3 && j == 0 && (n / 4) % 2 == 0)
                        || (in_block == 3 && j == 2 && (n / 4) % 2 == 1));
                if lose {
                    continue;
                }
                let mut pkt = d.to_vec();
                to_host_order(&mut pkt);
                let r = rtpa_add(aq, pkt.as_mut_ptr(), pkt.len() as u16);
                if r == 0x4 {
                    out.push((u16::from_ne_bytes([pkt[2], pkt[3]]), pkt[12..].to_vec()));
                } else if r & 0x2 != 0 {
                    take(aq, &mut out);
                }
            }
        }
        take(aq, &mut out);
        // The client starts at the first whole block after the first packet it sees (sequence 4).
        let seqs: Vec<u16> = out.iter().map(|o| o.0).collect();
        let want: Vec<u16> = (4..400).collect();
        assert_eq!(&seqs[..], &want[..], "the stock client's audio queue output sequence");
        for (seq, data) in &out {
            assert_eq!(data, &payloads[*seq as usize], "audio packet {seq}");
        }
        // Keep the library loaded until the end of the process: it owns threads-free global state only,
        // but unloading it under the queues we allocated would leave dangling function pointers.
        std::mem::forget(lib);
    }
}
