//! The per-packet paths of the crypto, control and input modules allocate nothing: sealing and opening
//! control envelopes, decoding control messages and input packets, audio CBC, video GCM framing, RTSP
//! framing and the lumen transport cipher, counted with this test binary's own counting allocator.

use lumen_core::control::{envelope, ControlMessage};
use lumen_core::crypto::{self, Aes128Gcm, AudioCipher, Direction, RemoteInputKey, TransportCipher, TransportNonce};
use lumen_core::input::{self, InputEvent};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::CountingAlloc;

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

// One test function: the counter is process-wide and tests run on parallel threads.
#[test]
fn per_packet_paths_allocate_nothing() {
    let rik = RemoteInputKey::new([7; 16], -3);
    let gcm = Aes128Gcm::new(&rik.key);
    let audio = AudioCipher::new(&rik);
    let chacha = TransportCipher::new(&[9; 32]);
    let mouse = ControlMessage::Input(InputEvent::MouseMove { dx: 3, dy: -4 });
    let mut pkt = [0u8; 256];
    let mut opus = [0u8; 1424];
    let mut video = [0u8; 32 + 1404];
    let mut rtsp = [0u8; 24 + 200];

    let mut run = |rounds: u32| {
        let mut decoded = 0u32;
        for seq in 0..rounds {
            // Host receives input on the control stream.
            let n = envelope::seal_message(&gcm, seq, Direction::ClientToHost, &mouse, &mut pkt).unwrap();
            let (_, m) = envelope::open_message(&gcm, Direction::ClientToHost, &mut pkt[..n]).unwrap();
            decoded += u32::from(m == mouse);
            // Raw input decode.
            let len = input::encode_into(&InputEvent::Scroll { amount: 120 }, &mut pkt).unwrap();
            decoded += u32::from(input::decode(&pkt[..len]).is_ok());
            // Host sends a control message.
            let n = envelope::seal_message(
                &gcm,
                seq,
                Direction::HostToClient,
                &ControlMessage::Rumble { controller: 0, low_freq: 1, high_freq: 2 },
                &mut pkt,
            )
            .unwrap();
            let (_, m) = envelope::open_message(&gcm, Direction::HostToClient, &mut pkt[..n]).unwrap();
            decoded += u32::from(matches!(m, ControlMessage::Rumble { high_freq: 2, .. }));
            // Audio, video, RTSP, transport.
            let c = audio.encrypt(seq as u16, &mut opus, 240).unwrap();
            decoded += u32::from(audio.decrypt(seq as u16, &mut opus[..c]).unwrap() == 240);
            crypto::video::seal_in_place(&gcm, u64::from(seq), seq, &mut video).unwrap();
            decoded += u32::from(crypto::video::open_in_place(&gcm, &mut video).is_ok());
            let n = crypto::rtsp::seal_in_place(&gcm, seq, Direction::HostToClient, &mut rtsp, 200).unwrap();
            decoded += u32::from(crypto::rtsp::open_in_place(&gcm, Direction::HostToClient, &mut rtsp[..n]).is_ok());
            let nonce = TransportNonce { counter: u64::from(seq), direction: Direction::HostToClient, channel: b'V' };
            let tag = chacha.seal_in_place(nonce, &[1, 2, 3], &mut video).unwrap();
            decoded += u32::from(chacha.open_in_place(nonce, &[1, 2, 3], &mut video, &tag).is_ok());
        }
        decoded
    };
    assert_eq!(run(10), 70);
    let mut ok = 0;
    let n = counting_alloc::counted(|| ok = run(1000));
    assert_eq!(ok, 7000);
    assert_eq!(n, 0, "per-packet crypto/control/input paths allocated {n} times");
}
