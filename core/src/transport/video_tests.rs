//! Tests of the sealed lumen video datagrams: round trips with loss, tampering, replay, wrong keys,
//! garbage.

use super::*;
use crate::video::FrameType;

const KEY: [u8; 32] = [7; 32];

fn meta(i: u32) -> FrameMeta {
    FrameMeta { frame_index: i, frame_type: FrameType::P, host_latency: 3, rtp_timestamp: 1500 * i }
}

fn au(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn sealed(frame: u32, len: usize) -> (SealedVideoSender, Vec<Vec<u8>>, Vec<u8>) {
    let mut tx = SealedVideoSender::new(&KEY, 1392, 20, 2).unwrap();
    let mut batch = PacketBatch::new();
    let a = au(len, frame as u8);
    tx.packetize(&meta(frame), 123_456, &a, &mut batch).unwrap();
    let dgrams = batch.iter().map(<[u8]>::to_vec).collect();
    (tx, dgrams, a)
}

#[test]
fn round_trip_with_loss_up_to_parity() {
    let (tx, mut dgrams, a) = sealed(1, 100_000);
    assert_eq!(tx.datagram_len(), 1392);
    assert!(dgrams.iter().all(|d| d.len() == 1392));
    let data = a.len().div_ceil(1344);
    let parity = dgrams.len() - data;
    let mut rx = SealedVideoReceiver::new(&KEY, 1392).unwrap();
    let mut got = None;
    // Lose the first `parity` data shards.
    for d in dgrams.iter_mut().skip(parity) {
        if let Some(f) = rx.push(d).unwrap() {
            got = Some((f.frame.data.to_vec(), f.capture_us, f.frame.recovered_shards));
        }
    }
    let (bytes, capture, recovered) = got.expect("frame rebuilt");
    assert_eq!((bytes, capture, recovered), (a, 123_456, parity));
}

#[test]
fn tampering_is_rejected() {
    let (_, dgrams, _) = sealed(1, 5000);
    for pos in [0usize, 4, 16, 22, 24, 31, 40, 1380, 1391] {
        let mut rx = SealedVideoReceiver::new(&KEY, 1392).unwrap();
        let mut d = dgrams[0].clone();
        d[pos] ^= 0x01;
        let r = rx.push(&mut d);
        assert!(r.is_err(), "flipped byte {pos} accepted");
        assert!(rx.stats().auth_failures + rx.stats().malformed == 1);
    }
}

#[test]
fn wrong_key_is_rejected() {
    let (_, mut dgrams, _) = sealed(1, 5000);
    let mut rx = SealedVideoReceiver::new(&[8; 32], 1392).unwrap();
    for d in &mut dgrams {
        assert_eq!(rx.push(d).unwrap_err(), TransportError::Crypto(CryptoError::AuthenticationFailed));
    }
    assert_eq!(rx.stats().frames, 0);
}

#[test]
fn replays_deliver_nothing() {
    let (_, dgrams, a) = sealed(5, 3000);
    let mut rx = SealedVideoReceiver::new(&KEY, 1392).unwrap();
    let mut frames = 0;
    for d in &dgrams {
        let mut d = d.clone();
        if let Some(f) = rx.push(&mut d).unwrap() {
            assert_eq!(f.frame.data, &a[..]);
            frames += 1;
        }
    }
    // The same datagrams again: authentic, but of a finished frame.
    for d in &dgrams {
        let mut d = d.clone();
        assert!(rx.push(&mut d).unwrap().is_none());
    }
    assert_eq!(frames, 1);
    // A datagram moved to another frame index fails authentication (the index is in the nonce and the AAD).
    let mut moved = dgrams[0].clone();
    moved[4..8].copy_from_slice(&6u32.to_le_bytes());
    assert!(matches!(rx.push(&mut moved), Err(TransportError::Crypto(_))));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let mut rx = SealedVideoReceiver::new(&KEY, 1392).unwrap();
    let mut seed = 1u64;
    for len in [0usize, 1, 24, 32, 100, 1391, 1392, 1393, 4000] {
        let mut d: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 33) as u8
            })
            .collect();
        if len >= 2 {
            d[0] = b'L';
            d[1] = 1;
        }
        assert!(rx.push(&mut d).is_err());
    }
}

#[test]
fn fec_percentage_changes_parity() {
    let mut tx = SealedVideoSender::new(&KEY, 1392, 20, 2).unwrap();
    let mut batch = PacketBatch::new();
    let (d, p) = tx.packetize(&meta(1), 0, &au(134_400, 1), &mut batch).unwrap();
    assert_eq!((d, p), (100, 20));
    tx.set_fec_percentage(50);
    let (d, p) = tx.packetize(&meta(2), 0, &au(134_400, 1), &mut batch).unwrap();
    assert_eq!((d, p, tx.fec_percentage()), (100, 50, 50));
}

#[test]
fn four_mb_frame_survives_ten_percent_random_loss() {
    // Moonlight's GF(2⁸) FEC cannot protect a frame this size (more than 4 blocks of 255 shards: FEC off);
    // one GF(2¹⁶) block with 20 % parity rebuilds it after 10 % random loss.
    let (_, mut dgrams, a) = sealed(1, 4_000_000);
    let mut rx = SealedVideoReceiver::new(&KEY, 1392).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut lost = 0;
    let mut got = None;
    for d in &mut dgrams {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if seed.is_multiple_of(10) {
            lost += 1;
            continue;
        }
        if let Some(f) = rx.push(d).unwrap() {
            got = Some((f.frame.data == &a[..], f.frame.recovered_shards));
        }
    }
    assert!(lost > dgrams.len() / 20, "the loss model dropped {lost}");
    let (same, recovered) = got.expect("the 4 MB frame is rebuilt");
    assert!(same && recovered > 0);
}
