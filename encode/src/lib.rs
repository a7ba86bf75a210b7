//! lumen-encode: the Encoder trait, the software H.264 encoder and the NVIDIA path.

pub mod gpu;
