//! Cross-checks lumen's crypto framings against the stock Moonlight client's own crypto: the
//! `PltEncryptMessage` / `PltDecryptMessage` functions exported by the `libmoonlight-common-c.so` that
//! moonlight-python bundles (installed by `scripts/setup.sh` into the test venv). Each check calls the
//! client function exactly the way its control-stream, RTSP, video and audio code does, with the IV
//! bytes built here the way that C code builds them (not with lumen's IV helpers), so both the cipher
//! and lumen's IV/tag placement are checked against the real client.
//!
//! The library is found through `LUMEN_MOONLIGHT_LIB`, else `$LUMEN_CACHE/venv` (default
//! `~/.cache/lumen/venv`).
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::ffi::c_int;
use std::path::PathBuf;

use lumen_core::control::{envelope, ControlMessage, Termination};
use lumen_core::crypto::{self, Aes128Gcm, AudioCipher, Direction, RemoteInputKey};
use lumen_core::input::{InputEvent, KeyAction, KeyFlags, Modifiers};

const ALGORITHM_AES_CBC: c_int = 1;
const ALGORITHM_AES_GCM: c_int = 2;
const CIPHER_FLAG_RESET_IV: c_int = 0x01;
const CIPHER_FLAG_FINISH: c_int = 0x02;

type CreateFn = unsafe extern "C" fn() -> *mut core::ffi::c_void;
type DestroyFn = unsafe extern "C" fn(*mut core::ffi::c_void);
type CryptFn = unsafe extern "C" fn(
    ctx: *mut core::ffi::c_void,
    algorithm: c_int,
    flags: c_int,
    key: *mut u8,
    key_len: c_int,
    iv: *mut u8,
    iv_len: c_int,
    tag: *mut u8,
    tag_len: c_int,
    input: *mut u8,
    input_len: c_int,
    output: *mut u8,
    output_len: *mut c_int,
) -> bool;

fn library_path() -> PathBuf {
    if let Ok(p) = std::env::var("LUMEN_MOONLIGHT_LIB") {
        return PathBuf::from(p);
    }
    let cache = std::env::var("LUMEN_CACHE")
        .unwrap_or_else(|_| format!("{}/.cache/lumen", std::env::var("HOME").unwrap_or_default()));
    let lib = PathBuf::from(cache).join("venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dir| {
        dir.flatten()
            .map(|e| e.path().join("site-packages/moonlight_python/libmoonlight-common-c.so"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| panic!("stock client library not found under {}; run scripts/setup.sh", lib.display()))
}

/// A safe handle on the client's crypto: one crypto context and the two entry points.
struct ClientCrypto {
    ctx: *mut core::ffi::c_void,
    encrypt: CryptFn,
    decrypt: CryptFn,
    destroy: DestroyFn,
    _lib: libloading::Library,
}

impl ClientCrypto {
    fn load() -> Self {
        let path = library_path();
        // SAFETY: loading the stock client's library runs only its trivial initialisers; the symbols
        // below are read with the C signatures of moonlight-common-c's PlatformCrypto.h at the bundled
        // commit, and the library outlives the function pointers (it is stored in the struct).
        unsafe {
            let lib = libloading::Library::new(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let create: CreateFn = *lib.get::<CreateFn>(b"PltCreateCryptoContext").expect("PltCreateCryptoContext");
            let encrypt: CryptFn = *lib.get::<CryptFn>(b"PltEncryptMessage").expect("PltEncryptMessage");
            let decrypt: CryptFn = *lib.get::<CryptFn>(b"PltDecryptMessage").expect("PltDecryptMessage");
            let destroy: DestroyFn =
                *lib.get::<DestroyFn>(b"PltDestroyCryptoContext").expect("PltDestroyCryptoContext");
            let ctx = create();
            assert!(!ctx.is_null(), "PltCreateCryptoContext failed");
            Self { ctx, encrypt, decrypt, destroy, _lib: lib }
        }
    }

    /// The client's decryption; `None` when it rejects the input (bad tag or padding).
    fn decrypt(
        &self,
        alg: c_int,
        flags: c_int,
        key: &[u8; 16],
        iv: &[u8],
        tag: Option<&[u8; 16]>,
        input: &[u8],
    ) -> Option<Vec<u8>> {
        let mut key = *key;
        let mut iv = iv.to_vec();
        let mut tag = tag.copied();
        let mut input = input.to_vec();
        let mut out = vec![0u8; input.len() + 32];
        let mut out_len: c_int = 0;
        let (tag_ptr, tag_len) = match tag.as_mut() {
            Some(t) => (t.as_mut_ptr(), 16),
            None => (core::ptr::null_mut(), 0),
        };
        // SAFETY: every pointer refers to a live buffer of the stated length; the output buffer has room
        // for the input plus a padding block, which is the most the client writes.
        let ok = unsafe {
            (self.decrypt)(
                self.ctx,
                alg,
                flags,
                key.as_mut_ptr(),
                16,
                iv.as_mut_ptr(),
                iv.len() as c_int,
                tag_ptr,
                tag_len,
                input.as_mut_ptr(),
                input.len() as c_int,
                out.as_mut_ptr(),
                &mut out_len,
            )
        };
        ok.then(|| {
            out.truncate(out_len as usize);
            out
        })
    }

    /// The client's AES-GCM encryption with a 16-byte tag; returns (ciphertext, tag).
    fn encrypt_gcm(&self, key: &[u8; 16], iv: &[u8], input: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let mut key = *key;
        let mut iv = iv.to_vec();
        let mut tag = [0u8; 16];
        let mut input = input.to_vec();
        let mut out = vec![0u8; input.len() + 32];
        let mut out_len: c_int = 0;
        // SAFETY: as in `decrypt`.
        let ok = unsafe {
            (self.encrypt)(
                self.ctx,
                ALGORITHM_AES_GCM,
                0,
                key.as_mut_ptr(),
                16,
                iv.as_mut_ptr(),
                iv.len() as c_int,
                tag.as_mut_ptr(),
                16,
                input.as_mut_ptr(),
                input.len() as c_int,
                out.as_mut_ptr(),
                &mut out_len,
            )
        };
        assert!(ok, "PltEncryptMessage failed");
        out.truncate(out_len as usize);
        (out, tag)
    }
}

impl Drop for ClientCrypto {
    fn drop(&mut self) {
        // SAFETY: ctx came from PltCreateCryptoContext and is destroyed once.
        unsafe { (self.destroy)(self.ctx) }
    }
}

const KEY: [u8; 16] = [0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00];

/// The IV `ControlStream.c` builds for an encrypted control message (v2).
fn client_control_iv(seq: u32, originator: u8) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[3] = (seq >> 24) as u8;
    iv[2] = (seq >> 16) as u8;
    iv[1] = (seq >> 8) as u8;
    iv[0] = seq as u8;
    iv[10] = originator;
    iv[11] = b'C';
    iv
}

#[test]
fn client_decrypts_host_control_messages() {
    let client = ClientCrypto::load();
    let gcm = Aes128Gcm::new(&KEY);
    let msg = ControlMessage::Termination(Termination::Reason(0x8003_0023));
    let mut pkt = [0u8; 64];
    for seq in [0u32, 1, 0x0102_0304, u32::MAX] {
        let n = envelope::seal_message(&gcm, seq, Direction::HostToClient, &msg, &mut pkt).unwrap();
        // What decryptControlMessageToV1 does: seq LE at 4, tag right after the 8-byte header, then
        // the ciphertext.
        let seq_wire = u32::from_le_bytes(pkt[4..8].try_into().unwrap());
        assert_eq!(seq_wire, seq);
        let tag: [u8; 16] = pkt[8..24].try_into().unwrap();
        let plain = client
            .decrypt(ALGORITHM_AES_GCM, 0, &KEY, &client_control_iv(seq_wire, b'H'), Some(&tag), &pkt[24..n])
            .expect("the client rejects lumen's control envelope");
        let mut expect = [0u8; 16];
        let m = msg.encode_into(&mut expect).unwrap();
        assert_eq!(&plain[..], &expect[..m]);
    }
}

#[test]
fn host_opens_client_control_messages() {
    let client = ClientCrypto::load();
    let gcm = Aes128Gcm::new(&KEY);
    // sendMessageEnet + encryptControlMessage for an input packet (keyboard 'A' down, VK | 0x8000).
    let input = [0u8, 0, 0, 10, 3, 0, 0, 0, 0, 0x41, 0x80, 0, 0, 0];
    let mut plain = vec![0x06, 0x02, input.len() as u8, 0];
    plain.extend_from_slice(&input);
    let seq = 17u32;
    let (ct, tag) = client.encrypt_gcm(&KEY, &client_control_iv(seq, b'C'), &plain);
    let mut pkt = vec![0x01, 0x00];
    pkt.extend_from_slice(&((4 + 16 + plain.len()) as u16).to_le_bytes());
    pkt.extend_from_slice(&seq.to_le_bytes());
    pkt.extend_from_slice(&tag);
    pkt.extend_from_slice(&ct);
    let (s, m) = envelope::open_message(&gcm, Direction::ClientToHost, &mut pkt).unwrap();
    assert_eq!(s, seq);
    assert_eq!(
        m,
        ControlMessage::Input(InputEvent::Key {
            action: KeyAction::Down,
            vk: 0x41,
            modifiers: Modifiers(0),
            flags: KeyFlags(0)
        })
    );
}

#[test]
fn client_decrypts_host_rtsp_replies() {
    let client = ClientCrypto::load();
    let gcm = Aes128Gcm::new(&KEY);
    let reply = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: DEADBEEF\r\n\r\n";
    let mut buf = vec![0u8; crypto::rtsp::HEADER_LEN + reply.len()];
    buf[crypto::rtsp::HEADER_LEN..].copy_from_slice(reply);
    crypto::rtsp::seal_in_place(&gcm, 2, Direction::HostToClient, &mut buf, reply.len()).unwrap();
    // unsealRtspMessage: typeAndLength and sequenceNumber BE, IV = seq LE in bytes 0..4, 'H', 'R'.
    let seq = u32::from_be_bytes(buf[4..8].try_into().unwrap());
    let mut iv = [0u8; 12];
    iv[..4].copy_from_slice(&seq.to_le_bytes());
    iv[10] = b'H';
    iv[11] = b'R';
    let tag: [u8; 16] = buf[8..24].try_into().unwrap();
    let plain =
        client.decrypt(ALGORITHM_AES_GCM, 0, &KEY, &iv, Some(&tag), &buf[24..]).expect("client rejects RTSP reply");
    assert_eq!(&plain[..], &reply[..]);

    // And the other way: a request sealed the way sealRtspMessage does it.
    let request = b"OPTIONS rtsp://0.0.0.0:48010 RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    let mut iv = [0u8; 12];
    iv[0] = 1;
    iv[10] = b'C';
    iv[11] = b'R';
    let (ct, tag) = client.encrypt_gcm(&KEY, &iv, request);
    let mut msg = (0x8000_0000u32 | request.len() as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&1u32.to_be_bytes());
    msg.extend_from_slice(&tag);
    msg.extend_from_slice(&ct);
    let (h, range) = crypto::rtsp::open_in_place(&gcm, Direction::ClientToHost, &mut msg).unwrap();
    assert_eq!(h.seq, 1);
    assert_eq!(&msg[range], &request[..]);
}

#[test]
fn client_decrypts_host_video_packets() {
    let client = ClientCrypto::load();
    let gcm = Aes128Gcm::new(&KEY);
    let packet: Vec<u8> = (0..1404u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut buf = vec![0u8; crypto::video::PREFIX_LEN];
    buf.extend_from_slice(&packet);
    crypto::video::seal_in_place(&gcm, 123_456, 42, &mut buf).unwrap();
    // VideoStream.c: ENC_VIDEO_HEADER { iv[12], frameNumber, tag[16] }, ciphertext after it.
    let tag: [u8; 16] = buf[16..32].try_into().unwrap();
    assert_eq!(u32::from_le_bytes(buf[12..16].try_into().unwrap()), 42);
    let plain =
        client.decrypt(ALGORITHM_AES_GCM, 0, &KEY, &buf[..12], Some(&tag), &buf[32..]).expect("client rejects video");
    assert_eq!(plain, packet);
    // A flipped ciphertext bit is rejected by the client too.
    let mut bad = buf.clone();
    bad[100] ^= 4;
    assert!(client.decrypt(ALGORITHM_AES_GCM, 0, &KEY, &bad[..12], Some(&tag), &bad[32..]).is_none());
}

#[test]
fn client_decrypts_host_audio() {
    let client = ClientCrypto::load();
    for key_id in [-775_962_003i32, 0, i32::MAX, -1] {
        let rik = RemoteInputKey::new(KEY, key_id);
        let audio = AudioCipher::new(&rik);
        for (seq, len) in [(0u16, 1usize), (1, 15), (2, 16), (65535, 200), (4097, 1400)] {
            let opus: Vec<u8> = (0..len).map(|i| (i as u8) ^ (seq as u8)).collect();
            let mut buf = opus.clone();
            buf.resize(crypto::pkcs7_padded_len(len), 0);
            let n = audio.encrypt(seq, &mut buf, len).unwrap();
            // AudioStream.c: avRiKeyId = BE32(first 4 IV bytes); ivSeq = BE32(avRiKeyId + seq) in iv[0..4].
            let av_ri_key_id = u32::from_be_bytes(key_id.to_be_bytes());
            let mut iv = [0u8; 16];
            iv[..4].copy_from_slice(&av_ri_key_id.wrapping_add(u32::from(seq)).to_be_bytes());
            let plain = client
                .decrypt(ALGORITHM_AES_CBC, CIPHER_FLAG_RESET_IV | CIPHER_FLAG_FINISH, &KEY, &iv, None, &buf[..n])
                .expect("client rejects audio");
            assert_eq!(plain, opus, "key id {key_id}, seq {seq}, len {len}");
        }
    }
}
