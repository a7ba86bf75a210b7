//! Random bytes through every decoder that reads network input: control messages (both directions),
//! the encrypted control envelope, input packets, encrypted RTSP and video framing, `rikey` parsing,
//! the video reassembler (Moonlight, plain and encrypted; lumen transport), the audio receiver (plain and
//! encrypted) and the header parsers. Nothing may panic.
//!
//! Two feeds, both from a fixed seed (reproducible):
//! 1. 10 MiB of random bytes cut into random-length chunks (0..=2048 bytes; every 8th chunk has exactly
//!    a video datagram's length so it passes the length check); every chunk goes to every decoder.
//! 2. Valid packets of every kind, mutated (bit flips, byte overwrites, truncation, extension) and fed
//!    to their decoder; encrypted kinds are mutated *before* sealing so the bytes reach the parser.

use lumen_core::audio::{AudioPacketizer, AudioReceiver};
use lumen_core::control::{envelope, ControlMessage, FrameFecStatus, HdrMetadata, Termination};
use lumen_core::crypto::{self, Aes128Gcm, AudioCipher, Direction, RemoteInputKey};
use lumen_core::input::{self, *};
use lumen_core::video::lumen::{LumenHeader, LumenPacketizer, LumenParams, LumenReassembler};
use lumen_core::video::{
    FrameHeader, FrameMeta, FrameType, GcmVideo, PacketBatch, PacketHeader, VideoPacketizer, VideoParams,
    VideoReassembler,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const KEY: [u8; 16] = [0x5a; 16];
const RANDOM_BYTES: usize = 10 * 1024 * 1024;

/// Every decoder, with the state some of them keep between datagrams.
struct Decoders {
    gcm: Aes128Gcm,
    video: VideoReassembler,
    video_enc: VideoReassembler,
    lumen: LumenReassembler,
    audio: AudioReceiver,
    audio_enc: AudioReceiver,
    audio_cipher: AudioCipher,
    scratch: Vec<u8>,
    accepted: u64,
}

impl Decoders {
    fn new() -> Self {
        let params = VideoParams::DEFAULT;
        let rik = RemoteInputKey::new(KEY, -775_962_003);
        Self {
            gcm: Aes128Gcm::new(&KEY),
            video: VideoReassembler::new(params).unwrap(),
            video_enc: VideoReassembler::new(params).unwrap().with_opener(Box::new(GcmVideo::new(&KEY))),
            lumen: LumenReassembler::new(LumenParams::for_datagram(1392, 20, 2).unwrap()).unwrap(),
            audio: AudioReceiver::new(5, None),
            audio_enc: AudioReceiver::new(5, Some(AudioCipher::new(&rik))),
            audio_cipher: AudioCipher::new(&rik),
            scratch: Vec::with_capacity(4096),
            accepted: 0,
        }
    }

    fn ok<T, E>(&mut self, r: Result<T, E>) {
        if r.is_ok() {
            self.accepted += 1;
        }
    }

    fn all(&mut self, b: &[u8]) {
        self.input(b);
        self.control(b);
        self.envelope(b);
        self.rtsp(b);
        self.video_prefix(b);
        let r = RemoteInputKey::parse(&String::from_utf8_lossy(b), &String::from_utf8_lossy(&b[b.len() / 2..]));
        self.ok(r);
        self.scratch.clear();
        self.scratch.extend_from_slice(b);
        let r = self.audio_cipher.decrypt(u16::from(b.first().copied().unwrap_or(0)), &mut self.scratch);
        self.ok(r);
        self.video(b);
        self.video_enc(b);
        self.lumen(b);
        self.audio(b);
        self.audio_enc(b);
        let r = PacketHeader::parse(b);
        self.ok(r);
        let r = FrameHeader::parse(b);
        self.ok(r);
        let r = LumenHeader::parse(b);
        self.ok(r);
    }

    fn input(&mut self, b: &[u8]) {
        let r = input::decode(b);
        self.ok(r);
    }

    fn control(&mut self, b: &[u8]) {
        let r = ControlMessage::decode(Direction::ClientToHost, b);
        self.ok(r);
        let r = ControlMessage::decode(Direction::HostToClient, b);
        self.ok(r);
    }

    fn envelope(&mut self, b: &[u8]) {
        for d in [Direction::ClientToHost, Direction::HostToClient] {
            self.scratch.clear();
            self.scratch.extend_from_slice(b);
            let r = envelope::open_message(&self.gcm, d, &mut self.scratch);
            self.ok(r);
        }
    }

    fn rtsp(&mut self, b: &[u8]) {
        let r = crypto::rtsp::parse_header(b);
        self.ok(r);
        self.scratch.clear();
        self.scratch.extend_from_slice(b);
        let r = crypto::rtsp::open_in_place(&self.gcm, Direction::ClientToHost, &mut self.scratch);
        self.ok(r);
    }

    fn video_prefix(&mut self, b: &[u8]) {
        self.scratch.clear();
        self.scratch.extend_from_slice(b);
        let r = crypto::video::open_in_place(&self.gcm, &mut self.scratch);
        self.ok(r);
    }

    fn video(&mut self, b: &[u8]) {
        let r = self.video.push(b);
        self.ok(r);
        while self.video.poll().is_some() {}
    }

    fn video_enc(&mut self, b: &[u8]) {
        let r = self.video_enc.push(b);
        self.ok(r);
        while self.video_enc.poll().is_some() {}
    }

    fn lumen(&mut self, b: &[u8]) {
        let r = self.lumen.push(b).map(|f| f.is_some());
        self.ok(r);
    }

    fn audio(&mut self, b: &[u8]) {
        let r = self.audio.push(b, &mut |_| {});
        self.ok(r);
    }

    fn audio_enc(&mut self, b: &[u8]) {
        let r = self.audio_enc.push(b, &mut |_| {});
        self.ok(r);
    }
}

/// Applies one random mutation to `v`.
fn mutate(rng: &mut StdRng, v: &mut Vec<u8>) {
    match rng.gen_range(0..6) {
        0 | 1 => {
            for _ in 0..rng.gen_range(1..=4) {
                if !v.is_empty() {
                    let i = rng.gen_range(0..v.len());
                    v[i] ^= 1 << rng.gen_range(0..8);
                }
            }
        }
        2 => {
            if !v.is_empty() {
                let i = rng.gen_range(0..v.len());
                v[i] = rng.gen();
            }
        }
        3 => {
            let n = rng.gen_range(0..=v.len());
            v.truncate(n);
        }
        4 => {
            for _ in 0..rng.gen_range(1..8) {
                v.push(rng.gen());
            }
        }
        _ => {
            // Overwrite a small window with an interesting value.
            if v.len() >= 4 {
                let i = rng.gen_range(0..v.len() - 3);
                let val: [u8; 4] = *[[0xff; 4], [0; 4], [0x7f, 0xff, 0xff, 0xff], [0x80, 0, 0, 0]]
                    .get(rng.gen_range(0..4))
                    .unwrap_or(&[0; 4]);
                v[i..i + 4].copy_from_slice(&val);
            }
        }
    }
}

fn sample_inputs() -> Vec<InputEvent> {
    vec![
        InputEvent::Key { action: KeyAction::Down, vk: 0x41, modifiers: Modifiers::SHIFT, flags: KeyFlags(0) },
        InputEvent::Text(Utf8Text::new("héllo ✓").unwrap()),
        InputEvent::MouseMove { dx: 1, dy: -1 },
        InputEvent::MousePosition { x: 10, y: 20, ref_width: 1279, ref_height: 719 },
        InputEvent::MouseButton { action: ButtonAction::Press, button: MouseButton::X2 },
        InputEvent::Scroll { amount: 120 },
        InputEvent::HScroll { amount: -120 },
        InputEvent::Touch(TouchEvent {
            event: TouchEventType::Move,
            pointer_id: 1,
            x: 0.5,
            y: 0.5,
            pressure_or_distance: 1.0,
            contact_area_major: 0.1,
            contact_area_minor: 0.1,
            rotation: None,
        }),
        InputEvent::Pen(PenEvent {
            event: TouchEventType::Hover,
            tool: ToolType::Pen,
            buttons: PenButtons::SECONDARY,
            x: 0.2,
            y: 0.3,
            pressure_or_distance: 0.4,
            rotation: Some(10),
            tilt: None,
            contact_area_major: 0.0,
            contact_area_minor: 0.0,
        }),
        InputEvent::Gamepad(GamepadState {
            controller: 1,
            active_mask: 3,
            buttons: buttons::A | buttons::MISC,
            left_trigger: 1,
            right_trigger: 2,
            left_stick_x: 3,
            left_stick_y: 4,
            right_stick_x: 5,
            right_stick_y: 6,
        }),
        InputEvent::ControllerArrival {
            controller: 0,
            kind: ControllerType::Xbox,
            capabilities: ControllerCaps::RUMBLE,
            supported_buttons: 0xffff,
        },
        InputEvent::ControllerTouch {
            controller: 0,
            event: TouchEventType::Down,
            touchpad: 0,
            pointer_id: 2,
            x: 0.1,
            y: 0.9,
            pressure: 0.5,
        },
        InputEvent::ControllerMotion { controller: 2, motion: MotionType::Accel, x: 0.0, y: 9.8, z: 0.1 },
        InputEvent::ControllerBattery { controller: 3, state: BatteryState::Full, percentage: Some(100) },
        InputEvent::HapticsEnable { enabled: true },
    ]
}

fn sample_controls() -> Vec<ControlMessage> {
    let mut v: Vec<ControlMessage> = sample_inputs().into_iter().map(ControlMessage::Input).collect();
    v.extend([
        ControlMessage::StartA,
        ControlMessage::StartB,
        ControlMessage::RequestIdrFrame,
        ControlMessage::PeriodicPing,
        ControlMessage::InvalidateRefFrames { first: 1, last: 9 },
        ControlMessage::LtrFrameAck { frame: 3 },
        ControlMessage::FrameFecStatus(FrameFecStatus { frame_index: 5, total_data_packets: 10, ..Default::default() }),
        ControlMessage::Termination(Termination::Reason(0x8003_0023)),
        ControlMessage::Rumble { controller: 0, low_freq: 1, high_freq: 2 },
        ControlMessage::RumbleTriggers { controller: 0, left: 1, right: 2 },
        ControlMessage::SetMotionEvent { controller: 0, report_rate_hz: 100, motion_type: 1 },
        ControlMessage::SetRgbLed { controller: 0, r: 1, g: 2, b: 3 },
        ControlMessage::AdaptiveTriggers {
            controller: 0,
            event_flags: 4,
            type_left: 1,
            type_right: 2,
            left: [1; 10],
            right: [2; 10],
        },
        ControlMessage::HdrMode { enabled: true, metadata: Some(HdrMetadata::default()) },
    ]);
    v
}

#[test]
fn ten_mib_of_random_bytes_through_every_decoder() {
    let mut rng = StdRng::seed_from_u64(0x1u64 << 40 | 0x6c75_6d65);
    let mut d = Decoders::new();
    let video_len = VideoParams::DEFAULT.shard_len();
    let enc_len = video_len + crypto::video::PREFIX_LEN;
    let mut buf = vec![0u8; 4096];
    let mut fed = 0usize;
    let mut chunks = 0u64;
    while fed < RANDOM_BYTES {
        let len = match chunks % 8 {
            0 => video_len,
            4 => enc_len,
            1 | 5 => rng.gen_range(0..=32),
            _ => rng.gen_range(0..=2048),
        };
        rng.fill_bytes(&mut buf[..len]);
        if chunks.is_multiple_of(8) {
            buf[0] = 0x90; // a plausible RTP first byte, so the header checks go deeper
        }
        d.all(&buf[..len]);
        fed += len;
        chunks += 1;
    }
    assert!(fed >= RANDOM_BYTES);
    assert!(chunks > 5_000, "only {chunks} chunks");
}

#[test]
fn mutated_valid_packets_through_their_decoders() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut d = Decoders::new();
    let gcm = Aes128Gcm::new(&KEY);
    let mut out = [0u8; 256];
    let mut work: Vec<u8> = Vec::new();

    // Input packets and plaintext control messages.
    let inputs = sample_inputs();
    let controls = sample_controls();
    let mut valid_seen = 0u64;
    for round in 0..20_000u32 {
        let ev = &inputs[round as usize % inputs.len()];
        let n = encode_into(ev, &mut out).unwrap();
        work.clear();
        work.extend_from_slice(&out[..n]);
        if round % 10 == 0 {
            assert_eq!(&input::decode(&work).unwrap(), ev);
            valid_seen += 1;
        }
        mutate(&mut rng, &mut work);
        d.input(&work);

        let m = &controls[round as usize % controls.len()];
        let n = m.encode_into(&mut out).unwrap();
        work.clear();
        work.extend_from_slice(&out[..n]);
        mutate(&mut rng, &mut work);
        d.control(&work);

        // Mutate the plaintext, then seal, so the mutation reaches the decoder behind the crypto.
        let from = m.direction();
        let n = m.encode_into(&mut out[envelope::OVERHEAD..]).unwrap();
        work.clear();
        work.extend_from_slice(&out[envelope::OVERHEAD..envelope::OVERHEAD + n]);
        mutate(&mut rng, &mut work);
        let mut sealed = vec![0u8; envelope::OVERHEAD + work.len()];
        sealed[envelope::OVERHEAD..].copy_from_slice(&work);
        let total = envelope::seal_in_place(&gcm, round, from, &mut sealed, work.len()).unwrap();
        let r = envelope::open_message(&gcm, from, &mut sealed[..total]);
        d.ok(r);
        // And a mutated sealed packet (mostly rejected by the tag or the header checks).
        mutate(&mut rng, &mut sealed);
        d.envelope(&sealed);
    }
    assert_eq!(valid_seen, 2_000);

    // Video: real frames from the packetizer, datagrams mutated (plaintext stream) or mutated before
    // sealing (encrypted stream: re-sealed with the crypto module's framing).
    let params = VideoParams::DEFAULT;
    let mut p = VideoPacketizer::new(params).unwrap();
    let mut batch = PacketBatch::new();
    let au: Vec<u8> = (0..60_000u32).map(|i| (i * 7) as u8).collect();
    let mut counter = 1u64 << 32; // a different IV space from the reassembler's own GcmVideo
    for frame in 1..=120u32 {
        let len = rng.gen_range(1..au.len());
        let meta = FrameMeta {
            frame_index: frame,
            frame_type: if frame % 30 == 1 { FrameType::Idr } else { FrameType::P },
            host_latency: 5,
            rtp_timestamp: frame * 1500,
        };
        p.packetize(&meta, &au[..len], &mut batch).unwrap();
        for i in 0..batch.len() {
            work.clear();
            work.extend_from_slice(batch.get(i));
            if rng.gen_bool(0.3) {
                mutate(&mut rng, &mut work);
            }
            d.video(&work);
            // Encrypted copy.
            let mut enc = vec![0u8; crypto::video::PREFIX_LEN + work.len()];
            enc[crypto::video::PREFIX_LEN..].copy_from_slice(&work);
            crypto::video::seal_in_place(&gcm, counter, frame, &mut enc).unwrap();
            counter += 1;
            if rng.gen_bool(0.05) {
                mutate(&mut rng, &mut enc);
            }
            d.video_enc(&enc);
            let r = PacketHeader::parse(&work);
            d.ok(r);
        }
    }

    // Lumen transport.
    let lp = LumenParams::for_datagram(1392, 20, 2).unwrap();
    let mut lpz = LumenPacketizer::new(lp).unwrap();
    for frame in 1..=60u32 {
        let len = rng.gen_range(1..au.len());
        let meta = FrameMeta { frame_index: frame, frame_type: FrameType::P, host_latency: 1, rtp_timestamp: frame };
        lpz.packetize(&meta, &au[..len], &mut batch).unwrap();
        for i in 0..batch.len() {
            work.clear();
            work.extend_from_slice(batch.get(i));
            if rng.gen_bool(0.3) {
                mutate(&mut rng, &mut work);
            }
            d.lumen(&work);
        }
    }

    // Audio, plain and encrypted (mutating the ciphertext exercises the padding check).
    let rik = RemoteInputKey::new(KEY, -775_962_003);
    let mut ap = AudioPacketizer::new(5, None);
    let mut ape = AudioPacketizer::new(5, Some(AudioCipher::new(&rik)));
    for k in 0..4_000u32 {
        let opus: Vec<u8> = (0..rng.gen_range(1..400)).map(|_| rng.gen()).collect();
        for (enc, pz) in [(false, &mut ap), (true, &mut ape)] {
            pz.packetize(&opus, &mut batch).unwrap();
            for i in 0..batch.len() {
                work.clear();
                work.extend_from_slice(batch.get(i));
                if k % 3 == 0 {
                    mutate(&mut rng, &mut work);
                }
                if enc {
                    d.audio_enc(&work);
                } else {
                    d.audio(&work);
                }
            }
        }
    }
    assert!(d.accepted > 10_000, "the valid packets should mostly decode ({} accepted)", d.accepted);
}
