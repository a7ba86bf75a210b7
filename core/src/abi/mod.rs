//! The stable C ABI of lumen-core (cbindgen → include/lumen_core.h).
pub mod fec;
pub mod version;
pub mod config;
pub mod receive;
