//! The per-packet paths of the crypto, control and input modules allocate nothing: sealing and opening
//! control envelopes, decoding control messages and input packets, audio CBC, video GCM framing, RTSP
//! framing and the lumen transport cipher, counted with this test binary's own counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lumen_core::control::{envelope, ControlMessage};
use lumen_core::crypto::{self, Aes128Gcm, AudioCipher, Direction, RemoteInputKey, TransportCipher, TransportNonce};
use lumen_core::input::{self, InputEvent};

struct Counting;

static COUNT: AtomicU64 = AtomicU64::new(0);
static ON: AtomicBool = AtomicBool::new(false);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc's contract, which System needs too.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

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
            let n = envelope::seal_message(&gcm, seq, Direction::HostToClient, &ControlMessage::Rumble { controller: 0, low_freq: 1, high_freq: 2 }, &mut pkt).unwrap();
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
    COUNT.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    let ok = run(1000);
    ON.store(false, Ordering::SeqCst);
    assert_eq!(ok, 7000);
    let n = COUNT.load(Ordering::SeqCst);
    assert_eq!(n, 0, "per-packet crypto/control/input paths allocated {n} times");
}
