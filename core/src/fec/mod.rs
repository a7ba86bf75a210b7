//! Forward error correction: GF(2⁸) Reed-Solomon compatible with Moonlight clients, and GF(2¹⁶) Leopard.
