//! One test per gen-7 control message, built from the client's byte layout (moonlight-common-c
//! `ControlStream.c`, `Video.h`), plus the encrypted envelope both ways.

use lumen_core::control::{
    envelope, termination, types, ControlError, ControlMessage, FrameFecStatus, HdrMetadata, LossStats, Termination,
};
use lumen_core::crypto::{Aes128Gcm, Direction, RemoteInputKey};
use lumen_core::input::{InputEvent, KeyAction, KeyFlags, Modifiers};
use proptest::prelude::*;

const C2H: Direction = Direction::ClientToHost;
const H2C: Direction = Direction::HostToClient;

/// `[type LE][len LE][payload]`.
fn msg(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ty.to_le_bytes().to_vec();
    v.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decodes `bytes` and checks that encoding the result gives the same bytes back.
fn check(from: Direction, bytes: &[u8], expect: ControlMessage) {
    let m = ControlMessage::decode(from, bytes).unwrap();
    assert_eq!(m, expect);
    assert_eq!(m.direction(), from);
    let mut out = [0u8; 128];
    let n = m.encode_into(&mut out).unwrap();
    assert_eq!(&out[..n], bytes);
}

#[test]
fn start_and_idr_request() {
    // Encrypted gen-7 table: "start A" is sent as 0x0302 {0,0}, start B as 0x0307 {0}.
    check(C2H, &msg(0x0302, &[0, 0]), ControlMessage::RequestIdrFrame);
    check(C2H, &msg(0x0307, &[0]), ControlMessage::StartB);
    check(C2H, &msg(0x0305, &[0, 0]), ControlMessage::StartA);
}

#[test]
fn periodic_ping() {
    // 8-byte payload: u16 LE 4, u32 LE 0, two bytes the client leaves unset.
    assert_eq!(
        ControlMessage::decode(C2H, &msg(0x0200, &[4, 0, 0, 0, 0, 0, 0xAA, 0x55])).unwrap(),
        ControlMessage::PeriodicPing
    );
    check(C2H, &msg(0x0200, &[4, 0, 0, 0, 0, 0, 0, 0]), ControlMessage::PeriodicPing);
}

#[test]
fn loss_stats() {
    let mut p = Vec::new();
    for v in [0u32, 50, 1000] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&1234u64.to_le_bytes());
    for v in [0u32, 0, 0x14] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    check(
        C2H,
        &msg(0x0201, &p),
        ControlMessage::LossStats(LossStats {
            loss_count: 0,
            interval_ms: 50,
            unknown_1000: 1000,
            last_good_frame: 1234,
            tail: [0, 0, 0x14],
        }),
    );
}

#[test]
fn invalidate_reference_frames() {
    // SS_RFI_REQUEST: first u32, reserved u32, last u32, reserved[3]; LE.
    let mut p = 100u32.to_le_bytes().to_vec();
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(&104u32.to_le_bytes());
    p.extend_from_slice(&[0; 12]);
    check(C2H, &msg(0x0301, &p), ControlMessage::InvalidateRefFrames { first: 100, last: 104 });
}

#[test]
fn ltr_frame_ack() {
    check(C2H, &msg(0x0350, &[0x10, 0, 0, 0, 0, 0, 0, 0]), ControlMessage::LtrFrameAck { frame: 16 });
}

#[test]
fn frame_fec_status_is_big_endian() {
    let mut p = 0x0102_0304u32.to_be_bytes().to_vec();
    for v in [10u16, 9, 1, 20, 4, 19, 2] {
        p.extend_from_slice(&v.to_be_bytes());
    }
    p.extend_from_slice(&[20, 1, 2]);
    check(
        C2H,
        &msg(0x5502, &p),
        ControlMessage::FrameFecStatus(FrameFecStatus {
            frame_index: 0x0102_0304,
            highest_received_seq: 10,
            next_contiguous_seq: 9,
            missing_before_highest: 1,
            total_data_packets: 20,
            total_parity_packets: 4,
            received_data_packets: 19,
            received_parity_packets: 2,
            fec_percentage: 20,
            multi_fec_block_index: 1,
            multi_fec_block_count: 2,
        }),
    );
}

#[test]
fn input_data_carries_an_input_packet() {
    // Keyboard packet: size BE 10, magic LE 3, flags, keyCode LE 0x8041, modifiers, zero.
    let input = [0, 0, 0, 10, 3, 0, 0, 0, 0, 0x41, 0x80, 0x01, 0, 0];
    check(
        C2H,
        &msg(0x0206, &input),
        ControlMessage::Input(InputEvent::Key {
            action: KeyAction::Down,
            vk: 0x41,
            modifiers: Modifiers::SHIFT,
            flags: KeyFlags(0),
        }),
    );
    assert!(matches!(ControlMessage::decode(C2H, &msg(0x0206, &input[..9])), Err(ControlError::Input(_))));
}

#[test]
fn termination_extended_and_short() {
    check(
        H2C,
        &msg(0x0109, &[0x80, 0x03, 0x00, 0x23]),
        ControlMessage::Termination(Termination::Reason(termination::SERVER_TERMINATED_CLOSED)),
    );
    check(H2C, &msg(0x0109, &[0x00, 0x01]), ControlMessage::Termination(Termination::Short(0x0100)));
    assert!(ControlMessage::decode(H2C, &msg(0x0109, &[1])).is_err());
}

#[test]
fn rumble_and_trigger_rumble() {
    check(
        H2C,
        &msg(0x010b, &[0, 0, 0, 0, 1, 0, 0xff, 0xff, 0x00, 0x80]),
        ControlMessage::Rumble { controller: 1, low_freq: 0xffff, high_freq: 0x8000 },
    );
    check(
        H2C,
        &msg(0x5500, &[2, 0, 0x34, 0x12, 0, 1]),
        ControlMessage::RumbleTriggers { controller: 2, left: 0x1234, right: 0x0100 },
    );
}

#[test]
fn motion_event_and_rgb_led() {
    check(
        H2C,
        &msg(0x5501, &[0, 0, 200, 0, 2]),
        ControlMessage::SetMotionEvent { controller: 0, report_rate_hz: 200, motion_type: 2 },
    );
    check(H2C, &msg(0x5502, &[3, 0, 255, 128, 0]), ControlMessage::SetRgbLed { controller: 3, r: 255, g: 128, b: 0 });
}

#[test]
fn type_0x5502_depends_on_direction() {
    // A 5-byte 0x5502 from the client is a truncated FEC status, not an LED message.
    assert!(matches!(
        ControlMessage::decode(C2H, &msg(0x5502, &[3, 0, 255, 128, 0])),
        Err(ControlError::Truncated { .. })
    ));
    // Host-only types from the client are unknown.
    assert_eq!(
        ControlMessage::decode(C2H, &msg(0x010b, &[0; 10])),
        Err(ControlError::UnknownType { ty: 0x010b, from: C2H })
    );
    assert_eq!(
        ControlMessage::decode(H2C, &msg(0x0302, &[0, 0])),
        Err(ControlError::UnknownType { ty: 0x0302, from: H2C })
    );
}

#[test]
fn adaptive_triggers() {
    let mut p = vec![1, 0, 0x0c, 0x21, 0x26];
    p.extend(1..=10u8);
    p.extend(11..=20u8);
    let left: [u8; 10] = core::array::from_fn(|i| i as u8 + 1);
    let right: [u8; 10] = core::array::from_fn(|i| i as u8 + 11);
    check(
        H2C,
        &msg(0x5503, &p),
        ControlMessage::AdaptiveTriggers {
            controller: 1,
            event_flags: 0x0c,
            type_left: 0x21,
            type_right: 0x26,
            left,
            right,
        },
    );
}

#[test]
fn hdr_mode_with_and_without_metadata() {
    let mut p = vec![1];
    for v in [34000u16, 16000, 13250, 34500, 7500, 3000, 15635, 16450, 1000, 50, 1000, 400, 1000] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    check(
        H2C,
        &msg(0x010e, &p),
        ControlMessage::HdrMode {
            enabled: true,
            metadata: Some(HdrMetadata {
                display_primaries: [(34000, 16000), (13250, 34500), (7500, 3000)],
                white_point: (15635, 16450),
                max_display_luminance: 1000,
                min_display_luminance: 50,
                max_content_light_level: 1000,
                max_frame_average_light_level: 400,
                max_full_frame_luminance: 1000,
            }),
        },
    );
    check(H2C, &msg(0x010e, &[0]), ControlMessage::HdrMode { enabled: false, metadata: None });
}

#[test]
fn header_errors() {
    assert!(matches!(ControlMessage::decode(C2H, &[1, 2]), Err(ControlError::Truncated { need: 4, have: 2 })));
    let mut m = msg(0x0302, &[0, 0]);
    m[2] = 3;
    assert!(matches!(ControlMessage::decode(C2H, &m), Err(ControlError::LengthMismatch { declared: 3, actual: 2 })));
    assert_eq!(ControlMessage::decode(C2H, &msg(0x0001, &[])), Err(ControlError::NotEncrypted(1)));
    let mut small = [0u8; 5];
    assert!(matches!(ControlMessage::StartB.encode_into(&mut small[..4]), Err(ControlError::BufferTooSmall { .. })));
    assert_eq!(ControlMessage::StartB.encode_into(&mut small).unwrap(), 5);
}

fn key() -> Aes128Gcm {
    Aes128Gcm::new(&[0x42; 16])
}

#[test]
fn envelope_layout_matches_the_client() {
    // What the client's sendMessageEnet builds for an IDR request with sequence number 3.
    let inner = msg(0x0302, &[0, 0]);
    let mut expect_ct = inner.clone();
    let tag = key().seal_in_place(&RemoteInputKey::control_iv(3, C2H), &mut expect_ct).unwrap();
    let mut expect = vec![0x01, 0x00];
    expect.extend_from_slice(&((4 + 16 + inner.len()) as u16).to_le_bytes());
    expect.extend_from_slice(&3u32.to_le_bytes());
    expect.extend_from_slice(&tag);
    expect.extend_from_slice(&expect_ct);

    let mut out = [0u8; 64];
    let n = envelope::seal_message(&key(), 3, C2H, &ControlMessage::RequestIdrFrame, &mut out).unwrap();
    assert_eq!(&out[..n], &expect[..]);

    let (seq, m) = envelope::open_message(&key(), C2H, &mut expect).unwrap();
    assert_eq!((seq, m), (3, ControlMessage::RequestIdrFrame));
}

#[test]
fn envelope_both_directions_and_tampering() {
    let term = ControlMessage::Termination(Termination::Reason(termination::PROTECTED_CONTENT));
    let mut out = [0u8; 64];
    let n = envelope::seal_message(&key(), 0, H2C, &term, &mut out).unwrap();
    let pkt = out[..n].to_vec();
    // Opening as if the client had sent it uses the wrong IV.
    assert!(matches!(envelope::open_message(&key(), C2H, &mut pkt.clone()), Err(ControlError::Crypto(_))));
    let (seq, m) = envelope::open_message(&key(), H2C, &mut pkt.clone()).unwrap();
    assert_eq!((seq, m), (0, term));
    for i in 0..pkt.len() {
        let mut bad = pkt.clone();
        bad[i] ^= 0x01;
        assert!(envelope::open_message(&key(), H2C, &mut bad).is_err(), "flip at byte {i} must be rejected");
    }
    assert!(envelope::open_message(&key(), H2C, &mut pkt[..n - 1].to_vec()).is_err());
    let mut runt = vec![1, 0, 20, 0, 0, 0, 0, 0];
    runt.extend_from_slice(&[0; 20]);
    assert!(matches!(envelope::parse_header(&runt), Err(ControlError::Truncated { .. })));
    assert!(matches!(envelope::parse_header(&msg(0x0302, &[0, 0, 0, 0])), Err(ControlError::NotEncrypted(0x0302))));
}

#[test]
fn envelope_rejects_nested_envelope() {
    let mut buf = [0u8; 64];
    let inner = msg(types::ENCRYPTED, &[]);
    buf[envelope::OVERHEAD..envelope::OVERHEAD + inner.len()].copy_from_slice(&inner);
    let n = envelope::seal_in_place(&key(), 9, C2H, &mut buf, inner.len()).unwrap();
    assert_eq!(envelope::open_message(&key(), C2H, &mut buf[..n]), Err(ControlError::NotEncrypted(1)));
}

proptest! {
    #[test]
    fn envelope_round_trip(seq in any::<u32>(), first in any::<u32>(), last in any::<u32>()) {
        let m = ControlMessage::InvalidateRefFrames { first, last };
        let mut out = [0u8; 64];
        let n = envelope::seal_message(&key(), seq, C2H, &m, &mut out).unwrap();
        prop_assert_eq!(n, envelope::OVERHEAD + 4 + 24);
        let (s, d) = envelope::open_message(&key(), C2H, &mut out[..n]).unwrap();
        prop_assert_eq!(s, seq);
        prop_assert_eq!(d, m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), host in any::<bool>()) {
        let from = if host { H2C } else { C2H };
        let _ = ControlMessage::decode(from, &bytes);
        let _ = envelope::open_message(&key(), from, &mut bytes.clone());
    }
}

#[test]
fn control_codec_numbers_messages_and_talks_to_the_peer() {
    let rik = RemoteInputKey::new([0x42; 16], 5);
    let mut host = envelope::ControlCodec::host(&rik);
    let mut client = envelope::ControlCodec::client(&rik);
    let mut buf = [0u8; 64];
    for expect in 0..3u32 {
        let n = client.seal(&ControlMessage::PeriodicPing, &mut buf).unwrap();
        assert_eq!(host.open(&mut buf[..n]).unwrap(), (expect, ControlMessage::PeriodicPing));
    }
    assert_eq!(client.next_seq(), 3);
    let n = host.seal(&ControlMessage::HdrMode { enabled: false, metadata: None }, &mut buf).unwrap();
    let mut copy = buf;
    assert_eq!(client.open(&mut buf[..n]).unwrap(), (0, ControlMessage::HdrMode { enabled: false, metadata: None }));
    // A side cannot open its own messages (the IV carries the sender).
    assert!(host.open(&mut copy[..n]).is_err());
}
