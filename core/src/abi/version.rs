//! `lumen_abi_version()`: the version of the stable C ABI in `include/lumen_core.h`.
//!
//! Bumped whenever a C-visible signature, struct layout or constant changes incompatibly; additions that
//! old callers cannot observe keep the number.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

/// The C ABI version this library implements.
pub const LUMEN_ABI_VERSION: u32 = 1;

/// Returns [`LUMEN_ABI_VERSION`], so a caller can check the library it loaded matches its header.
#[no_mangle]
pub extern "C" fn lumen_abi_version() -> u32 {
    LUMEN_ABI_VERSION
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_constant() {
        assert_eq!(super::lumen_abi_version(), super::LUMEN_ABI_VERSION);
    }
}
