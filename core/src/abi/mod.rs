//! The stable C ABI of lumen-core (cbindgen → include/lumen_core.h).
pub mod config;
pub mod fec;
pub mod receive;
pub mod version;
