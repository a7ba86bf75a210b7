//! Forward error correction: GF(2⁸) Reed-Solomon compatible with Moonlight clients, and GF(2¹⁶) Leopard.
//!
//! * [`gf256`]: the nanors construction (field polynomial 0x11D, Cauchy parity matrix) that every stock
//!   Moonlight client decodes video and audio FEC with; ≤ 255 shards per block, parity byte-identical.
//! * [`gf65536`]: Leopard-family GF(2¹⁶) codec (O(n log n)) for the lumen transport; ≤ 65535 shards.
//!
//! Both expose the same shape: `ReedSolomon::{new, encode, reconstruct}` plus a `CodecCache` that builds a
//! codec per (data, parity) shape once, so the per-frame path allocates nothing.

mod error;
pub mod gf256;
pub mod gf65536;

pub use error::FecError;
