//! Crypto of the Moonlight protocol and of the lumen transport.
//!
//! Everything here works in place on caller-owned buffers and allocates nothing, so the per-packet paths
//! (video, audio, control) can use it in steady state.
//!
//! * [`RemoteInputKey`]: the `rikey`/`rikeyid` pair from `/launch` and every IV derived from it.
//! * [`Aes128Gcm`]: AES-128-GCM with a 12-byte IV and a detached 16-byte tag (control v2, encrypted video,
//!   `rtspenc://` RTSP; input travels inside control v2 messages).
//! * [`AudioCipher`]: AES-128-CBC with PKCS#7 padding and the audio IV rule.
//! * [`TransportCipher`]: ChaCha20-Poly1305 for the lumen transport, with our own nonce layout.
//! * [`rtsp`] and [`video`]: the byte framing of encrypted RTSP messages and encrypted video packets.
//!
//! Byte layouts are written down in `docs/control-input.md`.

mod cbc;
mod chacha;
mod error;
mod gcm;
mod key;
pub mod rtsp;
pub mod video;

pub use self::cbc::{pkcs7_padded_len, AudioCipher, CbcCipher};
pub use self::chacha::{TransportCipher, TransportNonce};
pub use self::error::CryptoError;
pub use self::gcm::{Aes128Gcm, GCM_IV_LEN, GCM_TAG_LEN};
pub use self::key::{Direction, IvChannel, RemoteInputKey};
